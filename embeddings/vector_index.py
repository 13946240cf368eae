"""FAISS vector index with 64-bit ids: exact, HNSW or IVF; saved atomically, opened memory-mapped."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import faiss
import numpy as np

log = logging.getLogger(__name__)

INDEX_TYPES = ("flat", "hnsw", "ivf")
IVF_EXACT_BELOW = 20_000  # an IVF search among fewer allowed ids reads just those (a narrow filter)
IVF_RECALL = 0.96  # nprobe is the smallest that finds this share of the exact top 10 (target: >= 0.95)


class IndexFileError(RuntimeError):
    """An index file that is missing, truncated or not what it claims to be."""


class VectorIndex:
    """Inner-product search over normalised vectors, addressed by integer ids.

    ``flat`` is exact; ``hnsw`` is approximate and cannot delete; ``ivf`` (inverted lists of 8-bit
    scalar-quantised vectors, a quarter of flat's memory) is approximate, built in one go by
    :meth:`build`, which trains it and chooses how many lists a search visits.
    """

    def __init__(self, dimension: int, index_type: str = "flat") -> None:
        if index_type not in INDEX_TYPES:
            raise ValueError(f"unknown index type {index_type!r}; choose one of {', '.join(INDEX_TYPES)}")
        if index_type == "ivf":
            raise ValueError("an IVF index is trained on its vectors: use VectorIndex.build")
        if index_type == "hnsw":
            inner = faiss.IndexHNSWFlat(dimension, 32, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efSearch = 128
        else:
            inner = faiss.IndexFlatIP(dimension)
        self._adopt(dimension, index_type, faiss.IndexIDMap2(inner))

    def _adopt(self, dimension: int, index_type: str, index: faiss.IndexIDMap2) -> None:
        self.dimension, self.index_type, self._index = dimension, index_type, index
        self._sorted: np.ndarray | None = None  # ids in order, for filtered IVF searches; built on first use

    @classmethod
    def _of(cls, dimension: int, index_type: str, index: faiss.IndexIDMap2) -> VectorIndex:
        """A VectorIndex around an existing FAISS index (built, copied or read)."""
        wrapped = cls.__new__(cls)
        wrapped._adopt(dimension, index_type, index)
        return wrapped

    @classmethod
    def build(cls, dimension: int, index_type: str, ids: np.ndarray, vectors: np.ndarray) -> VectorIndex:
        """An index of ``index_type`` holding ``vectors`` under ``ids``. An IVF index gets ~4·√N lists,
        trained on a sample, and visits the fewest lists that find ``IVF_RECALL`` of the exact top 10 of
        held-out queries (:func:`_enough_probes`); with too few vectors to train on, it stays flat."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if index_type != "ivf" or len(vectors) < 10_000:
            index = cls(dimension, "flat" if index_type == "ivf" else index_type)
            index.add(ids, vectors)
            return index
        rng = np.random.default_rng(0)
        lists = int(min(4 * math.sqrt(len(vectors)), len(vectors) // 39))
        ivf = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(dimension), dimension, lists,
                                            faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
        ivf.train(vectors[rng.choice(len(vectors), min(len(vectors), 64 * lists), replace=False)])
        index = cls._of(dimension, "ivf", faiss.IndexIDMap2(ivf))
        index.add(ids, vectors)
        ivf.make_direct_map()  # reconstruct() by position: filtered searches and compaction read vectors
        ivf.nprobe = _enough_probes(index._index, ivf, vectors, rng)
        log.info("IVF index: %d vectors in %d lists, %d visited per search", len(vectors), lists, ivf.nprobe)
        return index

    @property
    def probes(self) -> int | None:
        """How many inverted lists a search visits (IVF only)."""
        return int(faiss.extract_index_ivf(self._index.index).nprobe) if self.index_type == "ivf" else None

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        """All ids in the index."""
        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Every ``(id, vector)``, as two arrays (an IVF index gives its 8-bit vectors decoded)."""
        inner = self._index.index
        if not len(self):
            return np.zeros(0, np.int64), np.zeros((0, self.dimension), np.float32)
        return self.ids(), inner.reconstruct_n(0, len(self))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Adds vectors under ``ids`` (which must not be present yet)."""
        if len(ids) != len(vectors):
            raise ValueError("ids and vectors differ in length")
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                     np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> None:
        """Removes ``ids`` (flat or IVF; HNSW cannot delete: layers above it keep tombstones); unknown ids
        are ignored."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) and len(self):
            self._index.remove_ids(faiss.IDSelectorBatch(ids))

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None,
               excluded: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top ``k`` (id, score) pairs for one query vector, only among ``allowed`` ids when given, never
        among ``excluded`` ones.

        IVF visits only its nearest lists, where a narrow filter may leave few allowed ids: it reads the
        allowed vectors alone when they are few, and visits more lists the fewer are allowed otherwise.
        """
        if not len(self) or k <= 0 or (allowed is not None and not len(allowed)):
            return []
        probes = self.probes
        if probes is not None and allowed is not None:
            if len(allowed) <= IVF_EXACT_BELOW:
                return self._among(query, k, np.asarray(allowed, dtype=np.int64))
            lists = faiss.extract_index_ivf(self._index.index).nlist
            probes = min(lists, math.ceil(probes * len(self) / len(allowed)))
        # Bitmaps over ids: built in one vectorised pass, looked up in O(1); IDSelectorBatch would build a
        # hash set of every allowed id on each search (~0.1 s at a million ids). ``bitmap`` stays referenced
        # by this frame while FAISS reads it.
        bitmap, selector = None, None
        if allowed is not None:
            bitmap = _bitmap(np.asarray(allowed, dtype=np.int64))
            selector = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
        elif excluded is not None and len(excluded):
            bitmap = _bitmap(np.asarray(excluded, dtype=np.int64))
            selector = faiss.IDSelectorNot(faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap)))
        params = None
        if self.index_type == "hnsw":
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=128)
        elif self.index_type == "ivf":
            params = faiss.SearchParametersIVF(sel=selector, nprobe=probes)
        elif selector is not None:
            params = faiss.SearchParameters(sel=selector)
        scores, ids = self._index.search(np.asarray(query, dtype=np.float32).reshape(1, -1),
                                         min(k, len(self)), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]

    def _among(self, query: np.ndarray, k: int, allowed: np.ndarray) -> list[tuple[int, float]]:
        """Exact top ``k`` among the ``allowed`` ids this index holds (their vectors read in one batch)."""
        held = self._sorted_ids()
        at = np.minimum(np.searchsorted(held, allowed), len(held) - 1)
        present = allowed[held[at] == allowed]
        if not len(present):
            return []
        vectors = self._index.reconstruct_batch(present)
        scores = vectors @ np.asarray(query, dtype=np.float32).ravel()
        best = np.argsort(-scores)[:k]
        return [(int(present[i]), float(scores[i])) for i in best]

    def _sorted_ids(self) -> np.ndarray:
        if self._sorted is None or len(self._sorted) != len(self):
            self._sorted = np.sort(self.ids())
        return self._sorted

    def copy(self) -> VectorIndex:
        """An independent copy, so readers keep the old index while a writer changes the new one."""
        return VectorIndex._of(self.dimension, self.index_type,
                               faiss.deserialize_index(faiss.serialize_index(self._index)))

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
    def load(cls, path: Path, dimension: int, mmap: bool = False) -> VectorIndex:
        """Reads an index saved by :meth:`save` (its type from the file); with ``mmap`` an IVF index's lists
        stay in the file, paged in as searches read them, so opening it does not read it all (a flat index
        is read whole either way). Raises :class:`IndexFileError` naming the file if it is bad."""
        try:
            if not path.is_file():
                raise OSError("no such file")
            flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
            index = faiss.read_index(str(path), flags)
        except (OSError, RuntimeError, ValueError) as error:
            raise IndexFileError(f"{path}: cannot read vector index ({str(error).splitlines()[0]})") from error
        if index.d != dimension:
            raise IndexFileError(f"{path}: vectors are {index.d}-d, expected {dimension}-d")
        if not isinstance(index, faiss.IndexIDMap2):
            raise IndexFileError(f"{path}: not an id-mapped FAISS index")
        inner = faiss.downcast_index(index.index)
        index_type = ("hnsw" if isinstance(inner, faiss.IndexHNSW)
                      else "ivf" if isinstance(inner, faiss.IndexIVF) else "flat")
        if index_type == "ivf":
            faiss.extract_index_ivf(index.index).make_direct_map()
        return cls._of(dimension, index_type, index)


