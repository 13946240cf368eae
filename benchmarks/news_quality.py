"""Answer quality on the news dev sets (newsdev, quail_news, onestopqa), dev and test halves, via `qa eval`.

Every question of each set is asked once (with its `date` as the as-of date); the per-question results
are then scored on the dev half (what the settings were chosen on) and on the test half (what README
reports). The abstention threshold is fitted with the answer scorer (benchmarks/fit_scorer.py).

    python benchmarks/news_quality.py                  # report dev and test halves
    python benchmarks/news_quality.py --backend onnx   # with another embedding backend (its own indexes)

Writes benchmarks/results/news_quality.txt (news_quality-BACKEND.txt with ``--backend``) and the JSONL
beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "eval" / "data"
RESULTS = ROOT / "benchmarks" / "results"
SETS = ("newsdev", "quail_news", "onestopqa")


def ask_all(name: str, env: dict[str, str], suffix: str) -> Path:
    """Runs `qa eval` over every question of set ``name``; returns the results file."""
    out = RESULTS / "news" / f"{name}{suffix}-results.jsonl"
    command = [sys.executable, "-m", "qa", "eval", "--corpus", str(DATA / name / "corpus.jsonl"),
               "--questions", str(DATA / name / "questions.jsonl"), "--out", str(out), "--split", "all",
               "--index-dir", str(RESULTS / "news" / f"index-{name}{suffix}")]
    subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return out


def scored(name: str, results: Path, split: str) -> list[str]:
    """The summary lines of ``split`` of set ``name``."""
    from qa.interfaces.evaluation import in_split, load_questions, summarize

    questions = {q.id: q for q in load_questions(DATA / name / "questions.jsonl")}
    rows = []
    for line in results.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if in_split(record["id"], split):
            ranking, seen = [], set()
            for hit in record["retrieved"]:
                if hit["doc_id"] not in seen:
                    seen.add(hit["doc_id"])
                    ranking.append({hit["doc_id"]})
            rows.append((questions[record["id"]], record, ranking))
    return summarize(rows).lines()


def main() -> None:
    """Asks every set's questions, then writes the dev and test summaries."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", help="QA_EMBEDDING_BACKEND for this run (default: the configured one)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    (RESULTS / "news").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    suffix = f"-{args.backend}" if args.backend else ""
    if args.backend:
        env["QA_EMBEDDING_BACKEND"] = args.backend
    report = [f"# news answer quality — {platform.machine()} {platform.processor()}, {os.cpu_count()} cores, "
              f"python {platform.python_version()}, embedding backend {args.backend or 'as configured'}"]
    for name in SETS:
        results = ask_all(name, env, suffix)
        for split in ("dev", "test"):
            report += [f"\n## {name}, {split} half", *scored(name, results, split)]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(report)) + "\n"
    print(text)
    (RESULTS / f"news_quality{suffix}.txt").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
