"""The decision to answer or abstain, with a reason code and the reason in plain words, and the trace that
gathers every candidate's verdicts behind it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from qa.answering.checks import Asked
from qa.answering.trace import Candidate, Decision, Trace, Verdict
from qa.retrieval.evidence import Evidence
from qa.text.answer_type import Expected
from qa.types import Answer

# What each kind of question asks for, in words (for reasons and notes).
WHAT = {Expected.ANY: "an answer from an article of a fitting year", Expected.NUMBER: "a number",
        Expected.AGE: "an age", Expected.SHARE: "a share", Expected.MONEY: "an amount", Expected.DATE: "a date",
        Expected.YEAR: "a year", Expected.TIME: "a time", Expected.NAME: "a name", Expected.PERSON: "a name",
        Expected.ORGANISATION: "an organisation's name", Expected.PLACE: "a place"}

EvidenceKey = tuple[str, tuple[tuple[int, int], ...]]

EMPTY_QUESTION = Decision(False, "empty_question", "The question has no words to search for.")


def key(evidence: Evidence) -> EvidenceKey:
    """What identifies one candidate across re-rankings: its article and sentence spans."""
    return evidence.passage.article_id, evidence.spans


def abstention(asked: Asked, evidence: Sequence[Evidence], eligible: Sequence[Evidence],
               verdicts: Mapping[EvidenceKey, list[Verdict]], confidence: float | None, threshold: float,
               off_point: bool) -> Decision:
    """Why the answerer abstains (it has found it must): the first of no evidence, none in the date window,
    none of the asked kind, the best too weak, the closest ones not of the asked kind."""
    what = WHAT[asked.kind]
    if not evidence:
        return Decision(False, "no_evidence", "No passage close enough to the question was found.")
    if not eligible and asked.window is not None:
        return Decision(False, "outside_window", f"All the evidence is dated outside {asked.window.label} "
                                                 f"(“{asked.window.phrase}”).")
    if confidence is None:
        failures = [v for v in verdicts.get(key(eligible[0]), []) if v.failed]
        best = f" (the best candidate failed the {failures[0].check} check: {failures[0].reason})" if failures else ""
        return Decision(False, "no_fitting_candidate", f"No candidate gives {what}{best}.")
    if confidence < threshold:
        return Decision(False, "below_threshold", f"The best candidate that gives {what} scores {confidence:.2f}, "
                                                  f"below the threshold {threshold:.2f}.")
    if off_point:
        return Decision(False, "off_point", f"The passages closest to the question don't give {what}.")
    raise ValueError("abstention() called for an answer that passes every test")


def answered(asked: Asked, confidence: float, threshold: float) -> Decision:
    """Why the answerer answers: the best candidate of the asked kind is strong enough."""
    return Decision(True, "answered", f"The best candidate gives {WHAT[asked.kind]} and scores {confidence:.2f} "
                                      f"(threshold {threshold:.2f}).")


def by_llm(answer: Answer) -> Decision:
    """The decision behind an answer the LLM composed (it reads the passages; no check of this module ran)."""
    if answer.abstained:
        return Decision(False, "llm_abstained", "The LLM found no answer in the passages it was given.")
    return Decision(True, "llm_answered", "The LLM composed this answer from the passages it was given.")


def trace(asked: Asked, evidence: Sequence[Evidence], fitting: Sequence[Evidence],
          verdicts: Mapping[EvidenceKey, list[Verdict]], chosen: set[EvidenceKey], corroborating: set[EvidenceKey],
          decision: Decision, threshold: float) -> Trace:
    """The trace of one answer: the candidates that may answer in the answerer's order (with the ranking it
    used), then the others in retrieval order, each with its verdicts."""
    ranked = {key(e): e.ranking for e in fitting}
    order = [*fitting, *(e for e in evidence if key(e) not in ranked)]
    candidates = []
    for item in order:
        k = key(item)
        candidates.append(Candidate(
            article_id=item.passage.article_id, title=item.passage.title, date=item.passage.date, text=item.text,
            start=item.start, end=item.end, model_score=round(item.score, 4), boost=round(item.boost, 4),
            checks=list(verdicts.get(k, [])),
            final_score=round(ranked[k], 4) if k in ranked else None,
            chosen=k in chosen, corroborates=k in corroborating))
    return Trace(asked.facts(), candidates, decision, threshold)