def _enough_probes(index: faiss.IndexIDMap2, ivf: faiss.IndexIVF, vectors: np.ndarray, rng: np.random.Generator,
                   k: int = 10) -> int:
    """The fewest lists to visit (a power of two) so that ``index`` finds ``IVF_RECALL`` of the exact top
    ``k`` of 200 held-out queries: half of them stored vectors (their own left out), half the midpoints of
    two random stored vectors, which lie between topics as many questions do and need more lists."""
    own = rng.choice(len(vectors), 100, replace=False)
    pairs = rng.choice(len(vectors), (100, 2))
    between = vectors[pairs[:, 0]] + vectors[pairs[:, 1]]
    queries = np.vstack([vectors[own], between / np.linalg.norm(between, axis=1, keepdims=True)])
    _, truth = faiss.knn(queries, vectors, k + 1, metric=faiss.METRIC_INNER_PRODUCT)
    ids = faiss.vector_to_array(index.id_map)
    owners = [*own.tolist(), *[-1] * len(between)]
    wanted = [set(ids[[r for r in row if r != owner][:k]].tolist()) for row, owner in zip(truth, owners)]
    probes = 1
    while probes < ivf.nlist:
        _, found = index.search(queries, k + 1, params=faiss.SearchParametersIVF(nprobe=probes))
        if sum(len(w & set(row.tolist())) for w, row in zip(wanted, found)) >= IVF_RECALL * k * len(queries):
            break
        probes *= 2
    return min(probes, ivf.nlist)


def _bitmap(ids: np.ndarray) -> np.ndarray:
    """Bit ``i`` set for each ``i`` in ``ids`` (non-negative), packed little-endian as FAISS expects."""
    bits = np.zeros(int(ids.max()) + 1, dtype=bool)
    bits[ids] = True
    return np.packbits(bits, bitorder="little")
