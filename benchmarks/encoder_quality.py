"""How close each embedding backend's vectors are to the fp32 PyTorch ones, on news chunks.

    python benchmarks/encoder_quality.py                      # the shared newsdev corpus
    python benchmarks/encoder_quality.py --corpus my.jsonl
    python benchmarks/encoder_quality.py --variants           # INT8 recipes side by side (encoder_quality-variants.txt)

Every chunk of the corpus (as `qa ingest` cuts it, title in front) is embedded by each backend. Reported:
the cosine of each vector to its PyTorch fp32 twin (mean and worst), and recall@10 of neighbours: the
share of each chunk's 10 nearest chunks under PyTorch that the backend's vectors find among their own 10
nearest (the issue's target for INT8: >= 0.98); and the median time to embed one question (the
newsdev questions, one at a time, as `qa ask` does). Writes benchmarks/results/encoder_quality.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import faiss
import numpy as np

if TYPE_CHECKING:
    from embeddings import Encoder

ROOT = Path(__file__).resolve().parents[1]
NEWSDEV = ROOT.parent / "shared" / "eval" / "data" / "newsdev" / "corpus.jsonl"
NEIGHBOURS = 10


def chunk_texts(corpus: Path) -> list[str]:
    """The texts `qa ingest` embeds for ``corpus``, with the default chunk settings."""
    from qa.articles import read_file
    from qa.config import Config
    from qa.ingest.chunking import Chunker, embedding_text

    config = Config.load(env={})
    chunker = Chunker(config.chunk_words, config.chunk_max_words, config.chunk_overlap_sentences)
    return [embedding_text(a.title, c) for a in read_file(corpus).articles for c in chunker.chunk(a)]


def neighbour_recall(reference: np.ndarray, vectors: np.ndarray, k: int = NEIGHBOURS) -> float:
    """Mean share of each row's ``k`` nearest other rows under ``reference`` found under ``vectors``."""
    _, truth = faiss.knn(reference, reference, k + 1, metric=faiss.METRIC_INNER_PRODUCT)
    _, found = faiss.knn(vectors, vectors, k + 1, metric=faiss.METRIC_INNER_PRODUCT)
    shares = [len((set(t) - {row}) & (set(f) - {row})) / k for row, (t, f) in enumerate(zip(truth, found))]
    return float(np.mean(shares))


def query_p50_ms(encoder: Encoder, questions: list[str]) -> float:
    """Median milliseconds to embed one question (after one warm-up)."""
    encoder.encode_query("warm up")
    times = []
    for question in questions:
        started = time.perf_counter()
        encoder.encode_query(question)
        times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times))


def main() -> None:
    """Embeds the corpus with every backend (or, with ``--variants``, every INT8 recipe) and writes the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=NEWSDEV)
    parser.add_argument("--questions", type=Path, default=NEWSDEV.with_name("questions.jsonl"))
    parser.add_argument("--variants", action="store_true",
                        help="compare INT8 recipes (benchmarks/encoder_variants.py) into encoder_quality-variants.txt")
    args = parser.parse_args()
    if args.variants:
        sys.path.insert(0, str(ROOT))
        from benchmarks.encoder_variants import report_variants

        write_report(report_variants(chunk_texts(args.corpus)), "encoder_quality-variants.txt")
        return

    from embeddings import BACKENDS, Encoder
    from qa.config import DEFAULT_EMBEDDING_MODEL

    texts = chunk_texts(args.corpus)
    questions = [json.loads(line)["question"] for line in args.questions.read_text().splitlines() if line.strip()]
    encoders = {backend: Encoder(DEFAULT_EMBEDDING_MODEL, backend=backend) for backend in BACKENDS}
    vectors = {backend: encoder.encode(texts) for backend, encoder in encoders.items()}
    reference = vectors["torch"]
    lines = [f"# encoder quality — {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}",
             f"corpus: {args.corpus.name}, {len(texts)} chunks; reference: torch fp32 (sentence-transformers)",
             f"{'backend':<10} {'cosine mean':>12} {'cosine min':>11} {'recall@10':>10} {'query p50':>10}"]
    for backend, got in vectors.items():
        cosines = (got * reference).sum(axis=1)
        lines.append(f"{backend:<10} {cosines.mean():>12.4f} {cosines.min():>11.4f} "
                     f"{neighbour_recall(reference, got):>10.4f} {query_p50_ms(encoders[backend], questions):>7.1f} ms")
    write_report(lines, "encoder_quality.txt")


def write_report(lines: list[str], name: str) -> None:
    """Prints ``lines`` and writes them to benchmarks/results/``name``."""
    text = "\n".join(lines) + "\n"
    print(text)
    out = ROOT / "benchmarks" / "results" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


if __name__ == "__main__":
    main()
