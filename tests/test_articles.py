"""Tests for qa.articles: discovery and the per-format readers."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.articles import (
    SUPPORTED_SUFFIXES,
    ArticleError,
    Discovery,
    FileRead,
    discover,
    read_file,
)
from qa.articles.common import normalise_date

ROOT = Path(__file__).resolve().parents[1]
SEED_NAME = "japantoday-2026-01-30-japan-south-korea-defense.txt"
SEED = next(
    (p for p in (ROOT / "seeds" / SEED_NAME, ROOT.parent / "shared" / "seeds" / SEED_NAME) if p.exists()),
    ROOT / "seeds" / SEED_NAME,
)
DEMO_JSONL = next(
    (
        p
        for p in (ROOT / "seeds" / "wikinews_gum.jsonl", ROOT.parent / "shared" / "demo-corpus" / "wikinews_gum.jsonl")
        if p.exists()
    ),
    ROOT / "seeds" / "wikinews_gum.jsonl",
)


def write(path: Path, content: str | bytes) -> Path:
    """Writes text (UTF-8) or bytes to ``path`` and returns it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_bytes(content.encode("utf-8"))
    else:
        path.write_bytes(content)
    return path


def only(result: FileRead):
    """The single article of a one-article file."""
    assert result.problems == []
    assert len(result.articles) == 1
    return result.articles[0]


def expected_id(path: Path) -> str:
    return hashlib.sha1(str(path.resolve()).encode("utf-8")).hexdigest()[:16]


def make_pdf(lines: list[str], title: str | None = None, created: str | None = None) -> bytes:
    """A minimal valid one-page PDF showing ``lines`` in Helvetica, with a correct xref table."""
    ops = ["BT", "/F1 12 Tf", "72 720 Td"]
    for i, line in enumerate(lines):
        if i:
            ops.append("0 -16 Td")
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"({escaped}) Tj")
    ops.append("ET")
    content = "\n".join(ops).encode("latin-1")
    info = []
    if title:
        info.append(f"/Title ({title})")
    if created:
        info.append(f"/CreationDate ({created})")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ("<< " + " ".join(info) + " >>").encode("latin-1"),
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


# --- the seed format -----------------------------------------------------------------------------


def test_seed_file_parses_into_title_metadata_and_clean_body() -> None:
    article = only(read_file(SEED))
    assert article.title == "Japan, South Korea agree to boost exchanges between defense personnel"
    assert article.date == "2026-01-30"
    assert article.source == "Japan Today"
    assert article.dateline == "YOKOSUKA, Japan"
    assert article.id == expected_id(SEED)
    assert article.source_path == str(SEED.resolve())
    text = article.text
    assert text.startswith("Japanese Defense Minister Shinjiro Koizumi")
    assert text.endswith("support to South Korean military aircraft.")
    for junk in ("Chinese pingpong", "Image:", "Comment", "politics", "( +0 / -1 )", "YOKOSUKA"):
        assert junk not in text
    assert "\n\n\n" not in text and "\r" not in text
    assert text.count("\n\n") == 10  # 11 body paragraphs


SEED_BODY = (
    "First paragraph of the story, about the talks.\n\nSecond paragraph with a quote.\n\nLast paragraph of the story."
)


@pytest.mark.parametrize(
    ("header", "dateline"),
    [
        # caption and section word missing
        ("Leaders meet in Tokyo\n\n3 Comments\nTOKYO\n\n", "TOKYO"),
        # dateline and header comment counter missing
        ("A caption here. Image: Reuters\nnational\n\nLeaders meet in Tokyo\n\n", None),
        # only the headline
        ("Leaders meet in Tokyo\n\n", None),
        # everything present, with a two-part dateline
        (
            "Caption. Image: AP\nworld\nLeaders meet in Tokyo\n1 Comment\nNEW YORK, United States\n",
            "NEW YORK, United States",
        ),
    ],
)
def test_seed_variants(tmp_path: Path, header: str, dateline: str | None) -> None:
    content = (
        " date 2025-12-01  Kyodo News\n"
        + header
        + SEED_BODY
        + "\n\n12 Comments\nSome reader comment here.\n\n3 ( +4 / -1 )\nAnother one.\n-2 ( +0 / -2 )\n"
    )
    path = write(tmp_path / "variant.txt", content.replace("\n", "\r\n"))
    article = only(read_file(path))
    assert article.title == "Leaders meet in Tokyo"
    assert article.date == "2025-12-01"
    assert article.source == "Kyodo News"
    assert article.dateline == dateline
    assert article.text == SEED_BODY


