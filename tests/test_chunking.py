"""Sentences and chunks keep exact offsets into the article text."""

from __future__ import annotations

import itertools
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from qa.ingest.chunking import Chunker, embedding_text
from qa.text.sentences import split_sentences
from qa.types import Article
from tests.conftest import ROOT


def _article(text: str, title: str = "T") -> Article:
    return Article(id="a", title=title, text=text, source_path="x")


def test_sentences_handle_abbreviations_and_paragraphs() -> None:
    text = ('Mr. Ahn met Dr. Smith in the U.S. on Jan. 5. They agreed.\n\n'
            'A headline without a period\n\n"We did," he said.')
    sentences = split_sentences(text)
    assert [s.text for s in sentences] == [
        "Mr. Ahn met Dr. Smith in the U.S. on Jan. 5.", "They agreed.", "A headline without a period",
        '"We did," he said.']
    assert all(text[s.start : s.end] == s.text for s in sentences)


def test_demo_chunks_round_trip_and_respect_sizes() -> None:
    chunker = Chunker(target_words=120, max_words=170, overlap_sentences=1)
    for line in (ROOT / "seeds" / "wikinews_gum.jsonl").read_text().splitlines():
        record = json.loads(line)
        article = _article(record["text"], record["title"])
        chunks = chunker.chunk(article)
        assert chunks, record["id"]
        for i, chunk in enumerate(chunks):
            assert chunk.position == i
            assert article.text[chunk.start : chunk.end] == chunk.text
            assert len(chunk.text.split()) <= 170
        # every sentence of the article is in some chunk
        covered = [(c.start, c.end) for c in chunks]
        for sentence in split_sentences(article.text, max_words=170):
            assert any(s <= sentence.start and sentence.end <= e for s, e in covered)


def test_overlap_repeats_one_sentence() -> None:
    text = " ".join(f"Sentence number {i} has exactly seven words." for i in range(60))
    chunks = Chunker(target_words=40, max_words=60, overlap_sentences=1).chunk(_article(text))
    assert len(chunks) > 3
    for first, second in itertools.pairwise(chunks):
        assert second.start < first.end  # overlapping
        assert first.text.endswith(second.text.split(". ")[0] + ".")


def test_run_on_text_is_capped() -> None:
    text = "word " * 1000
    chunks = Chunker(target_words=120, max_words=170).chunk(_article(text.strip()))
    assert all(len(c.text.split()) <= 170 for c in chunks)
    assert sum(len(c.text.split()) for c in chunks) >= 1000


def test_embedding_text_has_title_but_offsets_refer_to_body() -> None:
    article = _article("Body sentence one. Body sentence two.", title="Headline")
    chunk = Chunker().chunk(article)[0]
    assert embedding_text(article.title, chunk) == "Headline. Body sentence one. Body sentence two."
    assert article.text[chunk.start : chunk.end] == chunk.text


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=3000))
def test_any_text_round_trips(text: str) -> None:
    article = _article(text)
    for chunk in Chunker(target_words=20, max_words=30).chunk(article):
        assert article.text[chunk.start : chunk.end] == chunk.text
        assert chunk.text.strip() == chunk.text and chunk.text
