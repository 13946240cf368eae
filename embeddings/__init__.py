"""Text encoders, cross-encoder rerankers and the FAISS vector index. Knows nothing of articles."""

from embeddings.encoder import AUTO, BACKENDS, Encoder, backend_for, resolve_model_path
from embeddings.layered_index import LayeredIndex, write_delta
from embeddings.onnx_cache import PRECISIONS
from embeddings.reranker import Reranker, load_reranker
from embeddings.vector_index import IndexFileError, VectorIndex

__all__ = ["AUTO", "BACKENDS", "PRECISIONS", "Encoder", "IndexFileError", "LayeredIndex", "Reranker", "VectorIndex",
           "backend_for", "load_reranker", "resolve_model_path", "write_delta"]
