"""The `qa` command without traps (issue 21 findings 4, 9, 12; issue 24's CLI traps): removals that ask
before taking many articles, bounded `-k`, `--ray` as a plain flag, `qa eval` on an index of its own, every
date option checked, one "error: …" line for the collection's errors, the same options everywhere."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import qa.interfaces.cli
from qa.config import Config
from qa.ingest.pipeline import Ingestor
from qa.interfaces.cli import main
from qa.storage.collection import Collection
from tests.conftest import ROOT, SEED, SEED_TITLE, small_corpus


def _qa(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def _articles(data: Path) -> int:
    collection = Collection(Config.load(env={}, data_dir=data))
    try:
        return collection.stats().articles
    finally:
        collection.close()


@pytest.fixture
def collection_dir(tmp_path: Path) -> tuple[Path, Path]:
    """A fresh collection of :func:`small_corpus` (4 articles, 3 of them from extra.jsonl): (data, corpus)."""
    data, corpus = tmp_path / "data", small_corpus(tmp_path / "corpus")
    collection = Collection(Config.load(env={}, data_dir=data))
    Ingestor(collection).ingest([corpus])
    collection.close()
    return data, corpus


# --- qa remove (finding 4) ------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["", "   ", "\t"])
def test_remove_refuses_an_empty_or_blank_target(collection_dir, monkeypatch, target: str) -> None:
    """Before: "" resolved to the current folder and removed every article under it, exit 0."""
    data, corpus = collection_dir
    monkeypatch.chdir(corpus)  # where "" would point
    result = _qa("--data-dir", str(data), "remove", target)
    assert result.exit_code == 2 and "it is empty" in result.output
    assert _articles(data) == 4


def test_removing_several_articles_from_a_path_lists_them_and_needs_yes(collection_dir) -> None:
    data, corpus = collection_dir
    result = _qa("--data-dir", str(data), "remove", str(corpus))
    assert result.exit_code == 1, result.output
    assert "names 4 article(s)" in result.output and "would remove   Village bakery wins" in result.output
    assert "nothing removed" in result.output and "--yes" in result.output
    assert _articles(data) == 4

    dry = _qa("--data-dir", str(data), "remove", "--dry-run", str(corpus / "extra.jsonl"))
    assert dry.exit_code == 0 and "names 3 article(s)" in dry.output and "removed 3" not in dry.output
    assert _articles(data) == 4

    one = _qa("--data-dir", str(data), "remove", str(corpus / SEED.name))  # one article: no question
    assert one.exit_code == 0 and f"removed   {SEED_TITLE}" in one.output and _articles(data) == 3

    confirmed = _qa("--data-dir", str(data), "remove", "--yes", str(corpus))
    assert confirmed.exit_code == 0 and "removed 3 article(s)" in confirmed.output and _articles(data) == 0


def _answer_prompt(args: list[str], answer: bytes, timeout: float = 240.0) -> tuple[int, str]:
    """Runs `python -m qa ARGS` with a terminal as stdin; answers its prompt with ``answer``."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "qa", *args], cwd=ROOT, stdin=follower,
                               stdout=subprocess.PIPE, stderr=follower, text=False)
    os.close(follower)
    seen, deadline = b"", time.monotonic() + timeout
    while b"[y/N]" not in seen and time.monotonic() < deadline and process.poll() is None:
        if select.select([leader], [], [], 1.0)[0]:
            seen += os.read(leader, 4096)
    os.write(leader, answer)
    stdout, _ = process.communicate(timeout=timeout)
    os.close(leader)
    return process.returncode, seen.decode(errors="replace") + stdout.decode(errors="replace")


def test_on_a_terminal_removing_several_articles_asks_first(collection_dir) -> None:
    data, corpus = collection_dir
    code, output = _answer_prompt(["--data-dir", str(data), "remove", str(corpus / "extra.jsonl")], b"y\n")
    assert "Remove these 3 articles? [y/N]" in output
    assert code == 0 and "removed 3 article(s)" in output and _articles(data) == 1


