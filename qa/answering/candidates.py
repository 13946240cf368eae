"""Scored evidence -> ranked candidates: the date window, every check, the features and the scorer's order.

The stage between finding evidence and composing the answer. The question's date window is the one hard
rule (the user named the time: an article of another week reports another event); every other check's
verdict is a feature, and :class:`~qa.answering.scorer.AnswerScorer` orders the candidates by their
log-odds of answering the question.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from qa.answering.checks import DATE_WINDOW, Asked, assess
from qa.answering.features import features
from qa.answering.scorer import AnswerScorer
from qa.answering.trace import Verdict
from qa.retrieval.evidence import Evidence
from qa.text.answer_type import Span

EvidenceKey = tuple[str, tuple[tuple[int, int], ...]]


def key(evidence: Evidence) -> EvidenceKey:
    """What identifies one candidate across re-rankings: its article and sentence spans."""
    return evidence.passage.article_id, evidence.spans


@dataclass(frozen=True)
class Scored:
    """One candidate: its evidence, its features, its log-odds of answering and the span of the asked kind."""

    evidence: Evidence
    features: dict[str, float]
    log_odds: float
    span: Span | None  # in ``evidence.text``: what the answer-kind check found, if anything
    contributions: dict[str, float] = field(default_factory=dict)  # what each feature added to ``log_odds``

    @property
    def probability(self) -> float:
        """The scorer's probability that this candidate answers the question."""
        return AnswerScorer.probability(self.log_odds)


@dataclass
class Ranking:
    """What the ranker found: the candidates inside the date window, best first, and every verdict."""

    eligible: list[Evidence]  # inside the question's date window (or it names none), in retrieval order
    ranked: list[Scored]  # the eligible ones, best first
    verdicts: dict[EvidenceKey, list[Verdict]] = field(default_factory=dict)

    @property
    def best(self) -> Scored | None:
        """The best candidate, if any."""
        return self.ranked[0] if self.ranked else None


class CandidateRanker:
    """Runs the checks on each candidate and orders them by the scorer."""

    def __init__(self, scorer: AnswerScorer, checks_off: frozenset[str] = frozenset()) -> None:
        """``checks_off``: checks skipped for an ablation (their features stay 0)."""
        self.scorer = scorer
        self.checks_off = checks_off

    def run(self, asked: Asked, evidence: Sequence[Evidence]) -> Ranking:
        """The candidates of ``evidence`` (best-scored first) for ``asked``, ranked."""
        verdicts: dict[EvidenceKey, list[Verdict]] = {}
        eligible = []
        for item in evidence:
            verdict = (Verdict(DATE_WINDOW.name, "skipped", "switched_off") if DATE_WINDOW.name in self.checks_off
                       else DATE_WINDOW.verdict(asked, item))
            verdicts[key(item)] = [verdict]
            if not verdict.failed:
                eligible.append(item)
        spans = []
        for item in eligible:
            assessment = assess(asked, item, off=self.checks_off)
            verdicts[key(item)].extend(assessment.verdicts)
            spans.append(assessment.span)
        rows = features(asked, eligible, [verdicts[key(e)] for e in eligible])
        if not rows:
            return Ranking(eligible, [], verdicts)
        parts = self.scorer.parts(rows)
        names = self.scorer.weights.features
        scored = []
        for item, row, odds, span, part in zip(eligible, rows, self.scorer.log_odds(parts), spans, parts, strict=True):
            contributions = {name: round(float(value), 3) for name, value in zip(names, part, strict=True)}
            scored.append(Scored(item, row, float(odds), span, contributions))
        scored.sort(key=lambda s: (-s.log_odds, s.evidence.rank, len(s.evidence.spans)))
        return Ranking(eligible, scored, verdicts)
