"""Ask questions about a folder of articles; get short answers that cite their source sentences.

The package follows the data flow: ``qa.sources`` (links and feeds) → ``qa.articles`` (readers) →
``qa.ingest`` (chunking, the ingest pipeline, Ray) → ``qa.storage`` (collection, vector store, keyword
index, facets) → ``qa.retrieval`` (hybrid search, evidence) → ``qa.answering`` (the extractive answerer,
checks, follow-ups, the optional LLM) → ``qa.interfaces`` (CLI, export, evaluation, the web page and API).
``qa.text`` holds the text helpers every stage shares (words, sentences, names, dates). ``qa.config``,
``qa.types`` and ``qa.assistant`` stay at the top.
"""