def test_page_and_api_removals_take_ids_only(collection_dir) -> None:
    """The page and the API remove through Library.remove: a path is never resolved on the server, not even
    when the id's article vanished between its check and the removal (``ids_only``)."""
    from qa.interfaces.ui.library import Library

    data, corpus = collection_dir
    config = Config.load(env={}, data_dir=data)
    collection = Collection(config)
    try:
        with pytest.raises(KeyError):
            Library(collection, config).remove(str(corpus))
        assert Ingestor(collection).remove(str(corpus), ids_only=True) == []
        assert collection.stats().articles == 4
        assert Library(collection, config).remove("comet") == ["Amateur astronomer spots new comet"]
    finally:
        collection.close()


# --- qa search -k (finding 12) --------------------------------------------------------------------
@pytest.mark.parametrize("k", ["0", "-1", "101"])
def test_search_k_outside_one_to_the_maximum_is_a_usage_error(built_collection, k: str) -> None:
    """Before: -k 0 printed "No matching passages." and -k -1 returned hits, both exit 0."""
    result = _qa("--data-dir", str(built_collection.config.data_dir), "search", "bread", "-k", k)
    assert result.exit_code == 2 and f"{k} is not between 1 and 100" in result.output


def test_the_search_maximum_is_one_setting(built_collection) -> None:
    data = str(built_collection.config.data_dir)
    result = _qa("--data-dir", data, "search", "bread", "-k", "3", "--json", env={"QA_MAX_TOP_K": "2"})
    assert result.exit_code == 2 and "3 is not between 1 and 2" in result.output
    hits = json.loads(_qa("--data-dir", data, "search", "bread", "-k", "100", "--json").output)
    assert 1 <= len(hits) <= 100


def test_the_api_search_limit_is_the_same_setting(app_server) -> None:
    import urllib.error
    import urllib.request

    limit = app_server.config.max_top_k
    with urllib.request.urlopen(f"{app_server.url}api/search?q=bread&k={limit}", timeout=60) as response:
        assert response.status == 200
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{app_server.url}api/search?q=bread&k={limit + 1}", timeout=60)
    assert 400 <= refused.value.code < 500


# --- qa ingest --ray (finding 9, issue 24) ---------------------------------------------------------
def test_ray_is_a_plain_flag_so_paths_may_follow_it(tmp_path: Path) -> None:
    """Before: `--ray PATH OTHER` took PATH for a Ray address ("Invalid address format", a traceback)."""
    corpus = small_corpus(tmp_path / "corpus")
    data = tmp_path / "data"
    result = _qa("--data-dir", str(data), "ingest", "--ray", str(corpus / SEED.name), str(corpus / "extra.jsonl"))
    assert result.exit_code == 0, result.output
    assert "added 4," in result.output and _articles(data) == 4


def test_a_bad_ray_address_is_one_error_line(tmp_path: Path) -> None:
    corpus = small_corpus(tmp_path / "corpus")
    for args, env in ((["--ray-address", "not-an-address"], {}), (["--ray"], {"QA_RAY_ADDRESS": "not-an-address"})):
        result = _qa("--data-dir", str(tmp_path / "data"), "ingest", *args, str(corpus), env=env)
        assert result.exit_code == 1
        assert "error: could not start or reach the Ray cluster at 'not-an-address'" in result.output
        assert "Traceback" not in result.output and _articles(tmp_path / "data") == 0


def test_the_old_ray_address_spelling_is_refused_with_the_new_one(tmp_path: Path) -> None:
    corpus = small_corpus(tmp_path / "corpus")
    result = _qa("--data-dir", str(tmp_path / "data"), "ingest", "--ray", "ray://head:10001", str(corpus))
    assert result.exit_code == 2 and "looks like a Ray address" in result.output and "--ray-address" in result.output


