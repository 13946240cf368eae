"""``qa eval``: ask a question set over a corpus and measure answers the way users feel them."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import string
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from qa.answering.followup import Turn
from qa.assistant import Assistant
from qa.config import Config
from qa.types import Answer

log = logging.getLogger(__name__)

_MARKER = re.compile(r"\s*\[\d+\]")


@dataclass(frozen=True)
class Question:
    """One evaluation question; gold fields are only used for scoring."""

    id: str
    question: str
    answers: list[str] = field(default_factory=list)
    doc_ids: list[str] = field(default_factory=list)
    date: str | None = None
    follows: str | None = None
    evidence: list[tuple[int, int]] = field(default_factory=list)  # marked answering sentences (offsets)

    @property
    def answerable(self) -> bool:
        """False for questions the corpus cannot answer (no gold answers)."""
        return bool(self.answers)


def own_index(config: Config, index_dir: Path | None = None) -> AbstractContextManager[Config]:
    """``config`` with a data dir of the evaluation's own, never the configured one: ``index_dir`` when
    given (kept, and reused when the same corpus is evaluated again), else a temporary folder removed when
    the context ends. ValueError when ``index_dir`` is the configured data dir."""
    if index_dir is None:
        return _temporary_index(config)
    if index_dir.expanduser().resolve() == config.data_dir.expanduser().resolve():
        raise ValueError(f"{index_dir} is the collection's data dir; an evaluation needs an index of its own "
                         "(another folder, or none for a temporary one)")
    return nullcontext(replace(config, data_dir=index_dir.expanduser()))


@contextmanager
def _temporary_index(config: Config) -> Iterator[Config]:
    with tempfile.TemporaryDirectory(prefix="qa-eval-") as folder:
        yield replace(config, data_dir=Path(folder))


def load_questions(path: Path, split: str = "all") -> list[Question]:
    """Reads question lines; ``split`` "dev"/"test" keeps a fixed half by hash of the id (for held-out reporting)."""
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            q = Question(str(raw["id"]), str(raw["question"]), [str(a) for a in raw.get("answers") or []],
                         [str(d) for d in raw.get("doc_ids") or []], raw.get("date"), raw.get("follows"),
                         [(int(a), int(b)) for a, b in raw.get("evidence_offsets") or []])
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path} line {number}: not a question record ({error})") from error
        if split == "all" or in_split(q.id, split):
            questions.append(q)
    return questions


def in_split(question_id: str, split: str) -> bool:
    """Deterministic 50/50 split of question ids into "dev" (tuning) and "test" (reporting)."""
    bucket = int(hashlib.sha1(question_id.encode()).hexdigest(), 16) % 2
    return (bucket == 0) == (split == "dev")


def normalize(text: str) -> str:
    """SQuAD answer normalisation: lower case, no punctuation (ASCII or typographic: “ ” ’ –), articles or
    extra spaces."""
    text = "".join(ch for ch in text.lower()
                   if ch not in string.punctuation and not unicodedata.category(ch).startswith("P"))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD token-overlap F1 between two strings."""
    predicted, expected = normalize(prediction).split(), normalize(gold).split()
    common = sum((Counter(predicted) & Counter(expected)).values())
    if not common:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def contains(text: str, answers: list[str]) -> bool:
    """True if any gold answer appears in ``text`` after normalisation."""
    haystack = f" {normalize(text)} "
    return any(f" {normalize(a)} " in haystack for a in answers if normalize(a))


def result_record(question: Question, answer: Answer, latency_ms: float) -> dict:
    """The JSON line written for one question."""
    return {
        "id": question.id,
        "answer": answer.text,
        "abstained": answer.abstained,
        "confidence": None if answer.confidence is None else round(answer.confidence, 4),
        "citations": [{"n": c.n, "doc_id": c.article_id, "chunk_id": c.chunk_id, "quote": c.quote, "date": c.date,
                       "start": c.start, "end": c.end}
                      for c in answer.citations],
        "retrieved": [{"doc_id": p.article_id, "chunk_id": p.chunk_id, "score": round(p.score, 4)}
                      for p in answer.retrieved],
        "latency_ms": round(latency_ms, 1),
        **({"short_answer": answer.short_answer, "reason_code": answer.trace.decision.code,
            "trace": answer.trace.as_json()} if answer.trace is not None else {}),
    }


def run(assistant: Assistant, questions: list[Question],
        explain: bool = False) -> Iterator[tuple[Question, Answer, float]]:
    """Asks every question (follow-ups get their earlier turn as history); yields answers with latency;
    ``explain`` attaches each answer's trace."""
    answered: dict[str, tuple[Question, Answer]] = {}
    for question in questions:
        history = []
        if question.follows and question.follows in answered:
            previous_q, previous = answered[question.follows]
            history = [Turn(previous_q.question, previous.text, previous.search_query)]
        started = time.perf_counter()
        answer = assistant.ask(question.question, history=history, as_of=question.date, explain=explain)
        latency = (time.perf_counter() - started) * 1000
        answered[question.id] = (question, answer)
        yield question, answer, latency


