"""The data dir: generations, the write lock and refresh (:mod:`.collection`), the SQLite metadata
(:mod:`.store`), the tantivy BM25 index (:mod:`.keyword_index`) and the date and source filters
(:mod:`.facets`). The vectors live in :mod:`embeddings`."""