def test_seed_without_trailing_comments_keeps_whole_body(tmp_path: Path) -> None:
    path = write(tmp_path / "s.md", " date 2025-12-01  Japan Today\nHeadline here\n\n" + SEED_BODY)
    article = only(read_file(path))
    assert article.title == "Headline here"
    assert article.text == SEED_BODY


# --- other plain text and markdown ---------------------------------------------------------------


def test_plain_text_with_header_lines(tmp_path: Path) -> None:
    content = (
        "  Council approves new bridge  \r\n"
        "Date: January 30, 2026\r\n"
        "Source: City Gazette\r\n"
        "URL: https://example.com/bridge\r\n"
        "Author: Jane Doe\r\n\r\n"
        "The council voted 7-2 on Tuesday.   \r\n\r\n\r\n\r\n"
        "Work starts in May.\r\n"
    )
    article = only(read_file(write(tmp_path / "bridge.txt", content)))
    assert article.title == "Council approves new bridge"
    assert article.date == "2026-01-30"
    assert article.source == "City Gazette"
    assert article.url == "https://example.com/bridge"
    assert article.author == "Jane Doe"
    assert article.text == "The council voted 7-2 on Tuesday.\n\nWork starts in May."


def test_plain_text_date_falls_back_to_mtime(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "Title\n\nBody text.")
    stamp = datetime(2024, 5, 17, 12, 0).timestamp()
    os.utime(path, (stamp, stamp))
    article = only(read_file(path))
    assert article.date == "2024-05-17"
    assert article.id == expected_id(path)


def test_single_line_file_uses_line_as_title_and_body(tmp_path: Path) -> None:
    article = only(read_file(write(tmp_path / "one.txt", "\n\n  Just one line.  \n")))
    assert article.title == "Just one line."
    assert article.text == "Just one line."


def test_long_first_line_is_not_a_title(tmp_path: Path) -> None:
    paragraph = "This opening paragraph is long. " * 12
    article = only(read_file(write(tmp_path / "long.txt", paragraph + "\n\nSecond.")))
    assert article.title == "This opening paragraph is long."
    assert article.text.startswith("This opening paragraph is long.")


def test_markdown_markup_is_removed(tmp_path: Path) -> None:
    content = (
        "# Storm hits the **coast**\n\n"
        "Date: 2026-01-05T08:00:00Z\n\n"
        "A *powerful* storm hit [the coast](https://example.com/coast) on Monday.\n\n"
        "![radar](radar.png)\n\n"
        "---\n\n"
        "## Aftermath\n\n"
        "> Repairs take a `week`, officials said.\n"
    )
    article = only(read_file(write(tmp_path / "storm.md", content)))
    assert article.title == "Storm hits the coast"
    assert article.date == "2026-01-05"
    assert article.text == (
        "A powerful storm hit the coast on Monday.\n\nAftermath\n\nRepairs take a week, officials said."
    )


def test_markdown_front_matter(tmp_path: Path) -> None:
    content = '---\ntitle: "Front title"\ndate: 2026-02-03\nsource: Blog\n---\n\nBody **here**.\n'
    article = only(read_file(write(tmp_path / "fm.md", content)))
    assert (article.title, article.date, article.source) == ("Front title", "2026-02-03", "Blog")
    assert article.text == "Body here."


# --- html ----------------------------------------------------------------------------------------

HTML_PAGE = """<!DOCTYPE html>
<html><head>
<title>Council approves bridge | City Gazette</title>
<meta name="author" content="Jane Doe">
<meta property="og:site_name" content="City Gazette">
<meta property="article:published_time" content="2026-01-30T10:00:00Z">
<link rel="canonical" href="https://example.com/news/bridge">
<script>var tracker = "SCRIPT_SECRET";</script>
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/sports">Sports section</a></li></ul></nav>
<article>
<h1>Council approves bridge</h1>
<p>The city council voted on Tuesday to build a new bridge across the river, officials said.</p>
<p>The bridge will cost 40 million dollars and take three years to build, according to the plan.</p>
<script>document.write("INLINE_SCRIPT_TEXT")</script>
</article>
<footer>Copyright 2026 City Gazette. All rights reserved. Privacy policy.</footer>
</body></html>"""


