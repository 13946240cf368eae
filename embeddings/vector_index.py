"""FAISS vector index with 64-bit ids, exact or HNSW, saved atomically."""

from __future__ import annotations

import os
from pathlib import Path

import faiss
import numpy as np

INDEX_TYPES = ("flat", "hnsw")


class IndexFileError(RuntimeError):
    """An index file that is missing, truncated or not what it claims to be."""


class VectorIndex:
    """Inner-product search over normalised vectors, addressed by integer ids.

    ``flat`` is exact and supports removal directly; ``hnsw`` is approximate and faster on large
    collections, and removal rebuilds the graph from the stored vectors (HNSW cannot delete).
    """

    def __init__(self, dimension: int, index_type: str = "flat") -> None:
        if index_type not in INDEX_TYPES:
            raise ValueError(f"unknown index type {index_type!r}; choose one of {', '.join(INDEX_TYPES)}")
        self.dimension = dimension
        self.index_type = index_type
        self._index = self._empty()

    def _empty(self) -> faiss.IndexIDMap2:
        if self.index_type == "hnsw":
            inner = faiss.IndexHNSWFlat(self.dimension, 32, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efSearch = 128
        else:
            inner = faiss.IndexFlatIP(self.dimension)
        return faiss.IndexIDMap2(inner)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        """All ids in the index."""
        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Adds vectors under ``ids`` (which must not be present yet)."""
        if len(ids) != len(vectors):
            raise ValueError("ids and vectors differ in length")
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                     np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> None:
        """Removes ``ids``; unknown ids are ignored."""
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids) or not len(self):
            return
        if self.index_type == "flat":
            self._index.remove_ids(faiss.IDSelectorBatch(ids))
            return
        keep = np.setdiff1d(self.ids(), ids)
        vectors = np.vstack([self._index.reconstruct(int(i)) for i in keep]) if len(keep) else None
        self._index = self._empty()
        if vectors is not None:
            self.add(keep, vectors)

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top ``k`` (id, score) pairs for one query vector, optionally only among ``allowed`` ids."""
        if not len(self) or k <= 0:
            return []
        params = None
        if allowed is not None:
            if not len(allowed):
                return []
            # A bitmap over ids: built in one vectorised pass, looked up in O(1); IDSelectorBatch would build a
            # hash set of every allowed id on each search (~0.1 s at a million ids). ``bitmap`` stays referenced
            # by this frame while FAISS reads it.
            bitmap = _bitmap(np.asarray(allowed, dtype=np.int64))
            selector = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
            params = (faiss.SearchParametersHNSW(sel=selector, efSearch=128) if self.index_type == "hnsw"
                      else faiss.SearchParameters(sel=selector))
        scores, ids = self._index.search(np.asarray(query, dtype=np.float32).reshape(1, -1),
                                         min(k, len(self)), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]

    def copy(self) -> VectorIndex:
        """An independent copy, so readers keep the old index while a writer changes the new one."""
        clone = VectorIndex(self.dimension, self.index_type)
        clone._index = faiss.deserialize_index(faiss.serialize_index(self._index))
        return clone

    def save(self, path: Path) -> None:
        """Writes the index to ``path`` atomically (temp file, fsync, rename)."""
        tmp = path.with_name(path.name + ".tmp")
        data = faiss.serialize_index(self._index)
        with open(tmp, "wb") as handle:
            handle.write(data.tobytes())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, dimension: int, index_type: str) -> VectorIndex:
        """Reads an index saved by :meth:`save`; raises :class:`IndexFileError` naming the file if it is bad."""
        try:
            data = np.fromfile(path, dtype=np.uint8)
            index = faiss.deserialize_index(data)
        except (OSError, RuntimeError, ValueError) as error:
            raise IndexFileError(f"{path}: cannot read vector index ({str(error).splitlines()[0]})") from error
        if index.d != dimension:
            raise IndexFileError(f"{path}: vectors are {index.d}-d, expected {dimension}-d")
        loaded = cls(dimension, index_type)
        if not isinstance(index, faiss.IndexIDMap2):
            raise IndexFileError(f"{path}: not an id-mapped FAISS index")
        loaded._index = index
        return loaded


def _bitmap(ids: np.ndarray) -> np.ndarray:
    """Bit ``i`` set for each ``i`` in ``ids`` (non-negative), packed little-endian as FAISS expects."""
    bits = np.zeros(int(ids.max()) + 1, dtype=bool)
    bits[ids] = True
    return np.packbits(bits, bitorder="little")