# --- qa eval (issue 24) ----------------------------------------------------------------------------
def _eval_files(tmp_path: Path) -> tuple[Path, Path]:
    corpus = tmp_path / "eval-corpus.jsonl"
    corpus.write_text(json.dumps({"id": "d1", "title": "Tides", "text": "The tide at Brest rose by four metres "
                                  "on Sunday. Harbour staff closed the lower quay."}) + "\n")
    questions = tmp_path / "questions.jsonl"
    questions.write_text(json.dumps({"id": "q1", "question": "How much did the tide at Brest rise?",
                                     "answers": ["four metres"], "doc_ids": ["d1"]}) + "\n")
    return corpus, questions


def test_eval_never_writes_to_the_configured_data_dir(collection_dir, tmp_path: Path) -> None:
    """Before: with --data-dir or QA_DATA_DIR set, the corpus was ingested into that collection (4 -> 5)."""
    data, _ = collection_dir
    corpus, questions = _eval_files(tmp_path)
    before = sorted(p.name for p in data.iterdir())
    for args, env in ((["--data-dir", str(data)], {}), ([], {"QA_DATA_DIR": str(data)})):
        result = _qa(*args, "eval", "--corpus", str(corpus), "--questions", str(questions),
                     "--out", str(tmp_path / "out.jsonl"), env=env)
        assert result.exit_code == 0, result.output
        assert "hit@1 100.0%" in result.output
        assert _articles(data) == 4 and sorted(p.name for p in data.iterdir()) == before

    kept = tmp_path / "eval-index"
    for _ in range(2):  # an explicit --index-dir is kept and reused
        result = _qa("--data-dir", str(data), "eval", "--corpus", str(corpus), "--questions", str(questions),
                     "--out", str(tmp_path / "out.jsonl"), "--index-dir", str(kept))
        assert result.exit_code == 0 and _articles(kept) == 1
    assert "added 0, updated 0, unchanged 1" in result.output

    refused = _qa("--data-dir", str(data), "eval", "--corpus", str(corpus), "--questions", str(questions),
                  "--out", str(tmp_path / "out.jsonl"), "--index-dir", str(data))
    assert refused.exit_code == 2 and "the collection's data dir" in refused.output and _articles(data) == 4


# --- dates (issue 24) ------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["search", "ask"])
@pytest.mark.parametrize("option", ["--since", "--until", "--as-of"])
def test_every_date_option_is_checked(built_collection, command: str, option: str) -> None:
    """Before: `search --since not-a-date` exited 0, the filter quietly ignored; search had no --as-of."""
    for bad in ("not-a-date", "2024-02-30"):
        result = _qa("--data-dir", str(built_collection.config.data_dir), command, "bread", option, bad)
        assert result.exit_code == 2 and f"'{bad}' is not a date like 2022-06-16" in result.output


def test_since_after_until_is_a_usage_error(built_collection) -> None:
    result = _qa("--data-dir", str(built_collection.config.data_dir), "search", "bread",
                 "--since", "2025-01-01", "--until", "2024-01-01")
    assert result.exit_code == 2 and "--since 2025-01-01 is after --until 2024-01-01" in result.output


def test_search_as_of_leaves_out_later_articles(built_collection) -> None:
    data = str(built_collection.config.data_dir)
    question = "amateur astronomer new comet telescope"
    hits = json.loads(_qa("--data-dir", data, "search", question, "--json").output)
    assert hits[0]["article_id"] == "comet"  # dated 2025-11-20
    earlier = _qa("--data-dir", data, "search", question, "--json", "--as-of", "2025-01-01")
    assert earlier.exit_code == 0
    assert all(h["article_id"] != "comet" and (h["date"] or "") <= "2025-01-01" for h in json.loads(earlier.output))


