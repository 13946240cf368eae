"""`qa ingest` against txtai indexing the same news articles with the same MiniLM weights, side by side.

    python benchmarks/txtai_compare.py                         # the shared newsdev corpus, every backend
    python benchmarks/txtai_compare.py --corpus my.jsonl --backends torch,onnx-int8 --rounds 2

txtai runs in its own venv (default /work/txtai-venv: `python3 -m venv /work/txtai-venv &&
/work/txtai-venv/bin/pip install torch==2.13.0 && /work/txtai-venv/bin/pip install txtai`), from the bundled
all-MiniLM-L6-v2 folder, offline, with 120-word chunks with the title in front, ``hybrid=True`` (BM25
beside the vectors) and ``content=True`` (texts in SQLite). Each contender runs as a fresh process into a
fresh folder, one after the other, in rounds (txtai, then `qa ingest` with each backend); the wall time of
the whole process (start, imports, model load, reading, embedding, indexing, saving) is what a user waits
for. ONNX files are made before the timing starts (once per machine, not per ingest). Writes
benchmarks/results/txtai_compare.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NEWSDEV = ROOT.parent / "shared" / "eval" / "data" / "newsdev" / "corpus.jsonl"
TXTAI_PYTHON = Path("/work/txtai-venv/bin/python")
CHUNK_WORDS = 120  # txtai's chunks: as the comparison cut them


def txtai_index(corpus: Path, model: str, target: Path) -> None:
    """Runs inside the txtai venv: indexes ``corpus`` and prints ``{"chunks": n, "index_s": s}``."""
    from txtai import Embeddings

    started = time.perf_counter()
    rows = []
    for line in corpus.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            words = record["text"].split()
            for number, start in enumerate(range(0, len(words), CHUNK_WORDS)):
                text = f"{record['title']}\n{' '.join(words[start : start + CHUNK_WORDS])}"
                rows.append((f"{record['id']}-{number}", text, None))
    embeddings = Embeddings(path=model, content=True, hybrid=True)
    embeddings.index(rows)
    embeddings.save(str(target))
    print(json.dumps({"chunks": len(rows), "index_s": time.perf_counter() - started}))


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Wall seconds of running ``command`` to its end, and its stdout; raises on failure."""
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def main() -> None:
    """Times txtai and `qa ingest` per backend, alternating, and writes the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=NEWSDEV)
    parser.add_argument("--backends", default="torch,onnx,onnx-int8")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--txtai-python", type=Path, default=TXTAI_PYTHON)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "txtai_compare.txt")
    parser.add_argument("--txtai-worker", nargs=2, metavar=("MODEL", "TARGET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.txtai_worker:
        txtai_index(args.corpus, args.txtai_worker[0], Path(args.txtai_worker[1]))
        return

    sys.path.insert(0, str(ROOT))
    from embeddings import BACKENDS, resolve_model_path
    from embeddings.onnx_cache import cached_onnx, default_cache_dir
    from qa.config import DEFAULT_EMBEDDING_MODEL

    model = resolve_model_path(DEFAULT_EMBEDDING_MODEL)
    backends = args.backends.split(",")
    for backend in backends:  # made once per machine: not what an ingest costs
        if backend != "torch":
            cached_onnx(Path(model), BACKENDS[backend], default_cache_dir())
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "true"}
    load_before = os.getloadavg()[0]
    times: dict[str, list[float]] = {name: [] for name in ["txtai", *backends]}
    chunks: dict[str, int] = {}
    work = Path(tempfile.mkdtemp(prefix="qa-txtai-"))
    try:
        for round_number in range(args.rounds):
            target = work / f"txtai-{round_number}"
            seconds, out = timed([str(args.txtai_python), __file__, "--corpus", str(args.corpus),
                                  "--txtai-worker", model, str(target)], env)
            times["txtai"].append(seconds)
            chunks["txtai"] = json.loads(out.strip().splitlines()[-1])["chunks"]
            for backend in backends:
                data = work / f"qa-{backend}-{round_number}"
                seconds, out = timed([sys.executable, "-m", "qa", "--data-dir", str(data), "ingest", str(args.corpus)],
                                     {**env, "QA_EMBEDDING_BACKEND": backend})
                times[backend].append(seconds)
                embedded = re.search(r"(\d+) chunks embedded", out)
                if embedded is None:
                    raise SystemExit(f"qa ingest said no chunk count:\n{out[-2000:]}")
                chunks[backend] = int(embedded.group(1))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    best_txtai = min(times["txtai"])
    lines = [f"# txtai vs qa ingest — {platform.machine()}, {len(os.sched_getaffinity(0))} cores usable, "
             f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after (busy machine unless ~0)",
             f"corpus: {args.corpus} ({args.rounds} round(s), each contender a fresh process and folder, "
             "one after the other; best of the rounds)",
             f"{'contender':<22} {'chunks':>7} {'wall s':>8} {'chunks/s':>9} {'time / txtai':>13}"]
    for name, runs in times.items():
        label = "txtai 120-word, hybrid" if name == "txtai" else f"qa ingest {name}"
        best = min(runs)
        lines.append(f"{label:<22} {chunks[name]:>7} {best:>8.1f} {chunks[name] / best:>9.1f} "
                     f"{best / best_txtai:>12.2f}x   (runs: {', '.join(f'{s:.1f}' for s in runs)})")
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
