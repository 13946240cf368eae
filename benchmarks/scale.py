"""How the collection behaves at N chunks: one-article commits, search, filtered search, memory, disk.

    python benchmarks/scale.py --chunks 200000 --out benchmarks/results/scale-200k.json
    python benchmarks/scale.py --chunks 1000000 --out benchmarks/results/scale-1m.json

Builds a collection of about N chunks fast: articles made of random sentences of the demo corpus (random
dates 2006–2026, one of 40 sources), chunked as usual, committed in one go. Embedding 1M chunks would take
days here, so each demo sentence is embedded once and *a chunk's vector is its first sentence's
embedding plus noise* (cosine ~0.85 to it): spread over topics the way real embeddings are, which an IVF
index depends on (random unit vectors have no clusters, and the mean of a chunk's randomly drawn
sentences puts every chunk near the corpus's mean). Then, with the encoder loaded, it measures:

- ``commit_one_article_s``: ingesting one new short article file (read, embed, commit);
- ``search_p50_ms`` / ``search_p95_ms``: 200 searches (query encoding, dense + BM25, fusion; no rerank);
- ``filtered_search_p50_ms``: the same with a one-week date window (since/until);
- ``rss_mb``: resident memory of a fresh process after opening the collection;
- ``disk_mb``: the data dir's size;
- ``recall_at_10``: an approximate index's top 10 against exact search over the same vectors, for 1,000
  queries (demo sentences embedded as questions; null for flat).

Writes the JSON with exactly these keys (plus ``chunks`` and ``index_type``) to --out and prints it. With
``--delete N`` it then times removing N articles in one go and writes that beside it (``-delete.json``).
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
NOISE = 0.032  # per dimension: a 384-d chunk vector keeps cosine ~0.85 to its sentence's embedding


def embedded_pool(encoder) -> tuple[list[str], np.ndarray]:
    """The demo sentences and their embeddings (cached beside the results: they never change)."""
    pool = sentence_pool()
    cache = ROOT / "benchmarks" / "results" / "scale-sentences.npy"
    if cache.exists() and len(np.load(cache, mmap_mode="r")) == len(pool):
        return pool, np.load(cache)
    vectors = encoder.encode(pool)
    np.save(cache, vectors)
    return pool, vectors


def sentence_pool() -> list[str]:
    """Every sentence of the demo corpus."""
    from qa.articles import read_file
    from qa.text.sentences import split_sentences

    pool = []
    for path in sorted((ROOT / "seeds").iterdir()):
        if path.suffix in (".jsonl", ".txt"):
            for article in read_file(path).articles:
                pool += [s.text for s in split_sentences(article.text) if len(s.text.split()) >= 6]
    return pool


def build(config, target_chunks: int, seed: int = 0) -> int:
    """Commits articles of random demo sentences until ~target_chunks chunks; each chunk's vector is its
    first sentence's embedding plus noise."""
    from qa.ingest.chunking import Chunker
    from qa.storage.collection import Change, Collection
    from qa.types import Article

    rng, generator = random.Random(seed), np.random.default_rng(seed)
    chunker = Chunker(config.chunk_words, config.chunk_max_words, config.chunk_overlap_sentences)
    collection = Collection(config, rebuilding=True)
    pool, embedded = embedded_pool(collection.encoder)
    change, total, number = Change(), 0, 0
    start = date(2006, 1, 1)
    while total < target_chunks:
        number += 1
        chosen = [rng.randrange(len(pool)) for _ in range(rng.randint(6, 30))]
        text = " ".join(pool[i] for i in chosen)
        ends = np.cumsum([len(pool[i]) + 1 for i in chosen])  # where each sentence ends in the text
        day = start + timedelta(days=rng.randrange(20 * 365))
        article = Article(id=f"synthetic-{number}", title=f"Report {number}: {rng.choice(pool)[:60]}", text=text,
                          source_path=f"/synthetic/{number}.txt", date=day.isoformat(),
                          source=f"Outlet {rng.randrange(40)}")
        chunks = chunker.chunk(article)
        vectors = embedded[[chosen[np.searchsorted(ends, c.start, side="right")] for c in chunks]]
        vectors = vectors + generator.normal(scale=NOISE, size=vectors.shape)
        vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
        change.added.append((article, chunks, vectors))
        total += len(chunks)
    with collection.writer("a scale benchmark build"):
        collection.commit(change, fresh=True)
    collection.close()
    return total