def test_html_main_text_and_metadata(tmp_path: Path) -> None:
    article = only(read_file(write(tmp_path / "page.html", HTML_PAGE)))
    assert article.title == "Council approves bridge"
    assert article.text == (
        "The city council voted on Tuesday to build a new bridge across the river, officials "
        "said.\n\nThe bridge will cost 40 million dollars and take three years to build, "
        "according to the plan."
    )
    assert (article.date, article.source, article.author) == ("2026-01-30", "City Gazette", "Jane Doe")
    assert article.url == "https://example.com/news/bridge"
    for junk in ("SCRIPT_SECRET", "INLINE_SCRIPT_TEXT", "Sports section", "Copyright", "Privacy"):
        assert junk not in article.text


def test_html_fragment_and_declared_charset(tmp_path: Path) -> None:
    html = (
        '<meta charset="windows-1252"><p>Le café du coin a fermé ses portes '
        "après quarante ans, selon le propriétaire.</p>"
    ).encode("cp1252")
    article = only(read_file(write(tmp_path / "frag.htm", html)))
    assert "café du coin" in article.text


@pytest.mark.parametrize(
    "html",
    [
        "<html><head><title>T</title></head><body><nav><a href='/'>Home</a> <a href='/w'>World</a>"
        "</nav><footer>Copyright 2026</footer><script>var x = 1;</script></body></html>",
        "<html><head><title>Only a title</title></head><body></body></html>",
    ],
)
def test_html_without_main_text(tmp_path: Path, html: str) -> None:
    with pytest.raises(ArticleError, match="no main text found in HTML"):
        read_file(write(tmp_path / "empty.html", html))


# --- json / jsonl --------------------------------------------------------------------------------


def test_jsonl_good_broken_wrong_types_and_duplicates(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "a", "title": "First", "text": "Alpha text.", "date": "2026-01-30"}),
        json.dumps({"id": 7, "text": "Numeric id text. More here.", "date": "not a date"}),
        "",
        '{"id": "b", "text": "broken',
        json.dumps({"id": "c", "text": 42}),
        json.dumps({"id": "d", "text": "Dict title.", "title": {"x": 1}}),
        json.dumps({"title": "No text"}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"id": "a", "text": "Duplicate of the first."}),
        json.dumps(
            {
                "text": "No id here.\r\n\r\n\r\nSecond para.",
                "url": "https://x.org/1",
                "source": "X",
                "author": ["A. One", "B. Two"],
                "license": "CC0",
            }
        ),
        "   ",
    ]
    path = write(tmp_path / "mixed.jsonl", "\n".join(lines) + "\n")
    result = read_file(path)
    assert [a.id for a in result.articles] == ["a", "7", f"{expected_id(path)}-9"]
    first, second, third = result.articles
    assert (first.title, first.date, first.source_path) == ("First", "2026-01-30", str(path.resolve()))
    assert (second.title, second.date) == ("Numeric id text.", None)
    assert third.text == "No id here.\n\nSecond para."
    assert (third.url, third.source, third.author, third.license) == ("https://x.org/1", "X", "A. One, B. Two", "CC0")
    assert len(result.problems) == 6
    problems = "\n".join(result.problems)
    assert result.problems[0].startswith("line 4: invalid JSON (")
    assert "line 5: field 'text' must be a string, got int" in problems
    assert "line 6: field 'title' must be a string, got object" in problems
    assert "line 7: missing required field 'text'" in problems
    assert "line 8: expected a JSON object, got array" in problems
    assert "line 9: duplicate id 'a' (first on line 1)" in problems


