"""Candidate -> features: what the answer scorer reads of one candidate sentence, as named numbers.

Each check of :mod:`qa.answering.checks` becomes a feature (1.0 when it failed, or found what it looks
for) instead of a veto, beside the cross-encoder's score, how far the candidate is behind the best one,
its date boost, its passage's rank, and how much of the question's wording it and its passage hold. The
same function makes the features the scorer is fitted on (``benchmarks/fit_scorer.py`` reads them from
traces) and the ones it scores at answer time, so the two cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from qa.answer_type import Expected
from qa.answering.checks import ANSWER_KIND, Asked
from qa.answering.trace import Verdict
from qa.evidence import Evidence
from qa.keyword_index import terms
from qa.types import titled_text

# The features in the order of the scorer's weights; README and docs/benchmarks.md name them.
FEATURES: tuple[str, ...] = (
    "model_score",        # the cross-encoder's logit (or the cosine without a cross-encoder)
    "behind_best",        # how far below the best candidate's model score it is
    "date_boost",         # the question's date window or nearness (0 to -2; positive inside a window)
    "passage_rank",       # log(1 + the passage's rank before sentence scoring)
    "pair",               # two adjacent sentences read together
    "year_conflict",      # check "year" failed: the text is about another year than the question's
    "outcome_unstated",   # check "outcome" failed: it only looks ahead to the outcome asked about
    "other_life_event",   # check "life_event" failed: another event of a life than the one asked about
    "kind_missing",       # check "answer_kind" failed: no span of the asked kind
    "kind_unsure",        # a name the rules cannot place, for a question asking a kind of name
    "kind_sure",          # a span of exactly the asked kind
    "asks_any",           # the question asks for no particular kind (what, why, how)
    "terms_in_sentence",  # share of the question's terms the candidate holds
    "terms_in_passage",   # ... that its passage (with its title) holds
)
# What a feature that counts against the best candidate means, in words (for an abstention's reason).
AGAINST = {
    "model_score": "the model rates it a weak answer", "behind_best": "it is far behind the best-rated sentence",
    "date_boost": "its article is far from the question's date", "passage_rank": "its passage ranks low",
    "pair": "it needs two sentences", "year_conflict": "it is about another year",
    "outcome_unstated": "it only looks ahead to the outcome asked about",
    "other_life_event": "it is about another event of a life", "kind_missing": "it does not give {what}",
    "kind_unsure": "its name may not be of the kind asked", "kind_sure": "nothing in it is surely {what}",
    "asks_any": "the question asks for no particular kind of answer",
    "terms_in_sentence": "it holds few of the question's words",
    "terms_in_passage": "its passage holds few of the question's words",
}
_FAILED_MEANS = {"year": "year_conflict", "outcome": "outcome_unstated", "life_event": "other_life_event",
                 ANSWER_KIND.name: "kind_missing"}


@dataclass(frozen=True)
class QuestionTerms:
    """The question's distinct stemmed terms, computed once per question."""

    terms: frozenset[str]

    @classmethod
    def of(cls, question: str) -> QuestionTerms:
        """The terms of ``question`` as the keyword index reads them."""
        return cls(frozenset(terms([question])[0]))

    def share(self, found: set[str]) -> float:
        """The share of the question's terms among ``found`` (0 for a question without terms)."""
        return len(self.terms & found) / len(self.terms) if self.terms else 0.0


def features(asked: Asked, question_terms: QuestionTerms, candidates: Sequence[Evidence],
             verdicts: Sequence[Sequence[Verdict]]) -> list[dict[str, float]]:
    """The features of each candidate (``verdicts[i]`` are every check's verdicts on ``candidates[i]``)."""
    if not candidates:
        return []
    best = max(c.score for c in candidates)
    texts = [c.text for c in candidates] + [titled_text(c.passage.title, c.passage.text) for c in candidates]
    found = terms(texts)
    rows = []
    for i, (candidate, said) in enumerate(zip(candidates, verdicts, strict=True)):
        row = dict.fromkeys(FEATURES, 0.0)
        row.update(model_score=candidate.score, behind_best=best - candidate.score, date_boost=candidate.boost,
                   passage_rank=math.log1p(candidate.rank), pair=float(len(candidate.spans) > 1),
                   asks_any=float(asked.kind is Expected.ANY),
                   terms_in_sentence=question_terms.share(found[i]),
                   terms_in_passage=question_terms.share(found[len(candidates) + i]))
        for verdict in said:
            if verdict.failed and verdict.check in _FAILED_MEANS:
                row[_FAILED_MEANS[verdict.check]] = 1.0
            elif verdict.check == ANSWER_KIND.name and verdict.outcome == "passed" and asked.kind is not Expected.ANY:
                row["kind_unsure" if verdict.reason.endswith("_unsure") else "kind_sure"] = 1.0
        rows.append(row)
    return rows
