"""The embedding backends: the cached ONNX export, refusing to mix two encoders' vectors, the same results.

Real model, real export, real ONNX Runtime, real collections. The ONNX files are made once for this module,
in a cache folder of its own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from embeddings import Encoder, resolve_model_path
from embeddings.onnx_cache import cached_onnx, default_cache_dir
from qa.config import DEFAULT_EMBEDDING_MODEL
from qa.interfaces.cli import main
from tests.conftest import SEED_TITLE, small_corpus

MODEL = Path(resolve_model_path(DEFAULT_EMBEDDING_MODEL))
TEXTS = ["Tea.", "Which bread did the judges praise?",
         "A small bakery in the village of Elmsworth won the national bread prize on Tuesday. The judges praised "
         "its sourdough rye, which is baked in a wood-fired oven.",
         "The city opened a new cable-stayed bridge over the Wend river on Monday. " * 12]
QUERIES = ["Which bread did the judges praise?", "new comet seen through a backyard telescope",
           "how much did the bridge cost", "defence personnel exchanges between Japan and South Korea",
           "wood-fired oven", "naked eye in March"]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The user's cache folder, moved to a temporary one for this module (the CLI reads it from the env)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("user-cache")))
        yield default_cache_dir()


def _making(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("making ")]


def test_export_is_made_once_then_reused(cache_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="embeddings.onnx_cache"):
        int8 = cached_onnx(MODEL, "int8", cache_dir)
    fp32 = int8.with_name("model-fp32.onnx")
    assert len(_making(caplog)) == 2  # the fp32 export, then the INT8 file made from it
    made = {path: path.stat().st_mtime_ns for path in (fp32, int8)}
    for path in made:
        manifest = json.loads(path.with_suffix(".json").read_text())
        assert manifest["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="embeddings.onnx_cache"):
        assert cached_onnx(MODEL, "int8", cache_dir) == int8
        assert cached_onnx(MODEL, "fp32", cache_dir) == fp32
    assert _making(caplog) == []
    assert {path: path.stat().st_mtime_ns for path in made} == made


def test_damaged_or_half_written_export_is_made_again(cache_dir: Path, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    cached_onnx(MODEL, "int8", cache_dir)
    copy = tmp_path / "cache"
    shutil.copytree(cache_dir, copy)
    fp32 = cached_onnx(MODEL, "fp32", copy)
    int8 = fp32.with_name("model-int8.onnx")
    with open(fp32, "r+b") as handle:  # one flipped byte in the weights: same size, different checksum
        handle.seek(fp32.stat().st_size // 2)
        byte = handle.read(1)[0]
        handle.seek(-1, 1)
        handle.write(bytes([byte ^ 0xFF]))
    int8.with_suffix(".json").unlink()  # as a build interrupted before its manifest was written leaves it
    with caplog.at_level(logging.WARNING, logger="embeddings.onnx_cache"):
        assert cached_onnx(MODEL, "int8", copy) == int8
    assert any("damaged" in m for m in _making(caplog)) and any("manifest" in m for m in _making(caplog))
    assert (hashlib.sha256(fp32.read_bytes()).hexdigest()
            == hashlib.sha256(cached_onnx(MODEL, "fp32", cache_dir).read_bytes()).hexdigest())
    torch_vectors = Encoder(DEFAULT_EMBEDDING_MODEL, backend="torch").encode(TEXTS)
    assert np.allclose(Encoder(DEFAULT_EMBEDDING_MODEL, backend="onnx", cache_dir=copy).encode(TEXTS),
                       torch_vectors, atol=1e-4)


def test_onnx_vectors_match_torch_and_int8_ones_do_not_depend_on_their_batch(cache_dir: Path) -> None:
    torch_vectors = Encoder(DEFAULT_EMBEDDING_MODEL, backend="torch").encode(TEXTS)
    onnx = Encoder(DEFAULT_EMBEDDING_MODEL, backend="onnx", cache_dir=cache_dir)
    assert np.allclose(onnx.encode(TEXTS), torch_vectors, atol=1e-4)
    int8 = Encoder(DEFAULT_EMBEDDING_MODEL, backend="onnx-int8", cache_dir=cache_dir)
    together = int8.encode(TEXTS, slice_size=3)
    assert together.dtype == np.float32 and np.allclose(np.linalg.norm(together, axis=1), 1, atol=1e-5)
    assert (together * torch_vectors).sum(axis=1).min() > 0.995
    # Activations are quantised per run: each text runs alone, so its vector is the same in any company.
    assert np.array_equal(together, np.vstack([int8.encode_query(text) for text in TEXTS]))
    assert int8.precision != onnx.precision == Encoder(DEFAULT_EMBEDDING_MODEL, backend="torch").precision


def test_unknown_backend_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"unknown embedding backend 'onnx-fp16'.*torch, onnx, onnx-int8"):
        Encoder(DEFAULT_EMBEDDING_MODEL, backend="onnx-fp16")


def _qa(data_dir: Path, backend: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--data-dir", str(data_dir), *args], env={"QA_EMBEDDING_BACKEND": backend})
    return result.exit_code, result.output


def _top_chunks(data_dir: Path, backend: str, query: str) -> list[str]:
    code, out = _qa(data_dir, backend, "search", query, "--json", "-k", "3")
    assert code == 0, out
    return [hit["chunk_id"] for hit in json.loads(out)]


def _vector_ranking(data_dir: Path, backend: str) -> list[list[int]]:
    """Each query's chunk ids by vector similarity alone (no keywords, no reranker)."""
    from qa.config import Config
    from qa.storage.collection import Collection

    collection = Collection(Config.load(env={}, data_dir=data_dir, embedding_backend=backend))
    try:
        vectors = collection.snapshot().vectors
        return [[i for i, _ in vectors.search(collection.encoder.encode_query(q), 5)] for q in QUERIES]
    finally:
        collection.close()