# --- one error line (issue 24) ---------------------------------------------------------------------
@pytest.fixture
def damaged_dir(built_collection, tmp_path: Path) -> Path:
    """A copy of the built collection with its vector file cut in half."""
    data = tmp_path / "damaged"
    shutil.copytree(built_collection.config.data_dir, data, ignore=shutil.ignore_patterns("*.lock"))
    vectors = next(data.glob("vectors.*.delta.npz"))
    vectors.write_bytes(vectors.read_bytes()[: vectors.stat().st_size // 2])
    return data


@pytest.mark.parametrize("args", [["ask", "Which bread?"], ["search", "bread"], ["stats"], ["check"],
                                  ["compact"], ["remove", "comet"], ["ingest", str(SEED)]])
def test_a_damaged_collection_is_one_error_line(damaged_dir: Path, args: list[str]) -> None:
    """Before: `ask` caught only CollectionError, and a damaged vector file printed a traceback."""
    result = _qa("--data-dir", str(damaged_dir), *args)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("error: ") and "qa rebuild" in lines[-1] and "Traceback" not in result.output


def test_verbose_shows_the_traceback_too(damaged_dir: Path) -> None:
    result = _qa("--data-dir", str(damaged_dir), "-v", "ask", "Which bread?")
    assert result.exit_code == 1 and "Traceback (most recent call last)" in result.output
    assert "IndexFileError" in result.output and result.output.strip().splitlines()[-1].startswith("error: ")


def test_rebuild_failures_show_their_traceback_with_verbose(collection_dir, tmp_path: Path) -> None:
    """Before: rebuild caught every exception and printed one line, even with -v."""
    data, _ = collection_dir
    missing_model = str(tmp_path / "no-such-model")
    quiet = _qa("--data-dir", str(data), "--embedding-model", missing_model, "rebuild")
    assert quiet.exit_code == 1 and "Traceback" not in quiet.output
    assert "error: " in quiet.output and "the collection is as it was before the rebuild" in quiet.output
    loud = _qa("--data-dir", str(data), "--embedding-model", missing_model, "-v", "rebuild")
    assert loud.exit_code == 1 and "Traceback (most recent call last)" in loud.output
    assert _articles(data) == 4


# --- the same options everywhere, every command listed (issue 24) ----------------------------------
def test_format_and_json_mean_the_same_on_ask_and_search(built_collection) -> None:
    data = str(built_collection.config.data_dir)
    for command, text in (("search", "Village bakery wins national bread prize"), ("ask", "Which bread?")):
        as_json = _qa("--data-dir", data, command, text, "--json")
        as_format = _qa("--data-dir", data, command, text, "--format", "json")
        assert as_json.exit_code == as_format.exit_code == 0
        assert json.loads(as_json.output) == _without_timings(json.loads(as_format.output), as_json.output)
        clash = _qa("--data-dir", data, command, text, "--json", "--format", "text")
        assert clash.exit_code == 2 and "--json and --format text" in clash.output


def _without_timings(value: object, other: str) -> object:
    """``value`` with the timings of an answer taken from ``other`` (they differ between two runs)."""
    if isinstance(value, dict) and "timings_ms" in value:
        return {**value, "timings_ms": json.loads(other)["timings_ms"]}
    return value


def test_help_and_module_docstring_list_every_command() -> None:
    listed = _qa("--help").output
    for name in main.commands:
        assert f"\n  {name} " in listed and name in (qa.interfaces.cli.__doc__ or "")
    assert "compact" in main.commands


def test_a_bounded_removal_counts_under_the_write_lock_and_removes_nothing_when_over(collection_dir) -> None:
    """What `qa remove` without --yes relies on: the count is taken where the removal happens."""
    from qa.ingest.pipeline import RemovalTooLarge

    data, corpus = collection_dir
    collection = Collection(Config.load(env={}, data_dir=data))
    try:
        with pytest.raises(RemovalTooLarge) as large:
            Ingestor(collection).remove(str(corpus), most=3)
        assert len(large.value.removal.titles) == 4 and collection.stats().articles == 4
        assert Ingestor(collection).remove(str(corpus), most=4) and collection.stats().articles == 0
    finally:
        collection.close()
