"""What an answer was built from, and why: the question's facts, each candidate with every check's verdict,
and the decision (answered or abstained) with a reason code and the reason in plain words.

A trace is only assembled when it is asked for (``explain``); the verdicts and the decision it is made of are
what the answering code decides with anyway, so a trace shows the real reasons, never a reconstruction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Outcome = Literal["passed", "failed", "skipped"]


@dataclass(frozen=True)
class Verdict:
    """One check's finding about one candidate: passed, failed (the candidate may not answer) or skipped (the
    check did not apply, or an earlier check already failed), with a reason code and the span it found
    (article offsets), if any."""

    check: str
    outcome: Outcome
    reason: str
    span: tuple[int, int] | None = None

    @property
    def failed(self) -> bool:
        """True when the check rules the candidate out (or moves it aside)."""
        return self.outcome == "failed"


@dataclass(frozen=True)
class QuestionFacts:
    """What the answering rules read from a question, once."""

    kind: str  # the kind of answer asked for: person, place, number, date, time, any, …
    asked_terms: tuple[str, ...]  # the question's words (an answer must add something beyond them)
    years: tuple[int, ...]  # years the question names
    named_days: tuple[str, ...]  # days it names with their year (ISO)
    window: str | None = None  # the date window its time words set ("10–16 June 2022"), if any
    window_phrase: str | None = None  # ... and the words that set it ("this week")
    outcomes: tuple[str, ...] = ()  # the settled outcomes (choice, contest, verdict, vote) it asks about


@dataclass
class Candidate:
    """A sentence (or two adjacent ones) that could answer, with what each check said of it."""

    article_id: str
    title: str
    date: str | None
    text: str
    start: int  # span of ``text`` in the article
    end: int
    model_score: float  # the cross-encoder's (or the cosine fallback's) score
    boost: float  # the question's date (window, nearness): ordered the evidence before scoring, not a feature
    checks: list[Verdict] = field(default_factory=list)
    final_score: float | None = None  # the scorer's probability that it answers (None: outside the date window)
    features: dict[str, float] = field(default_factory=dict)  # what the scorer read of it
    contributions: dict[str, float] = field(default_factory=dict)  # what each feature added to its log-odds
    chosen: bool = False  # quoted in the answer
    corroborates: bool = False  # cited as "also reported by"

    def weighed(self, most: int = 4) -> list[tuple[str, float]]:
        """The ``most`` features that moved this candidate's log-odds furthest, with what each added."""
        return sorted(self.contributions.items(), key=lambda item: -abs(item[1]))[:most]


@dataclass(frozen=True)
class Decision:
    """Answered or abstained, with a stable reason code and the reason in plain words."""

    answered: bool
    code: str
    reason: str


@dataclass
class Trace:
    """Everything behind one answer: facts, candidates (best first) and the decision."""

    facts: QuestionFacts | None
    candidates: list[Candidate]
    decision: Decision
    threshold: float | None = None  # the probability below which the best candidate is too weak

    def as_json(self) -> dict:
        """The trace as JSON: ``facts``, ``candidates`` (each with ``score``, ``checks``, ``chosen``),
        ``decision`` and its ``reason``."""
        return {
            "facts": asdict(self.facts) if self.facts is not None else None,
            "candidates": [_candidate_json(c) for c in self.candidates],
            "decision": asdict(self.decision),
            "answered": self.decision.answered,
            "reason_code": self.decision.code,
            "reason": self.decision.reason,
            "threshold": self.threshold,
        }

    def lines(self, limit: int = 5) -> list[str]:
        """The trace for a reader: the question's facts, the ``limit`` best candidates with their scores and
        verdicts, and the decision with its reason."""
        out = ["Why this answer:" if self.decision.answered else "Why no answer:",
               f"  decision: {'answered' if self.decision.answered else 'abstained'} "
               f"({self.decision.code}) — {self.decision.reason}"]
        facts = self.facts
        if facts is not None:
            bits = [f"asks for: {facts.kind}"]
            bits += [f"years: {', '.join(map(str, facts.years))}"] if facts.years else []
            bits += [f"days: {', '.join(facts.named_days)}"] if facts.named_days else []
            bits += [f"window: {facts.window} (“{facts.window_phrase}”)"] if facts.window else []
            bits += [f"outcome: {', '.join(facts.outcomes)}"] if facts.outcomes else []
            out.append("  question: " + "; ".join(bits))
        if self.candidates:
            shown = self.candidates[:limit]
            out.append(f"  candidates (best first, {len(shown)} of {len(self.candidates)}):")
        for number, candidate in enumerate(self.candidates[:limit], 1):
            mark = " [chosen]" if candidate.chosen else " [also reported]" if candidate.corroborates else ""
            score = "outside the date window" if candidate.final_score is None else f"{candidate.final_score:.0%}"
            out.append(f"  {number}. {score} (model {candidate.model_score:.2f}){mark} "
                       f"{candidate.title} ({candidate.date or 'undated'})")
            out.append(f"     “{_shortened(candidate.text)}”")
            out.append("     " + " · ".join(_verdict_text(v, candidate) for v in candidate.checks))
            if candidate.contributions:
                out.append("     weighed: " + ", ".join(f"{name} {part:+.2f}" for name, part in candidate.weighed()))
        return out


def _verdict_text(verdict: Verdict, candidate: Candidate) -> str:
    """``check: outcome (reason)``, with the span found quoted."""
    found = ""
    if verdict.span is not None and verdict.span != (candidate.start, candidate.end):
        found = f" “{candidate.text[verdict.span[0] - candidate.start : verdict.span[1] - candidate.start]}”"
    return f"{verdict.check}: {verdict.outcome} ({verdict.reason}){found}"


def _shortened(text: str, limit: int = 160) -> str:
    """``text`` on one line, cut to about ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit].rsplit(" ", 1)[0] + " …"


def _candidate_json(candidate: Candidate) -> dict:
    out = asdict(candidate)
    out["score"] = out.pop("final_score")
    out["checks"] = [{**asdict(v), "span": list(v.span) if v.span else None} for v in candidate.checks]
    return out
