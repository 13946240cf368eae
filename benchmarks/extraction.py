"""Extraction quality: each newsdev article rendered as a news site serves it (navigation menu, related links,
reader comments, a cookie footer), fetched from a local server and extracted by `qa.sources`; how many of the
article's sentences survive, and whether any of the added boilerplate does.

    python benchmarks/extraction.py            # writes benchmarks/results/extraction.txt

A sentence counts as kept when it appears in the extracted text (whitespace folded). Target (issue 23):
at least 98 % of the sentences kept, none of the boilerplate.
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
NEWSDEV = ROOT.parent / "shared" / "eval" / "data" / "newsdev" / "corpus.jsonl"
RESULTS = ROOT / "benchmarks" / "results" / "extraction.txt"

from qa.config import Config  # noqa: E402
from qa.sources.extract import extract  # noqa: E402
from qa.sources.fetch import Fetcher  # noqa: E402
from qa.text.sentences import split_sentences  # noqa: E402
from tests.news_site import NewsSite, Route  # noqa: E402

MENU = ["Home", "World news", "Business desk", "Sport results", "Weather forecast", "Subscribe today"]
RELATED = ["Related: Ten cheap weekend trips you will love", "Related: Why your cat ignores you, explained"]
COMMENTS = ["Reader comment: This is the worst reporting I have seen all year.",
            "Reader comment: Totally agree with the previous poster about this."]
FOOTER = "Copyright Example Gazette Ltd. Cookie settings. Privacy policy. Terms of use."
BOILERPLATE = [*MENU[1:], *RELATED, *COMMENTS, "Cookie settings"]


def page(record: dict) -> bytes:
    """The article as a news page with menus, related links, comments and a footer around it."""
    paragraphs = "".join(f"<p>{html.escape(p.strip())}</p>" for p in record["text"].split("\n") if p.strip())
    menu = "".join(f'<li><a href="/{i}">{html.escape(m)}</a></li>' for i, m in enumerate(MENU))
    related = "".join(f'<li><a href="/r{i}">{html.escape(r)}</a></li>' for i, r in enumerate(RELATED))
    comments = "".join(f'<div class="comment"><p>{html.escape(c)}</p></div>' for c in COMMENTS)
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(record["title"])}</title>'
            f'<meta property="og:site_name" content="Example Gazette"></head><body><header><nav><ul>{menu}</ul>'
            f'</nav></header><main><article><h1>{html.escape(record["title"])}</h1>{paragraphs}</article>'
            f'<aside class="related"><h2>Related stories</h2><ul>{related}</ul></aside>'
            f'<section id="comments"><h2>Comments</h2>{comments}</section></main>'
            f"<footer><p>{FOOTER}</p></footer></body></html>").encode()


def folded(text: str) -> str:
    return " ".join(text.split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=NEWSDEV)
    args = parser.parse_args()
    records = [json.loads(line) for line in args.corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    kept = total = leaked_pages = failed = 0
    worst: list[tuple[float, str]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch, NewsSite() as site:
        config = dataclasses.replace(Config.load(env={}, data_dir=Path(scratch)), allow_private_urls=True,
                                     fetch_host_interval_s=0.0)
        with Fetcher(config) as fetcher:
            for number, record in enumerate(records):
                site.routes[f"/a/{number}"] = Route(page(record))
                try:
                    article = extract(fetcher.get(site.url(f"/a/{number}")), Path(scratch), fetcher.max_bytes)
                except Exception as error:  # reported, counted as nothing kept
                    print(f"{record['id']}: {error}", file=sys.stderr)
                    failed += 1
                    article = None
                text = folded(article.text) if article else ""
                sentences = [folded(s.text) for s in split_sentences(record["text"]) if s.text.strip()]
                hits = sum(1 for s in sentences if s in text)
                kept, total = kept + hits, total + len(sentences)
                leaked_pages += any(b in text for b in BOILERPLATE)
                if sentences and hits < len(sentences):
                    worst.append((hits / len(sentences), record["id"]))
    seconds = time.perf_counter() - started
    lines = [f"extraction quality on {args.corpus.name} ({len(records)} articles as news pages with a menu, related "
             "links, reader comments and a footer; trafilatura via qa.sources.extract)",
             f"sentences kept: {kept}/{total} = {100 * kept / max(total, 1):.2f} % (target >= 98 %)",
             f"pages with any added boilerplate in the text: {leaked_pages} of {len(records)} (target 0)",
             f"pages that failed to extract: {failed}",
             f"articles with a sentence lost: {len(worst)}" + ("; lowest: " + ", ".join(
                 f"{rid} {share:.0%}" for share, rid in sorted(worst)[:5]) if worst else ""),
             f"time: {seconds:.1f} s ({1000 * seconds / max(len(records), 1):.0f} ms a page, fetch included)"]
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
