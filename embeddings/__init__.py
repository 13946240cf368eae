"""Text encoders, cross-encoder rerankers and the FAISS vector index. Knows nothing of articles."""

from embeddings.encoder import Encoder, resolve_model_path
from embeddings.reranker import Reranker, load_reranker
from embeddings.vector_index import IndexFileError, VectorIndex

__all__ = ["Encoder", "IndexFileError", "Reranker", "VectorIndex", "load_reranker", "resolve_model_path"]
