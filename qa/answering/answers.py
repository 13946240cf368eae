"""Passages -> Answer: pick the sentences that answer the question and cite each one, or abstain."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from qa.answering import decisions
from qa.answering.candidates import CandidateRanker, EvidenceKey, Scored, key
from qa.answering.checks import CHECK_NAMES, Asked
from qa.answering.corroboration import corroborating
from qa.answering.decisions import WHAT
from qa.answering.scorer import AnswerScorer
from qa.answering.short import ShortAnswerFinder
from qa.answering.trace import Verdict
from qa.retrieval.evidence import Evidence
from qa.text.answer_type import Expected, answer_span, expected
from qa.text.sentences import ends_quotation, leans_back, split_sentences
from qa.text.timeframe import DateWindow
from qa.text.words import overlap, tokens_with_apostrophes
from qa.types import Answer, Citation, Passage

NO_ANSWER = "The articles don't say."
LEAN_CHAIN = 2  # sentences a quote may reach back for the one it leans on, and that one's in turn

# What an ablation may switch off: the checks of qa.answering.checks and the answerer's own rules.
SWITCHABLE = frozenset({*CHECK_NAMES, "off_point", "leaning", "supports"})


def checks_named(names: str) -> frozenset[str]:
    """The checks named in ``names`` (comma-separated, as in ``Config.answer_checks_off``)."""
    return frozenset(name.strip() for name in names.split(",") if name.strip())


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

    The answer is the best candidate by the ``scorer`` (a sentence, or a sentence with its neighbour) plus
    any close runner-up that adds something. If even the best one's probability of answering is below the
    scorer's threshold the evidence is too weak, and the answer says so instead of guessing.
    """

    def __init__(self, scorer: AnswerScorer, max_sentences: int = 3, margin: float = 1.0,
                 checks_off: frozenset[str] = frozenset()) -> None:
        """``margin``: runners-up within this many log-odds of the best join the answer. ``checks_off``: the
        checks switched off, for an ablation (:data:`SWITCHABLE`), e.g. "supports": by default, when the answer
        opens with a short answer, no runner-up that does not state it is quoted or cited (it would cite
        something that does not support the answer)."""
        unknown = set(checks_off) - SWITCHABLE
        if unknown:
            raise ValueError(f"unknown checks {sorted(unknown)}; these can be switched off: {sorted(SWITCHABLE)}")
        self.ranker = CandidateRanker(scorer, frozenset(checks_off))
        self.max_sentences = max_sentences
        self.margin = margin
        self.checks_off = frozenset(checks_off)
        self.short_answers = ShortAnswerFinder()

    def answer(self, question: str, query: str, passages: Sequence[Passage],
               evidence: Sequence[Evidence], window: DateWindow | None = None, explain: bool = False) -> Answer:
        """Builds the answer to ``question`` from scored ``evidence`` (best first) over ``passages``.

        Every candidate inside the question's date window is checked (the kind of answer asked for, the year,
        the event) and scored by the fitted scorer; if even the best one's probability of answering is below
        the threshold, the articles don't say. Every answer carries its ``decision`` (with a reason code);
        ``explain`` also attaches the ``trace``.
        """
        asked = Asked(question, expected(question), window)
        kind = asked.kind
        ranking = self.ranker.run(asked, evidence)
        verdicts = ranking.verdicts
        best = ranking.best
        threshold, off_point = self.ranker.scorer.threshold, self.ranker.scorer.weights.off_point
        confidence = best.probability if best is not None else None
        # A near miss: the sentences closest to the question do not give what it asks for, and the most likely
        # answer is far behind them, mostly about something else ("which firm built it?" -> "built by a company
        # (as yet unnamed)", and the only firm named is another one).
        missed = (best is not None and "off_point" not in self.checks_off
                  and best.features["behind_best"] > off_point)
        if best is None or best.probability < threshold or missed:
            notes = [f"No article of {window.label} (“{window.phrase}”) answers this."] if window is not None else []
            if missed:
                notes.append(f"The passages closest to the question don't give {WHAT[kind]}.")
            decision = decisions.abstention(asked, evidence, ranking, self.ranker.scorer)
            return Answer(question=question, text=NO_ANSWER, abstained=True, related=list(passages[:3]),
                          retrieved=list(passages), search_query=query, notes=notes, confidence=confidence,
                          decision=decision,
                          trace=decisions.trace(asked, evidence, ranking, set(), set(), decision, threshold)
                          if explain else None)
        groups = self._choose(ranking.ranked, verdicts, threshold)
        lead = groups[0][0]
        short = self.short_answers.find(asked, lead.evidence.text, lead.span, lead.evidence.passage.text)
        short_text = lead.evidence.text[short.start : short.end] if short is not None else None
        short_at = (lead.evidence.start + short.start, lead.evidence.start + short.end) if short is not None else None
        verdicts.setdefault(key(lead.evidence), []).append(
            Verdict("short_answer", "passed", f"{kind.value}_stated", short_at) if short_at is not None
            else Verdict("short_answer", "skipped", f"no_short_{kind.value}"))
        if short_text is not None and "supports" not in self.checks_off:
            groups = _supporting(groups, short_text, verdicts)
        chosen = [sentence for _, sentences in groups for sentence in sentences]
        quotes = _quotes(chosen)
        main = quotes[0]
        # Other articles that state the main quote's point (and give an answer of the asked kind) are cited as
        # "also reported by", not quoted again.
        likely = [s.evidence for s in ranking.ranked if s.probability >= threshold and s.span is not None]
        also = corroborating(question, kind, main.text, main.passage.text, likely, {main.passage.article_id})
        if short_text is not None and "supports" not in self.checks_off:  # the other article must state it too
            also = [e for e in also if _normal(short_text) in _normal(e.text)]
        repeating = {e.passage.article_id for e in also}
        builder = CitationBuilder()
        parts = []
        for quote in quotes:
            if quote.passage.article_id in repeating:
                continue
            answer = _answer_span(question, quote, kind)
            if short_at is not None and quote.passage.article_id == lead.evidence.passage.article_id and (
                    quote.start <= short_at[0] and short_at[1] <= quote.end):
                answer = short_at  # the card bolds the short answer
            parts.append(f"{quote.text} [{builder.cite(quote.passage, quote.start, quote.end, quote.text, answer)}]")
        if also:
            parts.append(self._also_reported(question, kind, builder, also))
        notes = []
        if window is not None:
            notes.append(f"From articles of {window.label} (“{window.phrase}”).")
        decision = decisions.answered(asked, best, threshold)
        trace = None
        if explain:
            quoted = {(s.passage.article_id, s.start) for s in chosen}
            chosen_keys = {key(s.evidence) for s in ranking.ranked if s.evidence.passage.article_id not in repeating
                           and all((s.evidence.passage.article_id, a) in quoted for a, _ in s.evidence.spans)}
            trace = decisions.trace(asked, evidence, ranking, chosen_keys, {key(e) for e in also}, decision,
                                    threshold)
        return Answer(question=question, text=" ".join(parts), citations=builder.citations,
                      retrieved=list(passages), search_query=query, notes=notes, confidence=confidence,
                      decision=decision, trace=trace, short_answer=short_text)

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

    def _choose(self, ranked: list[Scored], verdicts: dict[EvidenceKey, list[Verdict]],
                threshold: float) -> list[tuple[Scored, list[_Sentence]]]:
        """The best candidate and close runners-up (within ``margin`` of its log-odds, themselves above the
        threshold), each with the sentences it adds, up to ``max_sentences`` in all; each candidate looked at
        gets a verdict in ``verdicts`` saying why it was quoted or passed over."""
        floor = ranked[0].log_odds - self.margin
        chosen: list[_Sentence] = []
        groups: list[tuple[Scored, list[_Sentence]]] = []
        for candidate in ranked:
            said = verdicts.setdefault(key(candidate.evidence), [])
            if candidate.log_odds < floor or len(chosen) >= self.max_sentences:
                said.append(Verdict("choose", "failed",
                                    "below_margin" if candidate.log_odds < floor else "answer_full"))
                break
            if groups and candidate.probability < threshold:
                said.append(Verdict("choose", "failed", "below_threshold"))
                break
            taken = {c.key for c in chosen}
            new = [s for s in _sentences(candidate.evidence) if s.key not in taken]
            if new and "leaning" not in self.checks_off and _dangles(new[0]):
                # it leans on a sentence outside its passage ("He was 20 at the time.")
                said.append(Verdict("leaning", "failed", "leans_on_sentence_outside_passage"))
                continue
            if not new or len(chosen) + len(new) > self.max_sentences:
                said.append(Verdict("choose", "failed", "already_quoted" if not new else "too_long"))
                continue
            # The same statement again (in another article, or reworded) adds nothing.
            if any(overlap(s.words, c.words) >= 0.6 for s in new for c in chosen):
                said.append(Verdict("choose", "failed", "repeats_a_quoted_statement"))
                continue
            said.append(Verdict("choose", "passed", "quoted"))
            chosen.extend(new)
            groups.append((candidate, new))
        return groups or [(ranked[0], _sentences(ranked[0].evidence))]


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
        return set(tokens_with_apostrophes(self.text))


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


def _supporting(groups: list[tuple[Scored, list[_Sentence]]], short: str,
                verdicts: dict[EvidenceKey, list[Verdict]]) -> list[tuple[Scored, list[_Sentence]]]:
    """The lead evidence and the runners-up that state the short answer (``short``); each one left out gets
    a verdict saying so."""
    kept = groups[:1]
    needle = _normal(short)
    for candidate, sentences in groups[1:]:
        if needle in _normal(candidate.evidence.text):
            kept.append((candidate, sentences))
        else:
            verdicts.setdefault(key(candidate.evidence), []).append(
                Verdict("supports", "failed", "does_not_state_short_answer"))
    return kept


def _normal(text: str) -> str:
    """Lower-cased words, single-spaced: how a short answer is looked for in another sentence."""
    return " ".join(tokens_with_apostrophes(text))


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