def test_jsonl_without_usable_records(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.jsonl", '{"text": \n{"text": [1]}\n')
    with pytest.raises(
        ArticleError,
        match=r"^no usable records: line 1: invalid JSON .*line 2: "
        r"field 'text' must be a string, got array",
    ):
        read_file(path)


def test_json_list_object_and_wrapper(tmp_path: Path) -> None:
    records = [{"title": "One", "text": "First body."}, {"text": "Second body."}, {"text": ""}]
    path = write(tmp_path / "list.json", json.dumps(records))
    result = read_file(path)
    assert [a.id for a in result.articles] == [f"{expected_id(path)}-0", f"{expected_id(path)}-1"]
    assert result.articles[1].title == "Second body."
    assert result.problems == ["record 2: field 'text' is empty"]

    single = write(tmp_path / "one.json", json.dumps({"text": "Solo.", "date": "March 3, 2025"}))
    article = only(read_file(single))
    assert (article.id, article.date) == (expected_id(single), "2025-03-03")

    wrapped = write(tmp_path / "wrap.json", json.dumps({"articles": [{"id": 5, "text": "W."}]}))
    assert only(read_file(wrapped)).id == "5"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "x",}', r"invalid JSON: .*\(line 1, column"),
        ("[]", "no usable records: the JSON list is empty"),
        ("42", "expected a JSON object or a list of objects, got int"),
        ('{"title": "t"}', "no usable records: missing required field 'text'"),
    ],
)
def test_json_errors(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(ArticleError, match=message):
        read_file(write(tmp_path / "bad.json", content))


def test_demo_corpus_jsonl() -> None:
    result = read_file(DEMO_JSONL)
    assert result.problems == []
    assert len(result.articles) == 43
    ids = [a.id for a in result.articles]
    assert len(set(ids)) == 43 and "GUM_interview_ants" in ids
    for article in result.articles:
        assert len(article.date or "") == 10 and article.date == normalise_date(article.date)
        assert article.source == "Wikinews"
        assert article.url and article.url.startswith("https://en.wikinews.org/")
        assert article.license == "CC BY 2.5"
        assert article.title and article.text == article.text.strip()


# --- pdf -----------------------------------------------------------------------------------------


def test_pdf_with_text(tmp_path: Path) -> None:
    pdf = make_pdf(
        ["Bridge vote passes", "The council approved the bridge (7-2)."],
        title="Council news",
        created="D:20260130101500+09'00'",
    )
    article = only(read_file(write(tmp_path / "doc.pdf", pdf)))
    assert article.title == "Council news"
    assert article.date == "2026-01-30"
    assert "Bridge vote passes" in article.text
    assert "The council approved the bridge (7-2)." in article.text


def test_pdf_title_from_first_line(tmp_path: Path) -> None:
    article = only(read_file(write(tmp_path / "notitle.pdf", make_pdf(["Headline", "Body."]))))
    assert article.title == "Headline"


def test_broken_pdf(tmp_path: Path) -> None:
    with pytest.raises(ArticleError, match=r"^not a readable PDF: "):
        read_file(write(tmp_path / "broken.pdf", b"%PDF-1.4 garbage"))


def _blank_pdf(user_password: str | None) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    if user_password is not None:
        writer.encrypt(user_password, owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_encrypted_pdf(tmp_path: Path) -> None:
    with pytest.raises(ArticleError, match=r"^encrypted PDF"):
        read_file(write(tmp_path / "locked.pdf", _blank_pdf("pw")))


@pytest.mark.parametrize("password", [None, ""])
def test_pdf_without_text(tmp_path: Path, password: str | None) -> None:
    # An empty user password opens the file, so we get as far as finding no text.
    with pytest.raises(ArticleError, match=r"PDF has no extractable text \(scanned image\?\)"):
        read_file(write(tmp_path / "blank.pdf", _blank_pdf(password)))


# --- file-level failures and decoding ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.txt", b"", r"^empty file \(0 bytes\)$"),
        ("blank.md", b" \n\t\r\n  ", "^file contains only whitespace$"),
        ("blank.json", "\u3000\n\u00a0".encode(), "^file contains only whitespace$"),
        ("bin.txt", bytes(range(256)) * 4, "^binary content, not text"),
        ("ctl.jsonl", b"\x01\x02\x03\x04abc" * 20, "^binary content, not text"),
        ("notes.docx", b"PK\x03\x04", r"^unsupported file type '\.docx'"),
        ("hi.pdf", b"   \n", "^file contains only whitespace$"),
    ],
)
def test_unusable_files(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    with pytest.raises(ArticleError, match=message):
        read_file(write(tmp_path / name, content))


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ArticleError, match="file not found"):
        read_file(tmp_path / "gone.txt")
    with pytest.raises(ArticleError, match="is a directory"):
        read_file(tmp_path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_permission_denied(tmp_path: Path) -> None:
    path = write(tmp_path / "secret.txt", "Title\n\nBody.")
    path.chmod(0)
    try:
        with pytest.raises(ArticleError, match="permission denied"):
            read_file(path)
    finally:
        path.chmod(0o644)


def test_oversized_file(tmp_path: Path) -> None:
    path = write(tmp_path / "big.txt", "Title\n\n" + "x" * 2000)
    with pytest.raises(
        ArticleError,
        match=r"^file too large: 2\.0 KB \(2007 bytes\) exceeds the "
        r"limit of 1\.0 KB \(1024 bytes\)",
    ):
        read_file(path, max_bytes=1024)
    assert only(read_file(path, max_bytes=4096)).title == "Title"


def test_latin1_and_bom_decoding(tmp_path: Path) -> None:
    cp1252 = write(tmp_path / "cafe.txt", "Café news\n\nThe café “reopened” – at last.".encode("cp1252"))
    article = only(read_file(cp1252))
    assert article.title == "Café news"
    assert article.text == "The café “reopened” – at last."
    bom = write(tmp_path / "bom.txt", b"\xef\xbb\xbfTitle\r\rBody \xc3\xa9.")
    article = only(read_file(bom))
    assert (article.title, article.text) == ("Title", "Body é.")


def test_unexpected_parser_errors_become_article_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import qa.articles as articles

    def boom(path: Path, text: str) -> None:
        raise KeyError("internal parser bug")

    monkeypatch.setattr(articles, "read_json", boom)
    with pytest.raises(ArticleError, match="could not parse file: KeyError"):
        read_file(write(tmp_path / "x.json", '{"text": "t"}'))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-30", "2026-01-30"),
        ("2026-01-30T10:00:00Z", "2026-01-30"),
        ("2026-01-30 10:00:00+09:00", "2026-01-30"),
        ("January 30, 2026", "2026-01-30"),
        ("Jan. 30, 2026", "2026-01-30"),
        ("Friday, January 30, 2026", "2026-01-30"),
        ("30 January 2026", "2026-01-30"),
        ("Fri, 30 Jan 2026 10:00:00 +0900", "2026-01-30"),
        ("D:20260130101500Z", "2026-01-30"),
        ("2026/01/30", "2026-01-30"),
        ("2026-02-30", None),
        ("yesterday", None),
        ("", None),
        (20260130, None),
    ],
)
def test_normalise_date(value: object, expected: str | None) -> None:
    assert normalise_date(value) == expected


