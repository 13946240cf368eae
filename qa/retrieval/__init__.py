"""Finding what to read: dense and BM25 candidates fused under the filters and the as-of date
(:mod:`.search`), then the sentences read by the cross-encoder, the evidence (:mod:`.evidence`)."""
