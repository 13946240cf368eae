"""`ask` latency on the demo index, the newsdev index and a ~30k-chunk index, with reranking, on this machine.

    python benchmarks/latency.py                # demo, newsdev and 30k-chunk indexes
    python benchmarks/latency.py --chunks 10000
    python benchmarks/latency.py --chunks 0     # no large index
    python benchmarks/latency.py --chunks 0 --backend torch   # another embedding backend (latency-torch.txt)

The demo questions are also asked through the REST API (`POST /api/ask`) of the app launched in this
process on the demo index, to measure what the API adds.

The newsdev index is `../shared/eval/data/newsdev` ingested for real; its 180 questions are asked with
their own dates as the as-of date ("this week" questions read their date window).

The demo index is `seeds/` ingested for real. The large index is the demo articles copied until the
collection holds about --chunks chunks; each copy gets a distinct first sentence and *reuses the
vectors of its original chunks* (embedding 30k chunks would take ~25 minutes here and does not change
what is timed: FAISS search, BM25, SQLite reads, cross-encoder, answer composition). Every question
of benchmarks/data/demo_questions.jsonl is asked 3 times; the first round warms up and is not counted.
Writes benchmarks/results/latency.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "benchmarks" / "data" / "demo_questions.jsonl"
NEWSDEV = ROOT.parent / "shared" / "eval" / "data" / "newsdev"


def timed_asks(assistant, questions: list[tuple[str, str | None]], rounds: int = 3) -> list[float]:
    """Milliseconds per `ask` of each ``(question, as-of date)``, rounds after the first."""
    latencies = []
    for round_number in range(rounds):
        for question, as_of in questions:
            started = time.perf_counter()
            assistant.ask(question, as_of=as_of)
            if round_number:
                latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def timed_api_asks(url: str, questions: list[tuple[str, str | None]], rounds: int = 3) -> list[float]:
    """Milliseconds per ``POST /api/ask`` of each question on the app's own server, rounds after the first."""
    import httpx

    latencies = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for round_number in range(rounds):
            for question, as_of in questions:
                started = time.perf_counter()
                client.post("/api/ask", json={"question": question, "as_of": as_of}).raise_for_status()
                if round_number:
                    latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def api_row(assistant, questions: list[tuple[str, str | None]], in_process_ms: list[float]) -> str:
    """The same questions through the REST API of the app launched in this process, against ``ask``."""
    import socket

    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    import app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    web = app.build_app(assistant, replace(assistant.config, port=port))
    web.launch(prevent_thread_lock=True, quiet=True)
    try:
        ms = timed_api_asks(f"http://127.0.0.1:{port}", questions)
    finally:
        web.close()
    added = np.percentile(ms, 50) - np.percentile(in_process_ms, 50)
    return (f"demo index through POST /api/ask — {len(ms)} asks: p50 {np.percentile(ms, 50):.0f} ms, "
            f"p95 {np.percentile(ms, 95):.0f} ms, max {max(ms):.0f} ms; the API adds {added:+.0f} ms at p50")


def grow(collection, target_chunks: int) -> None:
    """Copies the stored articles (with their vectors) until the collection holds ~target_chunks chunks."""
    from qa.ingest.chunking import Chunker
    from qa.storage.collection import Change

    store = collection.store
    originals = [s.article for s in store.articles()]
    ids, vectors = collection.snapshot().vectors.vectors()
    row_of = {int(vid): row for row, vid in enumerate(ids)}
    per_article = {a.id: vectors[[row_of[vid] for vid in store.vector_ids_of([a.id])]] for a in originals}
    config = collection.config
    chunker = Chunker(config.chunk_words, config.chunk_max_words, config.chunk_overlap_sentences)
    copy = 0
    with collection.writer():
        while collection.stats().chunks < target_chunks:
            copy += 1
            change = Change()
            for article in originals:
                clone = replace(article, id=f"{article.id}~{copy}", source_path=f"{article.source_path}~{copy}",
                                text=f"Copy {copy}. {article.text}")
                chunks = chunker.chunk(clone)
                source = per_article[article.id]
                rows = np.vstack([source[min(i, len(source) - 1)] for i in range(len(chunks))])
                change.added.append((clone, chunks, rows))
            collection.commit(change)


def main() -> None:
    """Measures and writes the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=30_000)
    parser.add_argument("--backend", default="auto", help="embedding backend (QA_EMBEDDING_BACKEND), default auto")
    args = parser.parse_args()
    backend = {"embedding_backend": args.backend}

    from qa.assistant import Assistant
    from qa.config import Config
    from qa.ingest.pipeline import Ingestor

    work = Path(tempfile.mkdtemp(prefix="qa-latency-"))
    lines = [f"# ask latency — {platform.machine()} {platform.processor()}, {os.cpu_count()} cores, "
             f"python {platform.python_version()}, embedding backend {args.backend}"]
    if NEWSDEV.is_dir():
        news = Assistant(Config.load(env={}, data_dir=work / "newsdev", **backend))
        Ingestor(news.collection).ingest([NEWSDEV / "corpus.jsonl"])
        asked = [(q["question"], q.get("date")) for q in map(json.loads, (NEWSDEV / "questions.jsonl").open())]
        ms = timed_asks(news, asked, rounds=2)
        stats = news.collection.stats()
        lines.append(f"newsdev index: {stats.articles} articles, {stats.chunks} chunks — {len(ms)} asks: "
                     f"p50 {np.percentile(ms, 50):.0f} ms, p95 {np.percentile(ms, 95):.0f} ms, max {max(ms):.0f} ms")
        print(lines[-1], flush=True)
        news.collection.close()
    questions = [(json.loads(line)["question"], None) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    assistant = Assistant(Config.load(env={}, data_dir=work / "data", **backend))
    Ingestor(assistant.collection).ingest([ROOT / "seeds"])
    for label in ("demo index", "large index"):
        if label == "large index" and args.chunks <= 0:
            break
        if label == "large index":
            grow(assistant.collection, args.chunks)
        stats = assistant.collection.stats()
        ms = timed_asks(assistant, questions)
        lines.append(f"{label}: {stats.articles} articles, {stats.chunks} chunks — {len(ms)} asks: "
                     f"p50 {np.percentile(ms, 50):.0f} ms, p95 {np.percentile(ms, 95):.0f} ms, "
                     f"max {max(ms):.0f} ms")
        print(lines[-1], flush=True)
        if label == "demo index":
            lines.append(api_row(assistant, questions, ms))
            print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    out = ROOT / "benchmarks" / "results" / ("latency.txt" if args.backend == "auto" else f"latency-{args.backend}.txt")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    assistant.collection.close()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