def test_same_top_results_under_each_backend(cache_dir: Path, tmp_path: Path) -> None:
    corpus = small_corpus(tmp_path / "corpus")
    rankings, searches = {}, {}
    for backend in ("torch", "onnx", "onnx-int8"):
        data = tmp_path / backend
        code, out = _qa(data, backend, "ingest", str(corpus))
        assert code == 0 and "added 4" in out, out
        rankings[backend] = _vector_ranking(data, backend)
        searches[backend] = [_top_chunks(data, backend, q) for q in QUERIES]
    assert rankings["onnx"] == rankings["torch"] and searches["onnx"] == searches["torch"]
    # INT8 may swap near-tied runners-up; what comes first, and which passages make the top three, stay.
    for backend_rankings in (rankings, searches):
        int8, fp32 = backend_rankings["onnx-int8"], backend_rankings["torch"]
        assert [r[0] for r in int8] == [r[0] for r in fp32]
        assert [set(r[:3]) for r in int8] == [set(r[:3]) for r in fp32]


def test_vectors_of_two_encoders_are_never_mixed(cache_dir: Path, tmp_path: Path) -> None:
    data, corpus = tmp_path / "data", small_corpus(tmp_path / "corpus")
    assert _qa(data, "torch", "ingest", str(corpus))[0] == 0
    assert _top_chunks(data, "onnx", "Japan South Korea defense exchanges")  # fp32 from either backend mixes

    for args in (["search", "bridge"], ["ingest", str(corpus)]):
        code, out = _qa(data, "onnx-int8", *args)
        assert code != 0
        assert "are fp32 vectors" in out and "int8" in out and "must not be mixed" in out
        assert "QA_EMBEDDING_BACKEND=torch" in out and "qa rebuild --re-embed" in out

    code, out = _qa(data, "onnx-int8", "rebuild", "--re-embed")
    assert code == 0 and "rebuilt:" in out and "embedded" in out, out
    code, out = _qa(data, "onnx-int8", "search", "Japan South Korea defense exchanges", "--json")
    assert code == 0 and json.loads(out)[0]["title"] == SEED_TITLE
    code, out = _qa(data, "torch", "search", "bridge")
    assert code != 0 and "are int8-r2 vectors" in out and "QA_EMBEDDING_BACKEND=onnx-int8" in out


def test_collection_without_a_record_holds_torch_fp32_vectors(cache_dir: Path, tmp_path: Path) -> None:
    data, corpus = tmp_path / "data", small_corpus(tmp_path / "corpus")
    assert _qa(data, "torch", "ingest", str(corpus))[0] == 0
    with sqlite3.connect(data / "metadata.sqlite") as db:  # as a collection made before backends were recorded
        db.execute("DELETE FROM meta WHERE key = 'embedding_precision'")
    assert _qa(data, "torch", "search", "bridge")[0] == 0
    code, out = _qa(data, "onnx-int8", "search", "bridge")
    assert code != 0 and "are fp32 vectors" in out


def test_int8_file_quantises_every_dense_layer(cache_dir: Path) -> None:
    import onnx

    model = onnx.load(str(cached_onnx(MODEL, "int8", cache_dir)))
    weights = {w.name for w in model.graph.initializer}
    kinds = [n.op_type for n in model.graph.node]
    assert not [n.name for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in weights]
    # Q, K, V, attention output and feed-forward input per token; the feed-forward output in blocks.
    assert kinds.count("MatMulInteger") == 6 * 5 and kinds.count("MatMulNBits") == 6


def test_auto_backend_picks_the_fastest_that_makes_the_stored_vectors(cache_dir: Path, tmp_path: Path) -> None:
    from qa.config import Config
    from qa.storage.collection import Collection

    def opened(data: Path) -> str:
        collection = Collection(Config.load(env={}, data_dir=data))
        try:
            return collection.encoder.backend
        finally:
            collection.close()

    corpus = small_corpus(tmp_path / "corpus")
    new, old = tmp_path / "new", tmp_path / "old"
    assert _qa(new, "auto", "ingest", str(corpus))[0] == 0
    assert opened(new) == "onnx-int8"
    assert _qa(old, "torch", "ingest", str(corpus))[0] == 0  # a collection of the previous release's default
    assert opened(old) == "onnx"  # the same fp32 vectors, faster than torch
    code, out = _qa(old, "auto", "search", "Japan South Korea defense exchanges", "--json")
    assert code == 0 and json.loads(out)[0]["title"] == SEED_TITLE
    code, out = _qa(old, "auto", "rebuild")  # keeps the vectors
    assert code == 0 and "vectors kept" in out and opened(old) == "onnx", out
    code, out = _qa(old, "auto", "rebuild", "--re-embed")  # converts them to the fastest backend's
    assert code == 0 and "embedded with" in out and opened(old) == "onnx-int8", out

    with sqlite3.connect(new / "metadata.sqlite") as db:  # INT8 vectors of an earlier recipe
        db.execute("UPDATE meta SET value = 'int8-r1' WHERE key = 'embedding_precision'")
    code, out = _qa(new, "auto", "search", "bridge")
    assert code != 0 and "are int8-r1 vectors" in out and "qa rebuild --re-embed" in out


def test_unknown_backend_setting_is_one_error_line(tmp_path: Path) -> None:
    code, out = _qa(tmp_path / "data", "onnx-fp16", "search", "bridge")
    assert code == 1 and "Traceback" not in out
    assert "error: QA_EMBEDDING_BACKEND: unknown embedding backend 'onnx-fp16'" in out and "(or auto)" in out
