"""Answer quality on the news dev sets (newsdev, quail_news, onestopqa), dev and test halves, via `qa eval`.

Every question of each set is asked once (with its `date` as the as-of date); the per-question results
are then scored on the dev half (what the settings were chosen on) and on the test half (what README
reports). `--calibrate` asks with abstention off and sweeps the threshold over the dev halves.

    python benchmarks/news_quality.py              # report dev and test halves
    python benchmarks/news_quality.py --calibrate  # choose the abstention threshold on the dev halves

Writes benchmarks/results/news_quality.txt (or news_quality-calibration.txt) and the JSONL beside it.
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
THRESHOLDS = [t / 2 for t in range(-16, 9)]


def ask_all(name: str, env: dict[str, str], suffix: str) -> Path:
    """Runs `qa eval` over every question of set ``name``; returns the results file."""
    out = RESULTS / "news" / f"{name}{suffix}-results.jsonl"
    command = [sys.executable, "-m", "qa", "eval", "--corpus", str(DATA / name / "corpus.jsonl"),
               "--questions", str(DATA / name / "questions.jsonl"), "--out", str(out), "--split", "all",
               "--index-dir", str(RESULTS / "news" / f"index-{name}")]
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


def calibration(name: str, results: Path) -> list[str]:
    """Abstention and gold citations on the dev half at each threshold over the recorded confidences."""
    from qa.interfaces.evaluation import contains, in_split, load_questions

    questions = {q.id: q for q in load_questions(DATA / name / "questions.jsonl")}
    records = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    records = [r for r in records if in_split(r["id"], "dev")]
    answerable = [r for r in records if questions[r["id"]].answerable]
    unanswerable = [r for r in records if not questions[r["id"]].answerable]
    lines = [f"{'threshold':>9}  {'gold citation':>13}  {'abstain answerable':>18}  {'abstain unanswerable':>20}"]
    for threshold in THRESHOLDS:
        def answers(r: dict, threshold: float = threshold) -> bool:
            return r["confidence"] is not None and r["confidence"] >= threshold
        gold = sum(answers(r) and any(c["doc_id"] in questions[r["id"]].doc_ids
                                      and contains(c["quote"], questions[r["id"]].answers) for c in r["citations"])
                   for r in answerable)
        lines.append(f"{threshold:9.1f}  {100 * gold / max(1, len(answerable)):12.1f}%  "
                     f"{100 * sum(not answers(r) for r in answerable) / max(1, len(answerable)):17.1f}%  "
                     f"{100 * sum(not answers(r) for r in unanswerable) / max(1, len(unanswerable)):19.1f}%")
    return lines


def main() -> None:
    """Asks every set's questions, then writes the dev and test summaries (or the calibration sweep)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calibrate", action="store_true", help="never abstain, then sweep thresholds on dev")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    (RESULTS / "news").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    if args.calibrate:
        env["QA_ABSTAIN_THRESHOLD"] = "-1000"
    suffix = "-calibration" if args.calibrate else ""
    report = [f"# news answer quality — {platform.machine()} {platform.processor()}, {os.cpu_count()} cores, "
              f"python {platform.python_version()}"]
    for name in SETS:
        results = ask_all(name, env, suffix)
        if args.calibrate:
            report += [f"\n## {name}, dev half", *calibration(name, results)]
            continue
        for split in ("dev", "test"):
            report += [f"\n## {name}, {split} half", *scored(name, results, split)]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(report)) + "\n"
    print(text)
    (RESULTS / f"news_quality{suffix}.txt").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
