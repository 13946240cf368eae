"""Candidate -> features: what the answer scorer reads of one candidate sentence, as named numbers.

Each check of :mod:`qa.answering.checks` becomes a feature (1.0 when it failed, or found what it looks
for) instead of a veto, beside the cross-encoder's score, how far the candidate is behind the best one,
and the rank of its article (the best rank of its passages). The same function makes the features the scorer
is fitted on (``benchmarks/fit_scorer.py`` reads them from traces) and the ones it scores at answer time, so
the two cannot drift apart. Each feature earned its place in the ablation on the test halves (see
docs/benchmarks.md); those that moved nothing went (the date boost, a question asking for no kind, the share of
the question's words in the sentence or its passage, and the life-event check), and so did whether the
candidate is a pair of sentences: it helped only because two sentences hold a gold answer more often than one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from qa.answering.checks import ANSWER_KIND, Asked
from qa.answering.trace import Verdict
from qa.retrieval.evidence import Evidence
from qa.text.answer_type import Expected

# The features in the order of the scorer's weights; README and docs/benchmarks.md name them.
FEATURES: tuple[str, ...] = (
    "model_score",        # the cross-encoder's logit (or the cosine without a cross-encoder)
    "behind_best",        # how far below the best candidate's model score it is
    "article_rank",       # log(1 + the best rank, before sentence scoring, of a passage of its article)
    "year_conflict",      # check "year" failed: the text is about another year than the question's
    "outcome_unstated",   # check "outcome" failed: it only looks ahead to the outcome asked about
    "kind_missing",       # check "answer_kind" failed: no span of the asked kind
    "kind_unsure",        # a name the rules cannot place, for a question asking a kind of name
    "kind_sure",          # a span of exactly the asked kind
)
# What a feature that counts against the best candidate means, in words (for an abstention's reason).
AGAINST = {
    "model_score": "the model rates it a weak answer", "behind_best": "it is far behind the best-rated sentence",
    "article_rank": "its article ranks low",
    "year_conflict": "it is about another year", "outcome_unstated": "it only looks ahead to the outcome asked about",
    "kind_missing": "it does not give {what}", "kind_unsure": "its name may not be of the kind asked",
    "kind_sure": "nothing in it is surely {what}",
}
_FAILED_MEANS = {"year": "year_conflict", "outcome": "outcome_unstated", ANSWER_KIND.name: "kind_missing"}


def features(asked: Asked, candidates: Sequence[Evidence],
             verdicts: Sequence[Sequence[Verdict]]) -> list[dict[str, float]]:
    """The features of each candidate (``verdicts[i]`` are every check's verdicts on ``candidates[i]``)."""
    if not candidates:
        return []
    best = max(c.score for c in candidates)
    # Across articles the retrieval order says which article is about the question; within one article the
    # cross-encoder alone decides (the answering sentence is often in a later passage of the right article).
    article_rank: dict[str, int] = {}
    for candidate in candidates:
        article_rank[candidate.passage.article_id] = min(candidate.rank, article_rank.get(candidate.passage.article_id,
                                                                                          candidate.rank))
    rows = []
    for candidate, said in zip(candidates, verdicts, strict=True):
        row = dict.fromkeys(FEATURES, 0.0)
        row.update(model_score=candidate.score, behind_best=best - candidate.score,
                   article_rank=math.log1p(article_rank[candidate.passage.article_id]))
        for verdict in said:
            if verdict.failed and verdict.check in _FAILED_MEANS:
                row[_FAILED_MEANS[verdict.check]] = 1.0
            elif verdict.check == ANSWER_KIND.name and verdict.outcome == "passed" and asked.kind is not Expected.ANY:
                row["kind_unsure" if verdict.reason.endswith("_unsure") else "kind_sure"] = 1.0
        rows.append(row)
    return rows