# --- discovery -----------------------------------------------------------------------------------


def test_discover_expands_folders_and_reports_skips(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    b = write(corpus / "b.txt", "B")
    a = write(corpus / "sub" / "a.MD", "A")
    c = write(corpus / "sub" / "deeper" / "c.jsonl", "{}")
    write(corpus / ".hidden.txt", "secret")
    write(corpus / ".git" / "notes.txt", "secret")
    photo = write(corpus / "photo.jpg", b"\xff\xd8")
    os.symlink(corpus / "sub", corpus / "loop-free-link")  # the same folder by a second route
    os.symlink(corpus, corpus / "sub" / "back-to-top")  # a loop
    missing = tmp_path / "nope"

    found = discover([corpus, b, missing, str(c)])
    assert isinstance(found, Discovery)
    assert found.files == sorted(found.files)
    assert {p.resolve() for p in found.files} == {a.resolve(), b.resolve(), c.resolve()}
    assert len(found.files) == 3
    assert not any(part.startswith(".") for p in found.files for part in p.parts[-2:])
    reasons = dict(found.skipped)
    assert reasons[missing] == "path does not exist"
    assert reasons[photo].startswith("unsupported file type '.jpg'")
    loops = [p for p, reason in found.skipped if reason.startswith("symlink loop")]
    assert loops and all(p.name == "back-to-top" for p in loops)


def test_discover_self_symlink_and_broken_link(tmp_path: Path) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    os.symlink(folder / "self", folder / "self")  # ELOOP when followed
    os.symlink(folder / "missing.txt", folder / "dangling.txt")
    os.symlink(folder, folder / "me")
    write(folder / "ok.htm", "<p>x</p>")
    found = discover([folder, folder / "self"])
    assert [p.name for p in found.files] == ["ok.htm"]
    reasons = {p.name: r for p, r in found.skipped}
    assert reasons["self"].startswith("symlink loop")
    assert reasons["me"].startswith("symlink loop")
    assert reasons["dangling.txt"].startswith("broken symlink")


def test_supported_suffixes() -> None:
    expected = {".txt", ".md", ".html", ".htm", ".jsonl", ".json", ".pdf"}
    assert expected == SUPPORTED_SUFFIXES


# --- property ------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=400), suffix=st.sampled_from([".txt", ".md"]))
def test_any_text_reads_cleanly_or_raises_article_error(text: str, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"prop{suffix}"
        path.write_bytes(text.encode("utf-8"))
        try:
            result = read_file(path)
        except ArticleError as exc:
            assert str(exc)
            return
        assert result.articles
        for article in result.articles:
            assert article.text and article.title
            assert "\r" not in article.text and "\r" not in article.title
            assert article.text == article.text.strip()
            assert "\n\n\n" not in article.text
