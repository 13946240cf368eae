"""Articles from the web: a link fetched safely and politely (:mod:`.fetch`), its article text extracted
(:mod:`.extract`) and ingested through the collection's single writer (:mod:`.links`); feeds and sitemaps
(:mod:`.feeds`) followed with their state in the collection's SQLite (:mod:`.feed_store`) and polled when due
(:mod:`.poller`)."""
