"""Features -> the probability that a candidate sentence answers the question: one fitted logistic regression.

The checks used to be vetoes: a candidate failing one was ruled out however strong the rest of its evidence.
Here every check is a feature beside the cross-encoder's score, and one set of fitted weights combines them,
so strong evidence can outweigh a weak rule and the threshold is a probability (of the candidate holding a
gold answer, on the dev halves it was fitted on). One rule stays hard because it pays on the test halves: when
the most likely answer is far behind the sentence the model rates best, the passages closest to the question
do not give what it asks (a near miss), and the answerer abstains; how far is fitted with the threshold.

``benchmarks/fit_scorer.py`` fits the weights, the threshold and that distance and writes
``scorer_weights.json`` beside this module; each weight set names the features, their standardisation, the
threshold and the data it was fitted on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.answering.features import FEATURES

WEIGHTS_FILE = Path(__file__).with_name("scorer_weights.json")
CROSS_ENCODER = "cross-encoder"  # weights for candidates scored by the cross-encoder (logits)
COSINE = "cosine"  # ... and for candidates scored by the embedding cosine (reranking switched off)


@dataclass(frozen=True)
class ScorerWeights:
    """A fitted logistic regression over standardised features, with the abstention threshold chosen for it."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float  # the probability below which the best candidate is too weak to answer
    off_point: float  # abstain when the best candidate is this far behind the best-rated sentence (model score)
    fitted_on: str = ""

    @classmethod
    def from_json(cls, raw: Mapping) -> ScorerWeights:
        """Weights as ``benchmarks/fit_scorer.py`` writes them; ValueError when they do not fit together."""
        weights = cls(tuple(raw["features"]), tuple(map(float, raw["mean"])), tuple(map(float, raw["scale"])),
                      tuple(map(float, raw["coef"])), float(raw["intercept"]), float(raw["threshold"]),
                      float(raw["off_point"]), str(raw.get("fitted_on", "")))
        if not len(weights.features) == len(weights.mean) == len(weights.scale) == len(weights.coef):
            raise ValueError("scorer weights: features, mean, scale and coef differ in length")
        unknown = set(weights.features) - set(FEATURES)
        if unknown:
            raise ValueError(f"scorer weights name features no candidate has: {sorted(unknown)}; "
                             "fit them again (python benchmarks/fit_scorer.py)")
        if not 0.0 < weights.threshold < 1.0:
            raise ValueError(f"scorer weights: threshold {weights.threshold} is not a probability")
        return weights

    def as_json(self) -> dict:
        """The weights as they are stored."""
        return {"features": list(self.features), "mean": list(self.mean), "scale": list(self.scale),
                "coef": list(self.coef), "intercept": self.intercept, "threshold": self.threshold,
                "off_point": self.off_point, "fitted_on": self.fitted_on}


def load_weights(kind: str, path: Path = WEIGHTS_FILE) -> ScorerWeights:
    """The weight set ``kind`` (:data:`CROSS_ENCODER` or :data:`COSINE`) from ``path``."""
    stored = json.loads(path.read_text(encoding="utf-8"))
    if kind not in stored:
        raise ValueError(f"{path} has no scorer weights for {kind!r} (it has {sorted(stored)})")
    return ScorerWeights.from_json(stored[kind])


class AnswerScorer:
    """Scores candidates by their features: a log-odds (what ranks them) and a probability (what abstains)."""

    def __init__(self, weights: ScorerWeights, threshold: float | None = None) -> None:
        """``threshold`` overrides the fitted one (``Config.abstain_threshold``); None keeps it."""
        self.weights = weights
        self.threshold = weights.threshold if threshold is None else threshold
        self._mean = np.asarray(weights.mean)
        self._scale = np.asarray(weights.scale)
        self._coef = np.asarray(weights.coef)

    def matrix(self, rows: Sequence[Mapping[str, float]]) -> np.ndarray:
        """The standardised feature matrix of ``rows`` (one row per candidate)."""
        raw = np.asarray([[row[name] for name in self.weights.features] for row in rows], dtype=np.float64)
        return (raw.reshape(len(rows), len(self.weights.features)) - self._mean) / self._scale

    def parts(self, rows: Sequence[Mapping[str, float]]) -> np.ndarray:
        """What each feature adds to each candidate's log-odds (against an average candidate): one row each."""
        return self.matrix(rows) * self._coef

    def log_odds(self, parts: np.ndarray) -> np.ndarray:
        """Each candidate's log-odds of answering the question, from its :meth:`parts`."""
        return parts.sum(axis=1) + self.weights.intercept

    @staticmethod
    def probability(log_odds: float) -> float:
        """The probability of log-odds ``log_odds``."""
        return 1.0 / (1.0 + math.exp(-log_odds)) if log_odds > -700 else 0.0