def rss_after_open(data_dir: Path, index_type: str) -> float:
    """MB of resident memory of a fresh process that opened the collection."""
    # VmHWM of the child's own memory: ru_maxrss would report the parent's size at the fork (Linux keeps
    # that high-water mark across exec), which is how earlier runs over-reported this by ~2 GB.
    code = ("import re, sys\nfrom qa.storage.collection import Collection\nfrom qa.config import Config\n"
            "c = Collection(Config.load(data_dir=sys.argv[1], index_type=sys.argv[2]))\n"
            "status = open('/proc/self/status').read()\n"
            "print(int(re.search(r'VmHWM:\\s+(\\d+) kB', status).group(1)) / 1024)")
    out = subprocess.run([sys.executable, "-c", code, str(data_dir), index_type], cwd=ROOT, check=True,
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Builds, measures, writes the JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=200_000)
    parser.add_argument("--index-type", default="flat")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--delete", type=int, default=0, help="then time removing this many articles")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from qa.config import Config
    from qa.ingest.pipeline import Ingestor
    from qa.retrieval.search import Retriever
    from qa.storage.collection import Collection, data_dir_size
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
    recall = None
    if args.index_type != "flat":
        recall = recall_at_10(collection)
    result = {
        "chunks": collection.stats().chunks,
        "index_type": args.index_type,
        "commit_one_article_s": round(commit_s, 3),
        "search_p50_ms": round(float(np.percentile(plain, 50)), 1),
        "search_p95_ms": round(float(np.percentile(plain, 95)), 1),
        "filtered_search_p50_ms": round(float(np.percentile(filtered, 50)), 1),
        "rss_mb": round(rss, 1),
        "disk_mb": round(data_dir_size(config.data_dir) / 1e6, 1),
        "recall_at_10": recall,  # only an approximate index has one; flat is exact
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    if args.delete:
        deleted = delete_articles(collection, args.delete)
        args.out.with_name(args.out.stem + "-delete.json").write_text(json.dumps(deleted, indent=2) + "\n")
        print(json.dumps(deleted, indent=2))
    collection.close()


def recall_at_10(collection) -> float:
    """Share of the exact top 10 (over the same vectors, decoded) that the index's search finds, for 1,000
    held-out queries: demo sentences' embeddings with twice the chunks' noise (a question is no copy of
    any chunk)."""
    import faiss

    _, embedded = embedded_pool(collection.encoder)
    generator = np.random.default_rng(2)
    queries = embedded[generator.choice(len(embedded), 1000, replace=False)]
    queries = queries + generator.normal(scale=2 * NOISE, size=queries.shape)
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    layers = collection.snapshot().vectors
    ids, vectors = layers.vectors()
    _, truth = faiss.knn(queries, vectors, 10, metric=faiss.METRIC_INNER_PRODUCT)
    found = sum(len(set(ids[row].tolist()) & {i for i, _ in layers.search(q, 10)}) for q, row in zip(queries, truth))
    return round(found / (10 * len(queries)), 4)


def delete_articles(collection, count: int) -> dict:
    """Times one removal of ``count`` synthetic articles (one commit), as ``qa remove`` of a folder does."""
    from qa.storage.collection import Change

    victims = [f"synthetic-{n}" for n in range(1, count + 1)]
    started = time.perf_counter()
    with collection.writer("a scale benchmark removal"):
        collection.commit(Change(removed=victims))
    seconds = time.perf_counter() - started
    return {"chunks_after": collection.stats().chunks, "deleted_articles": count,
            "delete_s": round(seconds, 2), "layers_after": list(collection.layers)}


if __name__ == "__main__":
    main()
