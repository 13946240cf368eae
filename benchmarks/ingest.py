"""Where ingest time goes, per embedding backend: the whole `qa ingest`, the encoder alone, the rest.

    python benchmarks/ingest.py                              # the shared newsdev corpus, every backend
    python benchmarks/ingest.py --backends torch,onnx-int8
    python benchmarks/ingest.py --corpus my.jsonl --repeat 3

For each backend, into a fresh data dir: the encoder alone embeds exactly the chunk texts the ingest will
embed, once before and once after the ingest (so a machine that speeds up or slows down during the run
favours neither), and the ingest is timed end to end (read, chunk, embed, FAISS, BM25, SQLite, atomic
writes), with the time spent in each part summed as it runs. Rates are also given against the fp32
PyTorch encoder alone (the issue's 1.0x). The encoder's arithmetic rate is its model FLOPs (counted
from the texts' token counts) per second, against the machine's nominal fp32 peak. Writes
benchmarks/results/ingest.txt.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import resource
import shutil
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NEWSDEV = ROOT.parent / "shared" / "eval" / "data" / "newsdev" / "corpus.jsonl"
# fp32 FLOPs per core and cycle: two 256-bit FMA units (AVX2 on Zen 2/3 and most Intel cores) = 2 x 8 x 2.
FLOPS_PER_CYCLE = 32


def repeated_corpus(source: Path, repeat: int, folder: Path) -> Path:
    """Writes ``repeat`` copies of a JSONL corpus with distinct ids and slightly distinct texts."""
    records = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
    target = folder / "corpus.jsonl"
    with open(target, "w") as handle:
        for copy in range(repeat):
            for record in records:
                # A distinct first sentence per copy, so duplicates detection does not drop the copies.
                text = f"Copy {copy} of this report. {record['text']}" if repeat > 1 else record["text"]
                handle.write(json.dumps({**record, "id": f"{record['id']}-{copy}", "text": text}) + "\n")
    return target


class Stopwatch:
    """Sums the wall time spent inside chosen functions, per part, while a run goes on."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._lock = threading.Lock()

    @contextmanager
    def timing(self, owner: Any, name: str, part: str) -> Iterator[None]:
        """Within the block, calls of ``owner.name`` add their time to ``part``."""
        stored = owner.__dict__[name]  # as stored (a classmethod stays one when put back)
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                with self._lock:
                    self.seconds[part] += time.perf_counter() - started

        setattr(owner, name, timed)
        try:
            yield
        finally:
            setattr(owner, name, stored)


def model_flops(token_counts: list[int], layers: int, hidden: int, intermediate: int) -> float:
    """Multiply-adds x 2 of a BERT encoder over texts of these token counts: per token and layer, the Q, K,
    V and output projections (4·h²) and the feed-forward block (2·h·i); per text and layer, the attention
    scores and the weighted sum (2·n²·h)."""
    per_token = 2 * layers * (4 * hidden * hidden + 2 * hidden * intermediate)
    return float(sum(per_token * n + 2 * layers * 2 * n * n * hidden for n in token_counts))


def machine_peak_gflops() -> tuple[float, str]:
    """Nominal fp32 peak of the cores this process may use, and how it was reckoned."""
    from embeddings.onnx_encoder import usable_cores

    mhz = 0.0
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("cpu MHz"):
                mhz = float(line.split(":")[1])
                break
    cores = usable_cores()
    peak = cores * mhz / 1000 * FLOPS_PER_CYCLE
    return peak, f"{cores} cores x {mhz / 1000:.2f} GHz x {FLOPS_PER_CYCLE} fp32 FLOP/cycle (2 x 256-bit FMA)"


