"""Articles into the collection: sentence-aligned chunks (:mod:`.chunking`), the single writer that embeds and
commits only what changed (:mod:`.pipeline`), the write lock let go between a big upload's commits
(:mod:`.held_writer`) and reading, chunking and embedding on a Ray cluster (:mod:`.distributed`)."""
