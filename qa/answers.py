"""Passages -> Answer: pick the sentences that answer the question and cite each one, or abstain."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from qa.answer_type import Expected, Span, answer_span, expected, year_conflict
from qa.corroboration import corroborating, overlap
from qa.evidence import Evidence
from qa.outcome import other_life_event, outcome_unstated
from qa.sentences import ends_quotation, leans_back, split_sentences
from qa.timeframe import DateWindow
from qa.types import Answer, Citation, Passage

NO_ANSWER = "The articles don't say."
OFF_POINT = 1.0  # logits by which the best sentence may outscore the best one giving the asked kind of answer
LEAN_CHAIN = 2  # sentences a quote may reach back for the one it leans on, and that one's in turn
SURE_NAME_BONUS = 1.0  # logits for evidence naming a person/organisation/place of the kind asked (dev: 1-3 same)

_WHAT = {Expected.ANY: "an answer from an article of a fitting year", Expected.NUMBER: "a number",
         Expected.AGE: "an age", Expected.SHARE: "a share", Expected.MONEY: "an amount", Expected.DATE: "a date",
         Expected.YEAR: "a year", Expected.TIME: "a time", Expected.NAME: "a name", Expected.PERSON: "a name",
         Expected.ORGANISATION: "an organisation's name", Expected.PLACE: "a place"}
_WORD = re.compile(r"[\w']+")


def fitting_span(question: str, evidence: Evidence, kind: Expected | None = None) -> Span | None:
    """Where ``evidence`` gives the kind of answer ``question`` asks for (``kind``: ``expected(question)``);
    None when it gives none, comes from an article of a year the question cannot mean, or only looks ahead
    to the outcome the question asks for."""
    text = evidence.text
    if (year_conflict(question, text, evidence.passage.date) or outcome_unstated(question, text)
            or other_life_event(question, text)):
        return None
    return answer_span(question, text, kind, evidence.passage.text)


class CitationBuilder:
    """Numbers sources by first use; one number per (article, quote span)."""

    def __init__(self) -> None:
        self.citations: list[Citation] = []
        self._numbers: dict[tuple[str, int, int], int] = {}

    def cite(self, passage: Passage, start: int, end: int, quote: str,
             answer: tuple[int, int] | None = None, corroborates: int | None = None) -> int:
        """The ``[n]`` for this quote, adding a citation the first time it is used; ``answer`` is the span
        (article offsets) of what answers the question inside the quote; ``corroborates`` the number of
        the citation whose statement this one repeats."""
        key = (passage.article_id, start, end)
        if key not in self._numbers:
            n = len(self.citations) + 1
            self._numbers[key] = n
            self.citations.append(Citation(
                n=n, article_id=passage.article_id, chunk_id=passage.chunk_id, quote=quote, start=start, end=end,
                title=passage.title, date=passage.date, source=passage.source, url=passage.url,
                passage=passage.text, passage_start=passage.start,
                answer_start=answer[0] if answer else None, answer_end=answer[1] if answer else None,
                corroborates=corroborates))
        return self._numbers[key]


class ExtractiveAnswerer:
    """Answers with 1-3 source sentences in reading order, each run of adjacent ones followed by its citation.

    The answer is the best-scoring evidence (a sentence, or a sentence with its neighbour) plus any close
    runner-up that adds something. If even the best one scores below ``threshold`` the evidence is too
    weak, and the answer says so instead of guessing.
    """

    def __init__(self, threshold: float, max_sentences: int = 3, margin: float = 1.0) -> None:
        self.threshold = threshold
        self.max_sentences = max_sentences
        self.margin = margin

    def answer(self, question: str, query: str, passages: Sequence[Passage],
               evidence: Sequence[Evidence], window: DateWindow | None = None) -> Answer:
        """Builds the answer to ``question`` from scored ``evidence`` (best first) over ``passages``.

        Only evidence that gives the kind of answer asked for (a number the question lacks, a new name,
        a date) and comes from an article of a fitting year may be quoted; if the best such evidence
        scores below the threshold, the articles don't say.
        """
        kind = expected(question)
        eligible = list(evidence)
        if window is not None:
            # The question names its time ("this week"): an article of another date reports another event
            # (last year's earthquake, another season's final), so only the window's articles may answer.
            eligible = [e for e in eligible if e.passage.date is None or window.contains(e.passage.date)]
        spans = [(e, fitting_span(question, e, kind)) for e in eligible]
        fitting = _surest_names_first([(e, span) for e, span in spans if span is not None], kind)
        confidence = fitting[0].score if fitting else None
        # When the sentences closest to the question do not give what it asks for, a sentence further off
        # that does is mostly about something else: a near miss ("which firm built it?" -> "built by a
        # company (as yet unnamed)", and the only firm named is another one).
        off_point = bool(fitting) and max(e.score for e in eligible) - max(e.score for e in fitting) > OFF_POINT
        if confidence is None or confidence < self.threshold or off_point:
            notes = [f"No article of {window.label} (“{window.phrase}”) answers this."] if window is not None else []
            if off_point:
                notes.append(f"The passages closest to the question don't give {_WHAT[kind]}.")
            return Answer(question=question, text=NO_ANSWER, abstained=True, related=list(passages[:3]),
                          retrieved=list(passages), search_query=query, notes=notes,
                          confidence=None if off_point else confidence)
        quotes = _quotes(self._choose(fitting))
        main = quotes[0]
        # Other articles that state the main quote's point are cited as "also reported by", not quoted again.
        also = corroborating(question, kind, main.text, main.passage.text, fitting, self.threshold,
                             {main.passage.article_id})
        repeating = {e.passage.article_id for e in also}
        builder = CitationBuilder()
        parts = []
        for quote in quotes:
            if quote.passage.article_id in repeating:
                continue
            answer = _answer_span(question, quote, kind)
            parts.append(f"{quote.text} [{builder.cite(quote.passage, quote.start, quote.end, quote.text, answer)}]")
        if also:
            parts.append(self._also_reported(question, kind, builder, also))
        notes = []
        if window is not None:
            notes.append(f"From articles of {window.label} (“{window.phrase}”).")
        return Answer(question=question, text=" ".join(parts), citations=builder.citations,
                      retrieved=list(passages), search_query=query, notes=notes, confidence=confidence)

    @staticmethod
    def _also_reported(question: str, kind: Expected, builder: CitationBuilder, others: list[Evidence]) -> str:
        """"Also reported by …", citing each other article that states the first quote's point."""
        main = builder.citations[0]
        named: list[str] = []
        for evidence in others:
            sentence = _Sentence(evidence.passage, evidence.start, evidence.end)
            n = builder.cite(evidence.passage, sentence.start, sentence.end, sentence.text,
                             _answer_span(question, sentence, kind), corroborates=main.n)
            outlet = evidence.passage.source
            fresh = outlet and outlet != main.source and all(f"by {outlet} [" not in name for name in named)
            named.append(f"by {outlet} [{n}]" if fresh else f"in “{evidence.passage.title}” [{n}]")
        return f"Also reported {named[0] if len(named) == 1 else ', '.join(named[:-1]) + ' and ' + named[-1]}."

    def _choose(self, ranked: list[Evidence]) -> list[_Sentence]:
        """The sentences of the best evidence and of close runners-up, up to ``max_sentences``."""
        floor = ranked[0].ranking - self.margin
        chosen: list[_Sentence] = []
        for candidate in ranked:
            if candidate.ranking < floor or len(chosen) >= self.max_sentences:
                break
            taken = {c.key for c in chosen}
            new = [s for s in _sentences(candidate) if s.key not in taken]
            if new and _dangles(new[0]):
                continue  # it leans on a sentence outside its passage ("He was 20 at the time.")
            if not new or len(chosen) + len(new) > self.max_sentences:
                continue
            # The same statement again (in another article, or reworded) adds nothing.
            if any(overlap(s.words, c.words) >= 0.6 for s in new for c in chosen):
                continue
            chosen.extend(new)
        return chosen or _sentences(ranked[0])