def run_backend(backend: str, ahead: int, corpus: Path, texts: list[str], work: Path) -> dict[str, Any]:
    """Times the encoder alone and one whole ingest with ``backend`` into a fresh data dir, embedding
    ``ahead`` slices in the background while it reads on (0: one after the other)."""
    from embeddings import Encoder, LayeredIndex, VectorIndex
    from qa.config import Config
    from qa.ingest import pipeline as ingest_module
    from qa.ingest.chunking import Chunker
    from qa.ingest.encode_queue import EncodeQueue
    from qa.ingest.pipeline import Ingestor
    from qa.storage import collection as collection_module
    from qa.storage.collection import Collection, data_dir_size
    from qa.storage.keyword_index import KeywordIndex

    config = Config.load(env={}, data_dir=work / f"data-{backend}-{ahead}", embedding_backend=backend,
                         encode_ahead_slices=ahead)
    collection = Collection(config)
    collection.encoder.encode(["warm up the model and its threads"])  # loading (and exporting) is not throughput

    def encoder_alone() -> float:
        started = time.perf_counter()
        collection.encoder.encode(texts)
        return time.perf_counter() - started

    before = encoder_alone()
    watch = Stopwatch()
    parts: list[tuple[Any, str, str]] = [
        (ingest_module, "read_file", "read"), (Chunker, "chunk", "chunk"), (Encoder, "encode", "encoder"),
        (Collection, "commit", "commit"), (KeywordIndex, "rebuild", "keyword index"),
        (KeywordIndex, "updated", "keyword index"), (LayeredIndex, "changed", "vectors"),
        (LayeredIndex, "compacted", "vectors"), (VectorIndex, "save", "vectors"),
        (collection_module, "write_delta", "vectors"), (EncodeQueue, "take", "waiting for vectors"),
        # Handing texts in waits too: for a free slot when ``ahead`` slices are out, or (0 ahead) for the
        # slice embedded on the spot.
        (EncodeQueue, "add", "waiting for vectors")]
    started = time.perf_counter()
    with ExitStack() as stack:
        for part in parts:
            stack.enter_context(watch.timing(*part))
        report = Ingestor(collection).ingest([corpus])
    ingest_s = time.perf_counter() - started
    after = encoder_alone()
    if report.chunks_embedded != len(texts):
        raise SystemExit(f"{backend}: ingest embedded {report.chunks_embedded} chunks, the corpus has {len(texts)}")
    size = data_dir_size(config.data_dir)
    collection.close()
    return {"backend": backend, "ahead": ahead, "ingest_s": ingest_s, "encode_s": (before + after) / 2,
            "before_s": before, "after_s": after, "parts": dict(watch.seconds), "articles": len(report.added),
            "bytes": size}


