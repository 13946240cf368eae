"""The checks a candidate sentence must pass to answer a question, one class each, each returning a Verdict.

Each check wraps one rule of :mod:`qa.text.answer_type`, :mod:`qa.text.outcome` or :mod:`qa.text.timeframe` (the rules
themselves are unchanged): :class:`DateWindowCheck` keeps evidence from the question's date window, and
the others say whether a sentence gives the kind of answer asked for, about the year and the event asked
about. The answerer runs them through :func:`assess`; each verdict (with its reason code) becomes a feature
of the answer scorer (:mod:`qa.answering.scorer`), so no rule but the date window vetoes a candidate alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Protocol

from qa.answering.trace import QuestionFacts, Verdict
from qa.retrieval.evidence import Evidence
from qa.text.answer_type import Expected, Span, answer_span, year_conflict
from qa.text.outcome import asked_outcomes, outcome_unstated
from qa.text.timeframe import DateWindow, days_named
from qa.text.words import words

_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")


@dataclass(frozen=True)
class Asked:
    """A question as the checks read it: its text, the kind of answer it expects, its date window."""

    question: str
    kind: Expected
    window: DateWindow | None = None

    def facts(self) -> QuestionFacts:
        """What the rules read from the question, for a trace."""
        window = self.window
        return QuestionFacts(
            kind=self.kind.value, asked_terms=tuple(dict.fromkeys(words(self.question))),
            years=tuple(int(y) for y in _YEAR.findall(self.question)),
            named_days=tuple(day.isoformat() for day in days_named(self.question)),
            window=window.label if window else None, window_phrase=window.phrase if window else None,
            outcomes=tuple(sorted(asked_outcomes(self.question))))


class Check(Protocol):
    """One rule about one candidate."""

    name: ClassVar[str]

    def verdict(self, asked: Asked, evidence: Evidence) -> Verdict:
        """What the rule says of ``evidence`` as an answer to ``asked``."""
        ...


class DateWindowCheck:
    """The question names its time ("this week"): an article of another date reports another event (last
    year's earthquake, another season's final), so only the window's articles (and undated ones) may answer."""

    name: ClassVar[str] = "date_window"

    def verdict(self, asked: Asked, evidence: Evidence) -> Verdict:
        """Passed inside the window or undated, failed outside it, skipped when the question sets none."""
        window, day = asked.window, evidence.passage.date
        if window is None:
            return Verdict(self.name, "skipped", "no_window")
        if day is None:
            return Verdict(self.name, "passed", "undated")
        if window.contains(day):
            return Verdict(self.name, "passed", "inside_window")
        return Verdict(self.name, "failed", "outside_window")


class YearCheck:
    """An article cannot report a year that had not begun when it was written, nor a day after; text naming
    only other years than the question's speaks of another year (:func:`qa.text.answer_type.year_conflict`)."""

    name: ClassVar[str] = "year"

    def verdict(self, asked: Asked, evidence: Evidence) -> Verdict:
        """Failed on a year or day the evidence cannot be about."""
        if year_conflict(asked.question, evidence.text, evidence.passage.date):
            return Verdict(self.name, "failed", "year_conflict")
        return Verdict(self.name, "passed", "year_fits")


class OutcomeCheck:
    """A question that takes an outcome as settled is not answered by text that only looks ahead to it
    (:func:`qa.text.outcome.outcome_unstated`)."""

    name: ClassVar[str] = "outcome"

    def verdict(self, asked: Asked, evidence: Evidence) -> Verdict:
        """Failed when the evidence only looks ahead to the outcome asked about."""
        if outcome_unstated(asked.question, evidence.text):
            return Verdict(self.name, "failed", "outcome_unstated")
        return Verdict(self.name, "passed", "outcome_stated_or_not_asked")


class AnswerKindCheck:
    """The sentence must give the kind of answer asked for (a new name for "who", a number for "how many",
    a date for "on what date") that the question does not already hold (:func:`qa.text.answer_type.answer_span`)."""

    name: ClassVar[str] = "answer_kind"

    def span(self, asked: Asked, evidence: Evidence) -> Span | None:
        """Where in ``evidence.text`` the answer of the asked kind stands, or None."""
        return answer_span(asked.question, evidence.text, asked.kind, evidence.passage.text)

    def verdict(self, asked: Asked, evidence: Evidence) -> Verdict:
        """Passed with the span found (article offsets), failed when the evidence gives none."""
        return self.verdict_of(self.span(asked, evidence), asked, evidence)

    def verdict_of(self, span: Span | None, asked: Asked, evidence: Evidence) -> Verdict:
        """The verdict for a span already found by :meth:`span`."""
        if span is None:
            return Verdict(self.name, "failed", f"no_{asked.kind.value}")
        reason = "any_kind" if asked.kind is Expected.ANY else (f"{asked.kind.value}_found" if span.sure
                                                                  else f"{asked.kind.value}_found_unsure")
        return Verdict(self.name, "passed", reason, (evidence.start + span.start, evidence.start + span.end))


ANSWER_KIND = AnswerKindCheck()
# The checks whose failure counts against a candidate (features of the scorer), run before the answer's kind.
EVENT_CHECKS: tuple[Check, ...] = (YearCheck(), OutcomeCheck())
DATE_WINDOW = DateWindowCheck()
CHECK_NAMES = frozenset({DATE_WINDOW.name, ANSWER_KIND.name, *(check.name for check in EVENT_CHECKS)})


@dataclass(frozen=True)
class Assessment:
    """The verdicts of the checks on one candidate, and the span of the asked kind it gives, if any."""

    verdicts: tuple[Verdict, ...]
    span: Span | None  # in ``evidence.text``; None when it gives none


def assess(asked: Asked, evidence: Evidence, off: frozenset[str] = frozenset()) -> Assessment:
    """Runs every check on ``evidence``; none rules it out by itself: each verdict is a feature of the answer
    scorer (:mod:`qa.answering.features`). The checks named in ``off`` are skipped (an ablation); with the
    answer-kind one off, the whole text is the span."""
    verdicts = [Verdict(check.name, "skipped", "switched_off") if check.name in off else check.verdict(asked, evidence)
                for check in EVENT_CHECKS]
    if ANSWER_KIND.name in off:
        verdicts.append(Verdict(ANSWER_KIND.name, "skipped", "switched_off"))
        return Assessment(tuple(verdicts), Span(0, len(evidence.text), sure=False))
    span = ANSWER_KIND.span(asked, evidence)
    verdicts.append(ANSWER_KIND.verdict_of(span, asked, evidence))
    return Assessment(tuple(verdicts), span)
