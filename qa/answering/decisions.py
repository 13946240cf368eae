"""The decision to answer or abstain, with a reason code and the reason in plain words, and the trace that
gathers every candidate's verdicts behind it."""

from __future__ import annotations

from collections.abc import Sequence

from qa.answering.candidates import EvidenceKey, Ranking, Scored, key
from qa.answering.checks import Asked
from qa.answering.features import AGAINST
from qa.answering.scorer import AnswerScorer
from qa.answering.trace import Candidate, Decision, Trace
from qa.retrieval.evidence import Evidence
from qa.text.answer_type import Expected
from qa.types import Answer

# What each kind of question asks for, in words (for reasons and notes).
WHAT = {Expected.ANY: "an answer from an article of a fitting year", Expected.NUMBER: "a number",
        Expected.AGE: "an age", Expected.SHARE: "a share", Expected.MONEY: "an amount", Expected.DATE: "a date",
        Expected.YEAR: "a year", Expected.TIME: "a time", Expected.NAME: "a name", Expected.PERSON: "a name",
        Expected.ORGANISATION: "an organisation's name", Expected.PLACE: "a place"}

EMPTY_QUESTION = Decision(False, "empty_question", "The question has no words to search for.")


def abstention(asked: Asked, evidence: Sequence[Evidence], ranking: Ranking, scorer: AnswerScorer) -> Decision:
    """Why the answerer abstains (it has found it must): no evidence, none in the date window, the best
    candidate's probability of answering below the threshold (with what counted most against it), or the best
    candidate far behind the best-rated sentence (the scorer's ``off_point``)."""
    threshold, off_point = scorer.threshold, scorer.weights.off_point
    what = WHAT[asked.kind]
    best = ranking.best
    if best is None and evidence and asked.window is not None:
        return Decision(False, "outside_window", f"All the evidence is dated outside {asked.window.label} "
                                                 f"(“{asked.window.phrase}”).")
    if best is None:
        return Decision(False, "no_evidence", "No passage close enough to the question was found.")
    if best.probability >= threshold:
        behind = best.features["behind_best"]
        if behind <= off_point:
            raise ValueError("abstention() called for an answer that passes every test")
        return Decision(False, "off_point", f"The sentences closest to the question don't give {what}: the most "
                                            f"likely answer is {behind:.1f} behind the best-rated one (at most "
                                            f"{off_point:.1f} is allowed).")
    against = [name for name, part in sorted(best.contributions.items(), key=lambda item: item[1]) if part < 0][:2]
    why = " and ".join(AGAINST[name].format(what=what) for name in against)
    return Decision(False, "below_threshold", f"The best candidate is {best.probability:.0%} likely to answer, "
                                              f"below the threshold {threshold:.0%}" + (f": {why}." if why else "."))


def answered(asked: Asked, best: Scored, threshold: float) -> Decision:
    """Why the answerer answers: the best candidate is likely enough to answer."""
    gives = f", and gives {WHAT[asked.kind]}" if best.span is not None and asked.kind is not Expected.ANY else ""
    return Decision(True, "answered", f"The best candidate is {best.probability:.0%} likely to answer "
                                      f"(threshold {threshold:.0%}){gives}.")


def by_llm(answer: Answer) -> Decision:
    """The decision behind an answer the LLM composed (it reads the passages; no check of this module ran)."""
    if answer.abstained:
        return Decision(False, "llm_abstained", "The LLM found no answer in the passages it was given.")
    return Decision(True, "llm_answered", "The LLM composed this answer from the passages it was given.")


def trace(asked: Asked, evidence: Sequence[Evidence], ranking: Ranking, chosen: set[EvidenceKey],
          corroborating: set[EvidenceKey], decision: Decision, threshold: float | None) -> Trace:
    """The trace of one answer: the candidates in the scorer's order (each with its probability, features and
    what each feature added), then those outside the date window in retrieval order, each with its verdicts."""
    ranked = {key(s.evidence): s for s in ranking.ranked}
    order = [*(s.evidence for s in ranking.ranked), *(e for e in evidence if key(e) not in ranked)]
    candidates = []
    for item in order:
        k = key(item)
        scored = ranked.get(k)
        candidates.append(Candidate(
            article_id=item.passage.article_id, title=item.passage.title, date=item.passage.date, text=item.text,
            start=item.start, end=item.end, model_score=round(item.score, 4), boost=round(item.boost, 4),
            checks=list(ranking.verdicts.get(k, [])),
            final_score=round(scored.probability, 4) if scored is not None else None,
            features={name: round(value, 4) for name, value in scored.features.items()} if scored else {},
            contributions=scored.contributions if scored is not None else {},
            chosen=k in chosen, corroborates=k in corroborating))
    return Trace(asked.facts(), candidates, decision, threshold)
