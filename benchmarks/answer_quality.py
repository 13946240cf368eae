"""Answer quality on XQuAD-en (and the demo set), with unanswerable questions, via `qa eval`.

Unanswerable questions come from holding articles out: the "closed" corpus keeps about half of the
48 articles (by a hash of the article id); questions about the other half cannot be answered from it.
Questions are split 50/50 by id hash: `dev` is for tuning (the abstention threshold), `test` is what
README reports.

    python benchmarks/answer_quality.py --split test                  # report
    python benchmarks/answer_quality.py --split test --backend onnx   # another embedding backend

Writes benchmarks/results/answer_quality-<split>[-<backend>].txt and the per-question JSONL beside it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
XQUAD = ROOT.parent / "shared" / "eval" / "data" / "xquad_en"
RESULTS = ROOT / "benchmarks" / "results"


def held_out(article_id: str) -> bool:
    """Articles left out of the closed corpus (about half)."""
    return int(hashlib.sha1(article_id.encode()).hexdigest(), 16) % 2 == 1


def prepare(work: Path) -> dict[str, tuple[Path, Path]]:
    """Writes the open and closed corpora and their question files; returns name -> (corpus, questions)."""
    work.mkdir(parents=True, exist_ok=True)
    corpus = [json.loads(line) for line in (XQUAD / "corpus.jsonl").read_text().splitlines() if line.strip()]
    questions = [json.loads(line) for line in (XQUAD / "questions.jsonl").read_text().splitlines() if line.strip()]
    closed = [a for a in corpus if not held_out(a["id"])]
    closed_questions = []
    for q in questions:
        if any(held_out(d) for d in q["doc_ids"]):
            q = {**q, "answers": [], "doc_ids": []}
        closed_questions.append(q)
    files = {}
    for name, articles, asked in (("open", corpus, questions), ("closed", closed, closed_questions)):
        corpus_path, questions_path = work / f"{name}-corpus.jsonl", work / f"{name}-questions.jsonl"
        corpus_path.write_text("".join(json.dumps(a) + "\n" for a in articles))
        questions_path.write_text("".join(json.dumps(q) + "\n" for q in asked))
        files[name] = (corpus_path, questions_path)
    return files


def run_eval(corpus: Path, questions: Path, out: Path, split: str, env: dict[str, str], index: Path) -> str:
    """Runs `qa eval` (its index kept in ``index``, reused by the next run) and returns its printed summary."""
    command = [sys.executable, "-m", "qa", "eval", "--corpus", str(corpus), "--questions", str(questions),
               "--out", str(out), "--split", split, "--index-dir", str(index)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return done.stdout


def main() -> None:
    """Runs the evaluation and writes the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=["dev", "test", "all"], default="test")
    parser.add_argument("--backend", help="QA_EMBEDDING_BACKEND for this run (default: the configured one)")
    args = parser.parse_args()
    suffix = f"-{args.backend}" if args.backend else ""
    RESULTS.mkdir(parents=True, exist_ok=True)
    work = RESULTS / "xquad"
    files = prepare(work)
    env = {**os.environ, **({"QA_EMBEDDING_BACKEND": args.backend} if args.backend else {})}
    report = [f"# answer quality, split={args.split}, machine: {platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} cores, python {platform.python_version()}, "
              f"embedding backend {args.backend or 'as configured'}"]
    for name, (corpus, questions) in files.items():
        out = work / f"{name}-{args.split}{suffix}-results.jsonl"
        summary = run_eval(corpus, questions, out, args.split, env, work / f"index-{name}{suffix}")
        report += [f"\n## xquad_en {name} corpus ({'all 48 articles' if name == 'open' else 'half held out'})",
                   summary.strip()]
    demo_out = RESULTS / f"demo-{args.split}{suffix}-results.jsonl"
    report += ["\n## demo set over seeds/ (all 30 questions; written before any tuning)",
               run_eval(ROOT / "seeds", ROOT / "benchmarks" / "data" / "demo_questions.jsonl",
                        demo_out, "all", env, RESULTS / f"demo-index{suffix}").strip()]
    text = "\n".join(report) + "\n"
    print(text)
    (RESULTS / f"answer_quality-{args.split}{suffix}.txt").write_text(text)


if __name__ == "__main__":
    main()
