"""`qa ingest --ray`: the same articles, chunks, vectors and answers as a local ingest, on a local Ray."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from qa.config import Config
from qa.interfaces.cli import main
from qa.retrieval.search import Retriever
from qa.storage.collection import Collection
from tests.conftest import ROOT, small_corpus


def _vectors_by_chunk(collection: Collection) -> dict[str, np.ndarray]:
    ids, vectors = collection.snapshot().vectors.vectors()
    chunk_of = dict(collection.store._query("SELECT vector_id, chunk_id FROM chunks"))
    return {chunk_of[int(i)]: v for i, v in zip(ids, vectors)}


def test_ray_ingest_matches_the_local_one(tmp_path: Path) -> None:
    corpus = small_corpus(tmp_path / "corpus")
    (corpus / "broken.json").write_text("{not json", encoding="utf-8")
    outputs = {}
    for name, extra in (("local", []), ("ray", ["--ray"])):
        result = CliRunner().invoke(main, ["--data-dir", str(tmp_path / name), "ingest", str(corpus), *extra])
        assert result.exit_code == 0, result.output
        outputs[name] = result.output
    assert "added 4," in outputs["ray"] and "failed    " in outputs["ray"] and "broken.json" in outputs["ray"]
    local, distributed = (Collection(Config.load(env={}, data_dir=tmp_path / name)) for name in ("local", "ray"))
    assert [a.article.id for a in local.store.articles()] == [a.article.id for a in distributed.store.articles()]
    mine, theirs = _vectors_by_chunk(local), _vectors_by_chunk(distributed)
    assert mine.keys() == theirs.keys() and len(mine) >= 4
    assert max(float(np.abs(mine[k] - theirs[k]).max()) for k in mine) < 1e-4
    question = "Which bridge opened over the Wend river?"
    assert ([p.chunk_id for p in Retriever(local).search(question, k=5, rerank=False)]
            == [p.chunk_id for p in Retriever(distributed).search(question, k=5, rerank=False)])
    assert distributed.check() == [] and not any((tmp_path / "ray" / "staging").glob("*"))

    again = CliRunner().invoke(main, ["--data-dir", str(tmp_path / "ray"), "ingest", str(corpus), "--ray"])
    assert "added 0," in again.output and "unchanged 4" in again.output  # nothing sent to Ray


def test_without_ray_nothing_imports_it(tmp_path: Path) -> None:
    args = ["--data-dir", str(tmp_path / "d"), "ingest", str(ROOT / "seeds")]
    code = ("import sys\nfrom click.testing import CliRunner\nfrom qa.interfaces.cli import main\n"
            f"r = CliRunner().invoke(main, {args!r})\nassert r.exit_code == 0, r.output\nprint('ray' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"
