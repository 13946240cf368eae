"""The sentence-transformers encoder run by ONNX Runtime: same tokens, same pooling, same vectors.

Each text runs alone, on one core, and as many texts run at once as there are cores (one shared session,
intra-op threads 1, a pool of ``workers`` threads: ONNX Runtime releases the GIL while it runs). Alone,
because then nothing is spent on padding (no batch is ever padded to its longest text), and because the
INT8 model scales activations as it runs: alone, a text's vector never depends on its company, so a query
and the same text stored in a chunk get equal vectors. One core
each, because on a single text an operator split over several cores spends much of its time waiting for
the others; whole texts in parallel keep every core busy.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tokenizers import Encoding, Tokenizer

log = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length, when the folder does not say


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class OnnxSession:
    """Encodes texts with an exported transformer (``model_file``) and the tokenizer and pooling settings
    of the sentence-transformers folder ``model_path``: mean of the token embeddings, then L2-normalised."""

    def __init__(self, model_file: Path, model_path: Path, workers: int | None = None) -> None:
        import onnxruntime

        _check_pooling(model_path)
        self.workers = workers or usable_cores()
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = 1  # each run stays on its caller's thread: the pool is the parallelism
        options.inter_op_num_threads = 1
        options.enable_cpu_mem_arena = False  # every text has its own shape; keeps memory flat in a server
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = onnxruntime.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = load_tokenizer(model_path)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="encoder")

    @property
    def dimension(self) -> int:
        """Vector size (the hidden size of the model's last layer)."""
        return int(self._session.get_outputs()[0].shape[-1])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), dimension)`` float32 vectors, L2-normalised, in the order given."""
        encodings = self._tokenizer.encode_batch(list(texts))
        # Longest first, so the pool does not end with one long text running while the other cores idle.
        order = sorted(range(len(encodings)), key=lambda i: -len(encodings[i].ids))
        vectors = np.empty((len(encodings), self.dimension), dtype=np.float32)
        for i, vector in zip(order, self._pool.map(self._vector, [encodings[i] for i in order])):
            vectors[i] = vector
        return vectors

    def _vector(self, encoding: Encoding) -> np.ndarray:
        feed = one_text_feed(encoding.ids)
        tokens = self._session.run(None, {name: value for name, value in feed.items() if name in self._inputs})[0][0]
        # sentence-transformers: mean over the attended tokens (all of them: nothing is padded), then
        # divided by max(norm, 1e-12).
        mean = tokens.astype(np.float32).mean(axis=0)
        return mean / max(float(np.linalg.norm(mean)), 1e-12)


def load_tokenizer(model_path: Path) -> Tokenizer:
    """The model's tokenizer, cutting at :func:`max_tokens`, padding nothing."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_tokens(model_path))
    tokenizer.no_padding()
    return tokenizer


def one_text_feed(ids: list[int]) -> dict[str, np.ndarray]:
    """The transformer's inputs for one text of token ``ids`` (nothing padded, so every token attended)."""
    array = np.array([ids], dtype=np.int64)
    return {"input_ids": array, "attention_mask": np.ones_like(array), "token_type_ids": np.zeros_like(array)}


def feeds(model_path: Path, texts: Sequence[str]) -> Iterator[dict[str, np.ndarray]]:
    """The inputs of each of ``texts``, one text at a time, as :class:`OnnxSession` runs them."""
    tokenizer = load_tokenizer(model_path)
    for encoding in tokenizer.encode_batch(list(texts)):
        yield one_text_feed(encoding.ids)


def max_tokens(model_path: Path) -> int:
    """The model's ``max_seq_length`` (its sentence_bert_config.json), where texts are cut."""
    config = model_path / "sentence_bert_config.json"
    if config.is_file():
        return int(json.loads(config.read_text(encoding="utf-8")).get("max_seq_length", DEFAULT_MAX_TOKENS))
    return DEFAULT_MAX_TOKENS


def _check_pooling(model_path: Path) -> None:
    """Refuses a model whose sentence-transformers pipeline is not mean pooling + normalisation, which is
    all this class reproduces."""
    config = model_path / "1_Pooling" / "config.json"
    modules = model_path / "modules.json"
    try:
        pooling = json.loads(config.read_text(encoding="utf-8"))
        kinds = [m.get("type", "") for m in json.loads(modules.read_text(encoding="utf-8"))]
    except (OSError, ValueError) as error:
        raise ValueError(f"{model_path}: cannot read its sentence-transformers pooling settings ({error})") from error
    modes = {key for key, on in pooling.items() if key.startswith("pooling_mode_") and on}
    if modes != {"pooling_mode_mean_tokens"} or not kinds or not kinds[-1].endswith("Normalize"):
        raise ValueError(f"{model_path}: the ONNX backends reproduce mean pooling + normalisation only "
                         f"(this model uses {sorted(modes)} and {kinds}); use QA_EMBEDDING_BACKEND=torch")
