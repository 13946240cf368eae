"""BM25 keyword index over chunk texts (bm25s), rebuilt on change and saved beside the vectors."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

log = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG to stderr

_STEMMER = Stemmer.Stemmer("english")


def _tokens(texts: Sequence[str]) -> list[list[str]]:
    return bm25s.tokenize(list(texts), stopwords="en", stemmer=_STEMMER, return_ids=False,
                          show_progress=False)


def terms(texts: Sequence[str]) -> list[set[str]]:
    """The distinct stemmed, stop-word-free terms of each text, as the keyword index sees them."""
    return [set(tokens) for tokens in _tokens(texts)] if texts else []


class KeywordIndex:
    """Okapi BM25 over ``(id, text)`` pairs.

    bm25s has no incremental update, so every change rebuilds it from all chunk texts; that takes
    well under a second per 10k chunks, far less than embedding the new chunks.
    """

    def __init__(self, ids: np.ndarray, model: bm25s.BM25 | None) -> None:
        self._ids = np.asarray(ids, dtype=np.int64)
        self._model = model

    @classmethod
    def build(cls, ids: Sequence[int], texts: Sequence[str]) -> KeywordIndex:
        """Indexes ``texts`` under ``ids``."""
        if not texts:
            return cls(np.zeros(0, dtype=np.int64), None)
        model = bm25s.BM25(k1=0.9, b=0.4)  # the usual short-passage setting (Anserini defaults)
        model.index(_tokens(texts), show_progress=False)
        return cls(np.asarray(ids, dtype=np.int64), model)

    def __len__(self) -> int:
        return len(self._ids)

    def ids(self) -> np.ndarray:
        """All ids in the index."""
        return self._ids.copy()

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top ``k`` (id, score) pairs with a positive score, optionally only among ``allowed`` ids."""
        if self._model is None or k <= 0:
            return []
        tokens = _tokens([query])[0]
        if not tokens:
            return []
        mask = None
        if allowed is not None:
            mask = np.isin(self._ids, allowed).astype(np.float32)
        scores = self._model.get_scores(tokens, weight_mask=mask)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(int(self._ids[i]), float(scores[i])) for i in top if scores[i] > 0]

    def idf(self, words: set[str]) -> dict[str, float]:
        """BM25's inverse document frequency of each term (from :func:`terms`); unseen terms weigh the most."""
        if self._model is None:
            return dict.fromkeys(words, 1.0)
        vocabulary, pointers = self._model.vocab_dict, self._model.scores["indptr"]
        documents = len(self._ids)
        weights = {}
        for word in words:
            index = vocabulary.get(word)
            frequency = 0 if index is None or index + 1 >= len(pointers) else int(pointers[index + 1] - pointers[index])
            weights[word] = float(np.log(1 + (documents - frequency + 0.5) / (frequency + 0.5)))
        return weights

    def save(self, folder: Path) -> None:
        """Writes the index into ``folder`` atomically (a temp folder renamed into place)."""
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        np.save(tmp / "ids.npy", self._ids, allow_pickle=False)
        if self._model is not None:
            self._model.save(str(tmp), allow_pickle=False)
        for name in os.listdir(tmp):
            with open(tmp / name, "rb") as handle:
                os.fsync(handle.fileno())
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        """Reads an index saved by :meth:`save` (no pickle); raises ``OSError``/``ValueError`` when damaged."""
        ids = np.load(folder / "ids.npy", allow_pickle=False)
        if not len(ids):
            return cls(ids, None)
        model = bm25s.BM25.load(str(folder), allow_pickle=False, load_corpus=False)
        if int(model.scores["num_docs"]) != len(ids):
            raise ValueError(f"{folder}: BM25 holds {model.scores['num_docs']} documents but {len(ids)} ids")
        return cls(ids, model)
