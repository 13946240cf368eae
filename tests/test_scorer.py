"""The answer scorer: the features each check becomes, the shipped weights, their fitting, and the threshold."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.answering.checks import Asked, assess
from qa.answering.features import FEATURES, features
from qa.answering.scorer import COSINE, CROSS_ENCODER, WEIGHTS_FILE, AnswerScorer, ScorerWeights, load_weights
from qa.assistant import Assistant
from qa.config import Config
from qa.retrieval.evidence import Evidence
from qa.text.answer_type import expected
from qa.types import Passage

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import fit_scorer


def _evidence(text: str, score: float, article_date: str | None = None, rank: int = 0) -> Evidence:
    passage = Passage(chunk_id="a#0", article_id="a", title="Park visitors", text=text, start=0, end=len(text),
                      score=1.0, date=article_date)
    return Evidence(passage, rank, ((0, len(text)),), text, score=score)


def _features(question: str, candidates: list[Evidence]) -> list[dict[str, float]]:
    asked = Asked(question, expected(question))
    verdicts = [assess(asked, c).verdicts for c in candidates]
    return features(asked, candidates, verdicts)


def test_each_check_becomes_a_feature_both_ways() -> None:
    question = "How many visitors came to the park in 2005?"
    right, wrong_year, no_number = _features(question, [
        _evidence("In 2005 over 4 million people visited the park.", 6.0, "2006-01-10"),
        _evidence("Last year over 4 million visited.", 5.0, "2008-03-01", rank=3),
        _evidence("The park opened to visitors on a sunny morning in 2005.", 2.0, "2006-01-10")])
    assert right["year_conflict"] == 0.0 and wrong_year["year_conflict"] == 1.0
    assert right["kind_missing"] == 0.0 and no_number["kind_missing"] == 1.0 and right["kind_sure"] == 1.0
    assert right["behind_best"] == 0.0 and wrong_year["behind_best"] == 1.0 and no_number["behind_best"] == 4.0
    assert wrong_year["article_rank"] == 0.0 == right["article_rank"]  # one article: ranked by its best passage
    assert set(right) == set(FEATURES)


def test_the_outcome_feature_both_ways() -> None:
    looks_ahead, settled = _features("Who won the election in Ghana?", [
        _evidence("Voters in Ghana will choose between John Mahama and Nana Akufo-Addo.", 4.0),
        _evidence("John Mahama won the election in Ghana.", 4.0)])
    assert looks_ahead["outcome_unstated"] == 1.0 and settled["outcome_unstated"] == 0.0


def test_the_shipped_weights_load_for_both_scales_and_weigh_the_model_score_up() -> None:
    for kind in (CROSS_ENCODER, COSINE):
        weights = load_weights(kind)
        assert weights.features == FEATURES and 0.0 < weights.threshold < 1.0 and weights.off_point > 0
        assert weights.coef[FEATURES.index("model_score")] > 0
        assert "dev halves" in weights.fitted_on  # fitted, not the hand-set seed


def test_damaged_weights_are_refused(tmp_path: Path) -> None:
    good = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8"))[CROSS_ENCODER]
    with pytest.raises(ValueError, match="differ in length"):
        ScorerWeights.from_json({**good, "coef": good["coef"][:-1]})
    with pytest.raises(ValueError, match="not a probability"):
        ScorerWeights.from_json({**good, "threshold": 1.5})
    path = tmp_path / "weights.json"
    path.write_text(json.dumps({CROSS_ENCODER: good}), encoding="utf-8")
    with pytest.raises(ValueError, match="no scorer weights for 'cosine'"):
        load_weights(COSINE, path)


def test_parts_add_up_to_the_log_odds() -> None:
    scorer = AnswerScorer(load_weights(CROSS_ENCODER))
    rows = _features("How many visitors came to the park in 2005?",
                     [_evidence("In 2005 over 4 million people visited the park.", 6.0),
                      _evidence("The park is large.", -4.0)])
    parts = scorer.parts(rows)
    odds = scorer.log_odds(parts)
    assert odds[0] == pytest.approx(parts[0].sum() + scorer.weights.intercept)
    assert odds[0] > odds[1] and AnswerScorer.probability(float(odds[0])) > scorer.threshold


def test_the_configured_threshold_overrides_the_fitted_one(tmp_path: Path) -> None:
    fitted = Assistant(Config.load(env={}, data_dir=tmp_path / "a", reranker_model="none")).answer_scorer
    assert fitted.weights.features == FEATURES and fitted.threshold == load_weights(COSINE).threshold
    set_here = Assistant(Config.load(env={"QA_ABSTAIN_THRESHOLD": "0.8"}, data_dir=tmp_path / "b",
                                     reranker_model="none")).answer_scorer
    assert set_here.threshold == 0.8


def test_the_fit_finds_the_informative_feature() -> None:
    """The training command's fit on synthetic questions: the label follows feature 0, feature 1 is noise."""
    rng = np.random.default_rng(7)
    questions = []
    for i in range(200):
        x = rng.normal(size=(8, len(FEATURES)))
        y = (x[:, 0] + 0.3 * rng.normal(size=8) > 1.0).astype(float)
        questions.append(fit_scorer.Asked("synthetic", f"q{i}", "dev", True, x, y))
    every = list(range(len(FEATURES)))
    mean, scale, coef, intercept = fit_scorer.fit(questions, every)
    assert coef[0] > 2.0 and abs(coef[1]) < 0.5 * coef[0]
    threshold, off_point = fit_scorer.choose_threshold(
        fit_scorer.best_of(questions, every, (mean, scale, coef, intercept)), max_abstain=0.10)
    assert 0.0 < threshold < 0.9 and off_point > 0