@dataclass(frozen=True)
class _Sentence:
    passage: Passage
    start: int
    end: int

    @property
    def key(self) -> tuple[str, int]:
        return self.passage.article_id, self.start

    @property
    def text(self) -> str:
        return self.passage.text[self.start - self.passage.start : self.end - self.passage.start]

    @property
    def words(self) -> set[str]:
        return set(_WORD.findall(self.text.lower()))


def _sentences(evidence: Evidence) -> list[_Sentence]:
    return [_Sentence(evidence.passage, start, end) for start, end in evidence.spans]


def _leaned_on(sentence: _Sentence) -> _Sentence | None:
    """The sentence before ``sentence`` in its passage, when ``sentence`` leans on it ("He said…", "” she added")."""
    if not leans_back(sentence.text):
        return None
    passage = sentence.passage
    earlier = [s for s in split_sentences(passage.text) if passage.start + s.end <= sentence.start]
    if not earlier:
        return None
    return _Sentence(passage, passage.start + earlier[-1].start, passage.start + earlier[-1].end)


def _surest_names_first(fitting: list[tuple[Evidence, Span]], kind: Expected) -> list[Evidence]:
    """The fitting evidence (with the span each gives) in ranking order; for a name question, a name the rules
    know to be of the kind asked for ("Alex Weiss, a psychologist" for "which psychologist") outranks one
    they cannot place, by ``SURE_NAME_BONUS``."""
    if not kind.is_name:
        return [item for item, _ in fitting]
    ranked = [replace(item, boost=item.boost + SURE_NAME_BONUS) if span.sure else item for item, span in fitting]
    return sorted(ranked, key=lambda e: (-e.ranking, e.rank, len(e.spans)))


