"""Ingest throughput vs the raw encoder on the same chunk texts, index size on disk, peak memory.

    python benchmarks/ingest.py                 # the demo articles repeated 10x (~2,800 chunks)
    python benchmarks/ingest.py --repeat 3
    python benchmarks/ingest.py --corpus my.jsonl

Ingest is timed end to end (read, chunk, embed, FAISS, BM25, SQLite, atomic writes) into a fresh
data dir; the encoder alone embeds exactly the same chunk texts, once before and once after. Embedding is the
only expensive step, so the ratio should be close to 100%. Writes benchmarks/results/ingest.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def repeated_corpus(source: Path, repeat: int, folder: Path) -> Path:
    """Writes ``repeat`` copies of a JSONL corpus with distinct ids and slightly distinct texts."""
    records = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
    target = folder / "corpus.jsonl"
    with open(target, "w") as handle:
        for copy in range(repeat):
            for record in records:
                # A distinct first sentence per copy, so duplicates detection does not drop the copies.
                text = f"Copy {copy} of this report. {record['text']}"
                handle.write(json.dumps({**record, "id": f"{record['id']}-{copy}", "text": text}) + "\n")
    return target


def main() -> None:
    """Runs the benchmark and writes the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT / "seeds" / "wikinews_gum.jsonl")
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()

    from qa.articles import read_file
    from qa.chunking import Chunker, embedding_text
    from qa.collection import Collection, data_dir_size
    from qa.config import Config
    from qa.ingest import Ingestor

    work = Path(tempfile.mkdtemp(prefix="qa-bench-"))
    corpus = repeated_corpus(args.corpus, args.repeat, work)
    config = Config.load(env={}, data_dir=work / "data")
    chunker = Chunker(config.chunk_words, config.chunk_max_words, config.chunk_overlap_sentences)
    texts = [embedding_text(a.title, c) for a in read_file(corpus).articles for c in chunker.chunk(a)]
    collection = Collection(config)
    collection.encoder.encode(["warm up the model and its threads"])  # loading is not throughput

    def encoder_alone() -> float:
        started = time.perf_counter()
        collection.encoder.encode(texts)
        return time.perf_counter() - started

    # The encoder alone runs before and after the ingest, so a machine that speeds up or slows down
    # during the run (turbo, other load) does not favour either side.
    encode_before_s = encoder_alone()
    started = time.perf_counter()
    report = Ingestor(collection).ingest([corpus])
    ingest_s = time.perf_counter() - started
    encode_after_s = encoder_alone()
    encode_s = (encode_before_s + encode_after_s) / 2
    chunks = report.chunks_embedded
    if chunks != len(texts):
        raise SystemExit(f"ingest embedded {chunks} chunks but the corpus has {len(texts)}")

    size = data_dir_size(config.data_dir)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = [
        f"# ingest benchmark — {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}",
        f"corpus: {args.corpus.name} x{args.repeat} = {len(report.added)} articles, {chunks} chunks",
        f"ingest end to end: {ingest_s:.1f} s = {chunks / ingest_s:.1f} chunks/s",
        f"encoder alone, same {len(texts)} texts (mean of runs before and after):"
        f" {encode_s:.1f} s = {len(texts) / encode_s:.1f} chunks/s"
        f" (before {encode_before_s:.1f} s, after {encode_after_s:.1f} s)",
        f"ingest / encoder rate: {100 * encode_s / ingest_s:.1f}%",
        f"index on disk: {size / 1e6:.1f} MB ({size / max(1, chunks) / 1024:.1f} KiB per chunk)",
        f"peak memory (RSS): {peak_mb:.0f} MB",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    out = ROOT / "benchmarks" / "results" / "ingest.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    collection.close()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
