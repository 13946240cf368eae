"""The one answering API: question (+ history, filters) -> cited Answer, whole or streamed."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from embeddings import Reranker, load_reranker
from qa.answering import decisions
from qa.answering.answers import ExtractiveAnswerer, checks_named
from qa.answering.candidates import Ranking
from qa.answering.checks import Asked
from qa.answering.followup import Turn, bound_history, rewrite
from qa.answering.llm import LLMAnswerer, LLMError, client_from_config
from qa.answering.scorer import COSINE, CROSS_ENCODER, AnswerScorer, ScorerWeights, load_weights
from qa.answering.trace import Trace
from qa.config import Config
from qa.retrieval.evidence import SentenceScorer
from qa.retrieval.search import Retriever
from qa.storage.collection import Collection
from qa.text.answer_type import expected
from qa.text.names import places
from qa.text.questions import bound_question
from qa.types import Answer, SearchFilters

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class Event:
    """One step of a streamed answer: a status line, a piece of answer text, or the final answer."""

    kind: Literal["status", "delta", "answer"]
    text: str = ""
    answer: Answer | None = None


@dataclass
class Assistant:
    """Answers questions over a collection. Thread-safe: the app shares one across users."""

    config: Config
    # Weights to score candidates with instead of the shipped, fitted ones (benchmarks/fit_scorer.py collects
    # features before there are weights for them).
    scorer_weights: ScorerWeights | None = None
    collection: Collection = field(init=False)

    def __post_init__(self) -> None:
        self.collection = Collection(self.config)
        self._reranker: Reranker | None = None
        self._reranker_loaded = False
        self._answer_scorer: AnswerScorer | None = None
        self._lock = threading.Lock()

    @property
    def reranker(self) -> Reranker | None:
        """The configured cross-encoder, loaded on first use (None when turned off)."""
        with self._lock:
            if not self._reranker_loaded:
                self._reranker = load_reranker(self.config.reranker_model)
                self._reranker_loaded = True
            return self._reranker

    def warm_up(self) -> None:
        """Loads the encoder and the cross-encoder and runs each once, and reads the place-name gazetteer, so
        that the first question after a start is as fast as the next ones (the server calls this in the
        background as it starts)."""
        started = time.perf_counter()
        self.collection.encoder.encode_query("warm up")
        if self.reranker is not None:
            self.reranker.score("warm up", ["The models are loaded."])
        places()
        log.info("models warm in %.1f s", time.perf_counter() - started)

    def scorer(self) -> SentenceScorer:
        """Scores sentences against a query: the cross-encoder, or embedding cosine when it is off."""
        reranker = self.reranker
        if reranker is not None:
            return reranker.score

        def cosine(query: str, texts: Sequence[str]) -> np.ndarray:
            encoder = self.collection.encoder
            return (encoder.encode(list(texts)) @ encoder.encode_query(query).T).ravel()

        return cosine

    @property
    def answer_scorer(self) -> AnswerScorer:
        """The fitted scorer for the candidates' scale: cross-encoder logits, or cosines without a reranker;
        ``Config.abstain_threshold`` (a probability) overrides its fitted threshold when set."""
        if self._answer_scorer is None:
            weights = self.scorer_weights or load_weights(CROSS_ENCODER if self.reranker is not None else COSINE)
            threshold = self.config.abstain_threshold
            self._answer_scorer = AnswerScorer(weights, threshold if 0.0 < threshold < 1.0 else None)
        return self._answer_scorer

    @property
    def retriever(self) -> Retriever:
        """Hybrid retriever over the current collection, reranking with :meth:`scorer`."""
        return Retriever(self.collection, self.scorer(), rerank_candidates=self.config.rerank_candidates,
                         sentence_budget=self.config.sentence_budget)

    def ask(self, question: str, history: Sequence[Turn] = (), filters: SearchFilters | None = None,
            as_of: str | None = None, use_llm: bool | None = None, explain: bool = False) -> Answer:
        """Answers ``question``; ``history`` makes follow-ups work, ``as_of`` is the question's date;
        ``explain`` attaches the answer's trace (its candidates, their checks' verdicts and the decision).

        Only the latest ``config.history_turns`` of ``history`` are read, each cut to ``config.history_chars``
        (the answer's notes say so), so a long history never slows an answer or grows its search query.

        ``use_llm`` None means "if one is configured"; the extractive answer is the fallback either way.
        """
        answer = None
        for event in self.stream(question, history, filters, as_of, use_llm, explain):
            if event.answer is not None:
                answer = event.answer
        assert answer is not None
        return answer

    def stream(self, question: str, history: Sequence[Turn] = (), filters: SearchFilters | None = None,
               as_of: str | None = None, use_llm: bool | None = None, explain: bool = False) -> Iterator[Event]:
        """Like :meth:`ask`, yielding status lines and answer text as they become available."""
        started = time.perf_counter()
        bounded = bound_question(question)
        question = bounded.text
        if not question or not any(ch.isalnum() for ch in question):
            yield Event("answer", answer=Answer(question=question, text="Please ask a question in words.",
                                                notes=[bounded.note] if bounded.note else [],
                                                abstained=True, decision=decisions.EMPTY_QUESTION,
                                                trace=Trace(None, [], decisions.EMPTY_QUESTION) if explain else None))
            return
        context = bound_history(history, self.config.history_turns, self.config.history_chars)
        history = context.turns
        notes = [note for note in (bounded.note, context.note) if note]
        self.collection.refresh()
        query = rewrite(question, history)
        yield Event("status", "Searching the articles…")
        retrieval = self.retriever.retrieve(query, k=max(self.config.top_k, 20), filters=filters, as_of=as_of)
        passages = retrieval.passages
        searched = time.perf_counter()
        answer = None
        client = client_from_config(self.config) if (use_llm is None or use_llm) else None
        if client is not None and passages:
            # Only an LLM takes long enough to compose for a status line to be worth sending.
            yield Event("status", f"Found {len(passages)} passages; composing the answer…")
            try:
                for item in LLMAnswerer(client).stream(question, query, passages, history):
                    if isinstance(item, Answer):
                        answer = item
                    else:
                        yield Event("delta", item)
            except LLMError as error:
                log.warning("LLM unavailable, answering extractively: %s", error)
                notes.append(f"The LLM could not be reached ({error}); this answer was extracted from the articles.")
        elif use_llm and not self.config.llm_enabled:
            notes.append("No LLM is configured (QA_LLM_BASE_URL, QA_LLM_MODEL); answered extractively.")
        if answer is None:
            answerer = ExtractiveAnswerer(self.answer_scorer, self.config.answer_max_sentences,
                                          self.config.answer_margin, checks_named(self.config.answer_checks_off))
            answer = answerer.answer(question, query, passages, retrieval.evidence, retrieval.window, explain)
            for piece in _pieces(answer.text):
                yield Event("delta", piece)
        else:
            answer.decision = decisions.by_llm(answer)
            if explain:
                asked = Asked(question, expected(question), retrieval.window)
                answer.trace = decisions.trace(asked, retrieval.evidence, Ranking([], []), set(), set(),
                                               answer.decision, None)
        answer.notes = notes + answer.notes
        finished = time.perf_counter()
        answer.timings_ms = {**answer.timings_ms, "retrieve": (searched - started) * 1000,
                             "answer": (finished - searched) * 1000, "total": (finished - started) * 1000}
        yield Event("answer", answer=answer)


def _pieces(text: str) -> Iterator[str]:
    """Answer text in word-sized pieces, so the UI can show it arriving."""
    words = text.split(" ")
    for i, word in enumerate(words):
        yield word if i == 0 else " " + word