def report_lines(runs: list[dict[str, Any]], texts: list[str], flops: float, corpus: str) -> list[str]:
    """The printed report: one block per backend, rates against the torch encoder alone."""
    peak, reckoned = machine_peak_gflops()
    chunks = len(texts)
    baseline = next((r["encode_s"] for r in runs if r["backend"] == "torch"), None)
    lines = [f"# ingest benchmark — {platform.machine()} {platform.processor()}, {os.cpu_count()} cores, "
             f"python {platform.python_version()}",
             f"corpus: {corpus} = {runs[0]['articles']} articles, {chunks} chunks "
             f"({flops / chunks / 1e9:.2f} GFLOP per chunk)",
             f"machine fp32 peak: {peak:.0f} GFLOP/s ({reckoned})"]

    def versus(seconds: float) -> str:
        return f" = {baseline / seconds:.2f}x the torch encoder alone" if baseline else ""

    for run in runs:
        encode_s, ingest_s, parts = run["encode_s"], run["ingest_s"], run["parts"]
        # The ingest's own thread: all it does but wait for vectors (with slices embedded ahead, the encoder
        # runs in another thread meanwhile; without, the waiting is the embedding).
        outside = ingest_s - parts.get("waiting for vectors", 0.0)
        commit_rest = parts.get("commit", 0.0) - parts.get("keyword index", 0.0) - parts.get("vectors", 0.0)
        other = outside - parts.get("read", 0.0) - parts.get("chunk", 0.0) - parts.get("commit", 0.0)
        ahead = f"{run['ahead']} slices embedded ahead" if run["ahead"] else "embedding one slice after the other"
        lines += [
            f"\n## {run['backend']}, {ahead}",
            f"qa ingest end to end: {ingest_s:.1f} s = {chunks / ingest_s:.1f} chunks/s{versus(ingest_s)}",
            f"encoder alone (mean of before {run['before_s']:.1f} s and after {run['after_s']:.1f} s): "
            f"{encode_s:.1f} s = {chunks / encode_s:.1f} chunks/s{versus(encode_s)}; "
            f"{flops / encode_s / 1e9:.1f} GFLOP/s = {100 * flops / encode_s / 1e9 / peak:.0f}% of the fp32 peak",
            f"encoder inside the ingest: {parts.get('encoder', 0.0):.1f} s "
            f"({100 * parts.get('encoder', 0.0) / ingest_s:.0f}% of it); the reading thread waited for vectors "
            f"{parts.get('waiting for vectors', 0.0):.1f} s",
            f"outside the encoder (the reading thread's own work): {outside:.1f} s = "
            f"{chunks / max(outside, 1e-9):.0f} chunks/s — "
            f"read {parts.get('read', 0.0):.2f} s, chunk {parts.get('chunk', 0.0):.2f} s, "
            f"vectors (FAISS, files) {parts.get('vectors', 0.0):.2f} s, "
            f"keyword index {parts.get('keyword index', 0.0):.2f} s, SQLite and the rest of commits "
            f"{commit_rest:.2f} s, other (hashing, duplicates, progress) {other:.2f} s",
            f"index on disk: {run['bytes'] / 1e6:.1f} MB",
        ]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines.append(f"\npeak memory (RSS) of the whole run: {peak_mb:.0f} MB")
    return lines


def main() -> None:
    """Runs the benchmark for each backend and writes the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=NEWSDEV)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--backends", default="torch,onnx,onnx-int8", help="comma-separated, torch first")
    parser.add_argument("--ahead", default="2,0", help="slices embedded ahead (QA_ENCODE_AHEAD_SLICES) to compare")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ingest.txt")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from qa.articles import read_file
    from qa.config import Config
    from qa.ingest.chunking import Chunker, embedding_text

    work = Path(tempfile.mkdtemp(prefix="qa-bench-"))
    try:
        corpus = repeated_corpus(args.corpus, args.repeat, work)
        config = Config.load(env={})
        chunker = Chunker(config.chunk_words, config.chunk_max_words, config.chunk_overlap_sentences)
        texts = [embedding_text(a.title, c) for a in read_file(corpus).articles
                 for c in chunker.chunk(a)[: config.max_chunks_per_article]]
        flops = _corpus_flops(texts)
        runs = [run_backend(backend, int(ahead), corpus, texts, work) for backend in args.backends.split(",")
                for ahead in args.ahead.split(",")]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = "\n".join(report_lines(runs, texts, flops, f"{args.corpus.name} x{args.repeat}")) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


def _corpus_flops(texts: list[str]) -> float:
    """Model FLOPs of embedding ``texts`` with the bundled MiniLM (its config gives the shapes)."""
    from tokenizers import Tokenizer

    from embeddings import resolve_model_path
    from embeddings.onnx_encoder import max_tokens
    from qa.config import DEFAULT_EMBEDDING_MODEL

    folder = Path(resolve_model_path(DEFAULT_EMBEDDING_MODEL))
    shape = json.loads((folder / "config.json").read_text())
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_tokens(folder))
    tokenizer.no_padding()
    counts = [len(e.ids) for e in tokenizer.encode_batch(texts)]
    return model_flops(counts, shape["num_hidden_layers"], shape["hidden_size"], shape["intermediate_size"])


if __name__ == "__main__":
    main()
