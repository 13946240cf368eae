"""How the collection behaves at N chunks: one-article commits, search, filtered search, memory, disk.

    python benchmarks/scale.py --chunks 200000 --out benchmarks/results/scale-200k.json
    python benchmarks/scale.py --chunks 1000000 --out benchmarks/results/scale-1m.json

Builds a collection of about N chunks fast: articles made of random sentences of the demo corpus (random
dates 2006–2026, one of 40 sources), chunked as usual, with *random unit vectors instead of embeddings*
(embedding 1M chunks would take days here; FAISS, BM25 and SQLite costs do not depend on what the vectors
mean), committed in one go. Then, with the encoder loaded, it measures:

- ``commit_one_article_s``: ingesting one new short article file (read, embed, commit);
- ``search_p50_ms`` / ``search_p95_ms``: 200 searches (query encoding, dense + BM25, fusion; no rerank);
- ``filtered_search_p50_ms``: the same with a one-week date window (since/until);
- ``rss_mb``: resident memory of a fresh process after opening the collection;
- ``disk_mb``: the data dir's size;
- ``recall_at_10``: an approximate index's top 10 against exact search on 1,000 queries (null for flat).

Writes the JSON with exactly these keys (plus ``chunks`` and ``index_type``) to --out and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "benchmarks" / "data" / "demo_questions.jsonl"


def sentence_pool() -> list[str]:
    """Every sentence of the demo corpus."""
    from qa.articles import read_file
    from qa.sentences import split_sentences

    pool = []
    for path in sorted((ROOT / "seeds").iterdir()):
        if path.suffix in (".jsonl", ".txt"):
            for article in read_file(path).articles:
                pool += [s.text for s in split_sentences(article.text) if len(s.text.split()) >= 6]
    return pool


def build(config, target_chunks: int, seed: int = 0) -> int:
    """Commits articles of random demo sentences with random unit vectors until ~target_chunks chunks."""
    from qa.chunking import Chunker
    from qa.collection import Change, Collection
    from qa.types import Article

    rng, generator = random.Random(seed), np.random.default_rng(seed)
    pool = sentence_pool()
    chunker = Chunker(config.chunk_words, config.chunk_max_words, config.chunk_overlap_sentences)
    collection = Collection(config, rebuilding=True)
    change, total, number = Change(), 0, 0
    start = date(2006, 1, 1)
    while total < target_chunks:
        number += 1
        text = " ".join(rng.choice(pool) for _ in range(rng.randint(6, 30)))
        day = start + timedelta(days=rng.randrange(20 * 365))
        article = Article(id=f"synthetic-{number}", title=f"Report {number}: {rng.choice(pool)[:60]}", text=text,
                          source_path=f"/synthetic/{number}.txt", date=day.isoformat(),
                          source=f"Outlet {rng.randrange(40)}")
        chunks = chunker.chunk(article)
        vectors = generator.normal(size=(len(chunks), collection.encoder.dimension)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        change.added.append((article, chunks, vectors))
        total += len(chunks)
    with collection.writer("a scale benchmark build"):
        collection.commit(change, fresh=True)
    collection.close()
    return total


def rss_after_open(data_dir: Path, index_type: str) -> float:
    """MB of resident memory of a fresh process that opened the collection."""
    code = ("import resource, sys\nfrom qa.collection import Collection\nfrom qa.config import Config\n"
            "c = Collection(Config.load(data_dir=sys.argv[1], index_type=sys.argv[2]))\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    out = subprocess.run([sys.executable, "-c", code, str(data_dir), index_type], cwd=ROOT, check=True,
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Builds, measures, writes the JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=200_000)
    parser.add_argument("--index-type", default="flat")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from qa.collection import Collection, data_dir_size
    from qa.config import Config
    from qa.ingest import Ingestor
    from qa.retrieval import Retriever
    from qa.types import SearchFilters

    work = Path(tempfile.mkdtemp(prefix="qa-scale-"))
    config = Config.load(env={}, data_dir=work / "data", index_type=args.index_type)
    started = time.perf_counter()
    chunks = build(config, args.chunks)
    print(f"built {chunks} chunks in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    rss = rss_after_open(config.data_dir, args.index_type)

    collection = Collection(config)
    collection.encoder.encode_query("load the model")
    story = work / "new-article.txt"
    story.write_text("Harbour crane collapses\n\nA crane collapsed at the Eastport harbour on Sunday night. "
                     "Nobody was hurt, the port authority said.\n", encoding="utf-8")
    started = time.perf_counter()
    Ingestor(collection).ingest([story])
    commit_s = time.perf_counter() - started

    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line.strip()]
    queries = [questions[i % len(questions)] for i in range(200)]
    retriever = Retriever(collection)
    rng = random.Random(1)

    def timed(filters_for) -> list[float]:
        latencies = []
        for query in queries:
            filters = filters_for()
            begun = time.perf_counter()
            retriever.search(query, k=10, filters=filters, rerank=False)
            latencies.append((time.perf_counter() - begun) * 1000)
        return latencies

    plain = timed(lambda: None)

    def week() -> SearchFilters:
        first = date(2006, 1, 1) + timedelta(days=rng.randrange(20 * 365))
        return SearchFilters(since=first.isoformat(), until=(first + timedelta(days=6)).isoformat())

    filtered = timed(week)
    result = {
        "chunks": collection.stats().chunks,
        "index_type": args.index_type,
        "commit_one_article_s": round(commit_s, 3),
        "search_p50_ms": round(float(np.percentile(plain, 50)), 1),
        "search_p95_ms": round(float(np.percentile(plain, 95)), 1),
        "filtered_search_p50_ms": round(float(np.percentile(filtered, 50)), 1),
        "rss_mb": round(rss, 1),
        "disk_mb": round(data_dir_size(config.data_dir) / 1e6, 1),
        "recall_at_10": None,  # only an approximate index has one; flat is exact
    }
    collection.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