@dataclass
class Summary:
    """Aggregate scores of an evaluation run."""

    questions: int = 0
    answerable: int = 0
    hit_at: dict[int, float] = field(default_factory=dict)
    mrr_at_10: float = 0.0
    answer_contains_gold: float = 0.0
    token_f1: float = 0.0
    citation_correct: float = 0.0
    gold_citation: float = 0.0  # a citation of a gold article whose quote holds a gold answer, of all answerable
    answered_answerable: int = 0
    this_week: int = 0
    this_week_hit_at_1: float = 0.0
    cited_after_question: int = 0  # citations of articles dated after the question's date
    marked: int = 0
    quote_overlaps_marked: float = 0.0  # a cited quote overlaps the sentence people marked as answering
    abstained_answerable: float = 0.0
    abstained_unanswerable: float = 0.0
    unanswerable: int = 0
    latency_p50_ms: float = 0.0
    latency_p95_ms: float = 0.0

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        pct = lambda x: f"{100 * x:.1f}%"  # noqa: E731
        out = [f"questions: {self.questions} ({self.answerable} answerable, {self.unanswerable} unanswerable)"]
        if self.answerable:
            out += [
                "gold article: " + ", ".join(f"hit@{k} {pct(v)}" for k, v in self.hit_at.items())
                + f", MRR@10 {self.mrr_at_10:.3f}",
                f"answer contains gold answer: {pct(self.answer_contains_gold)}",
                f"SQuAD token F1: {pct(self.token_f1)}",
                f"citation correctness (a gold article's cited quote contains gold, of {self.answered_answerable}"
                f" answered): {pct(self.citation_correct)}",
                f"gold citation (a gold article's cited quote contains gold, of all answerable): "
                f"{pct(self.gold_citation)}",
                f"abstained on answerable: {pct(self.abstained_answerable)}",
            ]
        if self.unanswerable:
            out.append(f"abstained on unanswerable: {pct(self.abstained_unanswerable)}")
        if self.this_week:
            out.append(f"dated ('this week') questions: {self.this_week}, "
                       f"gold article hit@1 {pct(self.this_week_hit_at_1)}")
        out.append(f"citations of articles dated after the question's date: {self.cited_after_question}")
        if self.marked:
            out.append(f"cited quote overlaps the marked answering sentence: {pct(self.quote_overlaps_marked)} "
                       f"(of {self.marked})")
        out.append(f"latency: p50 {self.latency_p50_ms:.0f} ms, p95 {self.latency_p95_ms:.0f} ms")
        return out


def summarize(rows: list[tuple[Question, dict, list[set[str]]]]) -> Summary:
    """Scores ``(question, result record, retrieved articles' names)`` rows (see :func:`article_ranking`)."""
    summary = Summary(questions=len(rows))
    answerable = [(q, r, arts) for q, r, arts in rows if q.answerable]
    unanswerable = [(q, r) for q, r, _ in rows if not q.answerable]
    summary.answerable, summary.unanswerable = len(answerable), len(unanswerable)
    if answerable:
        ranks = []
        for q, _, articles in answerable:
            rank = next((i for i, names in enumerate(articles, 1) if names & set(q.doc_ids)), None)
            ranks.append(rank)
        summary.hit_at = {k: float(np.mean([r is not None and r <= k for r in ranks])) for k in (1, 5, 10)}
        summary.mrr_at_10 = float(np.mean([1 / r if r and r <= 10 else 0.0 for r in ranks]))
        texts = [_MARKER.sub("", r["answer"]) for _, r, _ in answerable]
        summary.answer_contains_gold = float(np.mean(
            [not r["abstained"] and contains(t, q.answers) for (q, r, _), t in zip(answerable, texts)]))
        summary.token_f1 = float(np.mean(
            [0.0 if r["abstained"] else max(token_f1(t, a) for a in q.answers)
             for (q, r, _), t in zip(answerable, texts)]))
        answered = [(q, r, arts) for q, r, arts in answerable if not r["abstained"]]
        summary.answered_answerable = len(answered)
        gold = [any(_cites_gold(q, c, arts) and contains(c["quote"], q.answers) for c in r["citations"])
                for q, r, arts in answered]
        summary.citation_correct = float(np.mean(gold)) if answered else 0.0
        summary.gold_citation = sum(gold) / len(answerable)
        summary.abstained_answerable = 1 - len(answered) / len(answerable)
        dated = [rank for (q, _, _), rank in zip(answerable, ranks) if q.date]
        summary.this_week = len(dated)
        summary.this_week_hit_at_1 = float(np.mean([rank == 1 for rank in dated])) if dated else 0.0
        marked = [(q, r, arts) for q, r, arts in answerable if q.evidence]
        summary.marked = len(marked)
        summary.quote_overlaps_marked = float(np.mean(
            [any(_cites_gold(q, c, arts) and any(c["start"] < end and start < c["end"] for start, end in q.evidence)
                 for c in r["citations"]) for q, r, arts in marked])) if marked else 0.0
    summary.cited_after_question = sum(1 for q, r, _ in rows for c in r["citations"]
                                       if q.date and c.get("date") and c["date"] > q.date)
    if unanswerable:
        summary.abstained_unanswerable = float(np.mean([r["abstained"] for _, r in unanswerable]))
    latencies = [r["latency_ms"] for _, r, _ in rows]
    if latencies:
        summary.latency_p50_ms = float(np.percentile(latencies, 50))
        summary.latency_p95_ms = float(np.percentile(latencies, 95))
    return summary


def _cites_gold(question: Question, citation: dict, articles: list[set[str]]) -> bool:
    """True if ``citation`` is of a gold article, named by id or by file stem (its names in ``articles``)."""
    names = next((names for names in articles if citation["doc_id"] in names), {citation["doc_id"]})
    return bool(names & set(question.doc_ids))


def article_ranking(answer: Answer, stems: dict[str, str]) -> list[set[str]]:
    """Distinct retrieved articles in order, each named by its id and its file's stem (gold may use either)."""
    ranking: list[set[str]] = []
    seen: set[str] = set()
    for passage in answer.retrieved:
        if passage.article_id not in seen:
            seen.add(passage.article_id)
            ranking.append({passage.article_id, stems.get(passage.article_id, passage.article_id)})
    return ranking