def _dangles(sentence: _Sentence) -> bool:
    """True when ``sentence`` leans on the one before it and that one is not in its passage to quote."""
    return leans_back(sentence.text) and _leaned_on(sentence) is None


def _answer_span(question: str, quote: _Sentence, kind: Expected) -> tuple[int, int] | None:
    """Article offsets of what answers ``question`` inside ``quote``, when the question asks for something
    particular (a name, a number, a date) and the quote states it."""
    if kind in (Expected.ANY, Expected.TIME):
        return None
    span = answer_span(question, quote.text, kind, quote.passage.text)
    return (quote.start + span.start, quote.start + span.end) if span is not None else None


def _quotes(chosen: list[_Sentence]) -> list[_Sentence]:
    """Chosen sentences grouped by article (best article first) in reading order, adjacent ones joined; a
    quote never opens with a fragment that leans on a sentence left out."""
    article_order = {s.passage.article_id: i for i, s in reversed(list(enumerate(chosen)))}
    for sentence in list(chosen):
        # Back along a chain of leaning sentences ("It was…" after "But his passing…"), at most LEAN_CHAIN.
        for _ in range(LEAN_CHAIN):
            before = _leaned_on(sentence)
            # The tail of a quotation opened further back would be a worse opening than the lean it explains.
            if before is None or ends_quotation(before.text):
                break
            if before.key not in {s.key for s in chosen}:
                chosen.append(before)
            sentence = before
    quotes: list[_Sentence] = []
    for sentence in sorted(chosen, key=lambda s: (article_order[s.passage.article_id], s.start)):
        last = quotes[-1] if quotes else None
        if (last is not None and last.passage.chunk_id == sentence.passage.chunk_id
                and sentence.start >= last.end
                and not _Sentence(last.passage, last.end, sentence.start).text.strip()):
            quotes[-1] = _Sentence(last.passage, last.start, sentence.end)
        else:
            quotes.append(sentence)
    return quotes

