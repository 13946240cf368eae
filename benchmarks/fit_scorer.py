"""Fits the answer scorer (qa/answering/scorer_weights.json) on the dev halves, and reports the test halves.

1. Collect: every question of newsdev, quail_news and onestopqa (both halves) is asked with its trace
   (``explain``); each candidate's features (qa.answering.features, the same function the answerer scores
   with) are written with its label: 1 when it holds a gold answer in a gold article.
   Once with the cross-encoder and once without it (cosine scores, ``QA_RERANKER_MODEL=none``).
2. Fit: a logistic regression per scorer kind on the dev halves only, each set weighing the same and each
   question the same within its set (an L2-regularised Newton fit in numpy: a handful of features needs no library).
3. Threshold: on the dev halves, the probability (with the near-miss distance ``off_point``) that answers the
   most questions right (a gold answer, or an abstention on an unanswerable question) while abstaining on at
   most ``--max-abstain`` of the answerable. (A floor under the model score was tried the same way: the dev
   halves chose none.)
4. Report: per set and half, how often the best candidate holds a gold answer, the abstention on answerable
   and unanswerable questions, and the ablation (refitted without each feature) on the test halves.

    python benchmarks/fit_scorer.py              # collect (cached), fit, write the weights and the report
    python benchmarks/fit_scorer.py --refresh    # collect again (after a change to retrieval or features)
    python benchmarks/fit_scorer.py --no-write   # report only; leave scorer_weights.json as it is

Writes benchmarks/results/fit_scorer.txt; the collected features (the training data) are kept in
benchmarks/data/scorer/, one gzipped JSONL per set and scorer kind: a header naming the feature columns,
then per question its id, half, answerability and each candidate's features and label.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.answering.features import FEATURES  # noqa: E402
from qa.answering.scorer import COSINE, CROSS_ENCODER, WEIGHTS_FILE, ScorerWeights  # noqa: E402

DATA = ROOT.parent / "shared" / "eval" / "data"
RESULTS = ROOT / "benchmarks" / "results"
CACHE = ROOT / "benchmarks" / "data" / "scorer"  # the collected features: the scorer's training data, kept
INDEXES = RESULTS / "scorer"  # each set's index, reused by the next collection
SETS = ("newsdev", "quail_news", "onestopqa")  # news only: the scorer answers news (XQuAD checks it stays general)
# The same sets with half their articles held out: the questions about those become unanswerable, as the held-out
# news set's are made (its gold article removed). Cross-encoder only.
CLOSED = "-closed"
CLOSED_SETS = tuple(name + CLOSED for name in SETS)
# What each ablation leaves out: a check's features, or one other feature.
ABLATIONS = {"year": ("year_conflict",), "outcome": ("outcome_unstated",),
             "answer_kind": ("kind_missing", "kind_unsure", "kind_sure"),
             **{name: (name,) for name in FEATURES if name not in {"year_conflict", "outcome_unstated", "kind_missing",
                                                                   "kind_unsure", "kind_sure"}}}
ABLATION_WEIGHTS = INDEXES / "ablation-weights.json"  # read by benchmarks/ablation.py
OFF_POINTS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, float("inf"))  # the near-miss distances tried

BEHIND = FEATURES.index("behind_best")
L2 = 1.0  # ridge on the standardised weights (per unit of total sample weight 1 per set)


@dataclass
class Asked:
    """One question's candidates as collected: features, labels, and whether it can be answered."""

    set_name: str
    qid: str
    split: str
    answerable: bool
    features: np.ndarray  # candidates x FEATURES
    labels: np.ndarray  # 1 where the candidate holds a gold answer in a gold article


def collect(set_name: str, kind: str, refresh: bool) -> Path:
    """Asks the questions of ``set_name`` with the ``kind`` scorer's candidates; returns the features file."""
    out = CACHE / f"{set_name}-{kind}.jsonl.gz"
    if out.exists() and not refresh:
        return out
    from qa.assistant import Assistant
    from qa.config import Config
    from qa.ingest.pipeline import Ingestor
    from qa.interfaces import evaluation

    base = set_name.removesuffix(CLOSED)
    questions = evaluation.load_questions(DATA / base / "questions.jsonl")
    corpus = DATA / base / "corpus.jsonl"
    if set_name.endswith(CLOSED):
        corpus, questions = closed(corpus, questions)
    config = Config.load(data_dir=INDEXES / f"index-{set_name}")
    if kind == COSINE:
        config = replace(config, reranker_model="none")
    # Any weights over the current features: what is collected (every candidate's features) does not depend on them.
    none = (0.0,) * len(FEATURES)
    neutral = ScorerWeights(FEATURES, none, (1.0,) * len(FEATURES), (1.0, *none[1:]), 0.0, 0.5, float("inf"),
                            "neutral: for collecting")
    assistant = Assistant(config, neutral)
    Ingestor(assistant.collection).ingest([corpus])
    stems = {a.article.id: Path(a.article.source_path).stem for a in assistant.collection.store.articles()}
    CACHE.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with gzip.open(out.with_suffix(".tmp"), "wt", encoding="utf-8") as handle:
        handle.write(json.dumps({"features": FEATURES}) + "\n")  # the columns of every "f" below
        for question, answer, _ in evaluation.run(assistant, questions, explain=True):
            assert answer.trace is not None
            rows = []
            for candidate in answer.trace.candidates:
                if not candidate.features:  # outside the date window: never scored
                    continue
                gold_article = not question.doc_ids or bool(
                    {candidate.article_id, stems.get(candidate.article_id, "")} & set(question.doc_ids))
                label = question.answerable and gold_article and evaluation.contains(candidate.text, question.answers)
                rows.append({"f": [candidate.features[name] for name in FEATURES], "y": int(label)})
            handle.write(json.dumps({"id": question.id, "split": "dev" if evaluation.in_split(question.id, "dev")
                                     else "test", "answerable": question.answerable, "candidates": rows}) + "\n")
    out.with_suffix(".tmp").replace(out)
    assistant.collection.close()
    print(f"collected {set_name} ({kind}): {len(questions)} questions in {time.perf_counter() - started:.0f} s",
          flush=True)
    return out


def held_out(doc_id: str) -> bool:
    """Whether a closed set leaves article ``doc_id`` out (half the articles, by a hash of the id)."""
    return int(hashlib.sha1(f"closed:{doc_id}".encode()).hexdigest(), 16) % 2 == 1


def closed(corpus: Path, questions: list) -> tuple[Path, list]:
    """The corpus without its held-out articles (written beside the indexes), and the answerable questions
    whose gold articles are all held out, now unanswerable (the others are in the open set already)."""
    kept = [line for line in corpus.read_text(encoding="utf-8").splitlines()
            if line.strip() and not held_out(str(json.loads(line)["id"]))]
    out = INDEXES / f"{corpus.parent.name}{CLOSED}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(kept) + "\n", encoding="utf-8")
    orphaned = [replace(q, answers=[], doc_ids=[]) for q in questions
                if q.answers and q.doc_ids and all(held_out(d) for d in q.doc_ids) and not q.follows]
    return out, orphaned


def load(set_name: str, path: Path) -> list[Asked]:
    """The collected questions of one set."""
    asked = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        collected = json.loads(handle.readline())["features"]
        missing = set(FEATURES) - set(collected)
        if missing:
            raise SystemExit(f"{path} lacks the features {sorted(missing)}: collect again with --refresh")
        columns = [collected.index(name) for name in FEATURES]
        for line in handle:
            raw = json.loads(line)
            features = np.asarray([[c["f"][i] for i in columns] for c in raw["candidates"]],
                                  dtype=np.float64).reshape(-1, len(FEATURES))
            labels = np.asarray([c["y"] for c in raw["candidates"]], dtype=np.float64)
            asked.append(Asked(set_name, raw["id"], raw["split"], raw["answerable"], features, labels))
    return asked


def weights_of(model: tuple, use: list[int], cut: Cut, dev: list[Asked]) -> ScorerWeights:
    """The stored form of a fitted model over the features ``use``."""
    mean, scale, coef, intercept = model
    return ScorerWeights(tuple(FEATURES[i] for i in use), tuple(mean.round(6)), tuple(scale.round(6)),
                         tuple(coef.round(6)), round(intercept, 6), cut[0], cut[1],
                         f"dev halves of {', '.join(dict.fromkeys(q.set_name for q in dev))}: {len(dev)} questions, "
                         f"{sum(len(q.labels) for q in dev)} candidates")


def fit(questions: list[Asked], use: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Logistic regression on the columns ``use``: (mean, scale, coef, intercept), standardised features."""
    sets = {q.set_name for q in questions}
    per_set = {s: sum(1 for q in questions if q.set_name == s and len(q.labels)) for s in sets}
    x = np.concatenate([q.features[:, use] for q in questions if len(q.labels)])
    y = np.concatenate([q.labels for q in questions if len(q.labels)])
    w = np.concatenate([np.full(len(q.labels), 1.0 / (len(q.labels) * per_set[q.set_name]))
                        for q in questions if len(q.labels)])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    beta = np.zeros(z.shape[1])
    ridge = np.full(z.shape[1], L2 / len(x) * len(sets))
    ridge[-1] = 0.0
    for _ in range(50):  # Newton's method (IRLS)
        p = 1.0 / (1.0 + np.exp(-(z @ beta)))
        gradient = z.T @ (w * (p - y)) + ridge * beta
        hessian = (z * (w * p * (1 - p))[:, None]).T @ z + np.diag(ridge + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return mean, scale, beta[:-1], float(beta[-1])


# A question, its best candidate's probability, gold or not, and how far behind the best-rated sentence it is.
Best = tuple[Asked, float, bool, float]
Cut = tuple[float, float]  # threshold, off_point


def best_of(questions: list[Asked], use: list[int], model: tuple) -> list[Best]:
    """Per question: the best candidate's probability, whether it holds a gold answer, and how far behind the
    best-rated sentence it is."""
    mean, scale, coef, intercept = model
    out = []
    for q in questions:
        if not len(q.labels):
            out.append((q, 0.0, False, 0.0))
            continue
        odds = ((q.features[:, use] - mean) / scale) @ coef + intercept
        top = int(np.argmax(odds))
        out.append((q, float(1 / (1 + np.exp(-odds[top]))), bool(q.labels[top]), float(q.features[top, BEHIND])))
    return out


def rates(scored: list[Best], cut: Cut) -> dict[str, float]:
    """Best candidate holds gold (of answerable, answered), abstention on answerable and unanswerable, for
    ``cut`` = (threshold, off_point)."""
    threshold, off_point = cut
    answers = [(q, p >= threshold and behind <= off_point, good) for q, p, good, behind in scored]
    answerable = [(answered, good) for q, answered, good in answers if q.answerable]
    unanswerable = [answered for q, answered, _ in answers if not q.answerable]
    return {"gold": float(np.mean([a and good for a, good in answerable])) if answerable else np.nan,
            "abstain_answerable": float(np.mean([not a for a, _ in answerable])) if answerable else np.nan,
            "abstain_unanswerable": float(np.mean([not a for a in unanswerable])) if unanswerable else np.nan,
            "n": len(scored)}


def choose_threshold(scored: list[Best], max_abstain: float, off_points: tuple[float, ...] = OFF_POINTS) -> Cut:
    """The (threshold, off_point) that get most dev questions right (a gold answer, or an abstention on an
    unanswerable question) in the sets that have unanswerable questions (each set weighing the same), while
    abstaining on at most ``max_abstain`` of the answerable questions of every set that has any (on average);
    the largest off_point and lowest threshold among equals. A set without unanswerable questions would always ask for
    the lowest threshold, so it only bounds the answerable abstention."""
    sets = sorted({row[0].set_name for row in scored})
    mixed = [s for s in sets if any(not q.answerable for q, *_ in scored if q.set_name == s)] or sets
    by_set = {s: [row for row in scored if row[0].set_name == s] for s in sets}
    best, chosen = -1.0, (0.5, float("inf"))
    for off_point in sorted(off_points, reverse=True):
        for threshold in np.arange(0.02, 0.9, 0.01):
            cut = (round(float(threshold), 2), off_point)
            r = {s: rates(by_set[s], cut) for s in sets}
            if np.nanmean([r[s]["abstain_answerable"] for s in sets]) > max_abstain:
                continue
            right = 0.0
            for s in mixed:  # a closed set has only unanswerable questions
                answerable = sum(1 for q, *_ in by_set[s] if q.answerable)
                unanswerable = len(by_set[s]) - answerable
                right += ((r[s]["gold"] * answerable if answerable else 0.0)
                          + (r[s]["abstain_unanswerable"] * unanswerable if unanswerable else 0.0)) / len(by_set[s])
            if right > best + 1e-9:
                best, chosen = right, cut
    return chosen


def report_lines(questions: list[Asked], use: list[int], model: tuple, cut: Cut) -> list[str]:
    """A table of the rates per set and half at ``cut`` (threshold, off_point)."""
    lines = ["| set | half | questions | best holds gold (of answerable) | abstain answerable | abstain unanswerable |",
             "|---|---|---|---|---|---|"]
    for s in dict.fromkeys(q.set_name for q in questions):
        for half in ("dev", "test"):
            rows = [q for q in questions if q.set_name == s and q.split == half]
            if not rows:
                continue
            r = rates(best_of(rows, use, model), cut)
            lines.append(f"| {s} | {half} | {r['n']} | {_pct(r['gold'])} | {_pct(r['abstain_answerable'])} | "
                         f"{_pct(r['abstain_unanswerable'])} |")
    return lines


def _pct(x: float) -> str:
    return "—" if x != x else f"{100 * x:.1f} %"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--refresh", action="store_true", help="collect the features again")
    parser.add_argument("--no-write", action="store_true", help="do not write qa/answering/scorer_weights.json")
    parser.add_argument("--max-abstain", type=float, default=0.10,
                        help="the most the threshold may abstain on answerable dev questions")
    parser.add_argument("--kinds", default=f"{CROSS_ENCODER},{COSINE}")
    args = parser.parse_args()
    report = [f"# answer scorer — {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}",
              "", "Fitted on the dev halves of " + ", ".join(SETS) + "; test halves never used to choose anything.",
              "`python benchmarks/fit_scorer.py`", ""]
    stored = json.loads(WEIGHTS_FILE.read_text(encoding="utf-8")) if WEIGHTS_FILE.exists() else {}
    for kind in args.kinds.split(","):
        sets = SETS + (CLOSED_SETS if kind == CROSS_ENCODER else ())
        questions = [q for s in sets for q in load(s, collect(s, kind, args.refresh))]
        dev = [q for q in questions if q.split == "dev"]
        every = list(range(len(FEATURES)))
        model = fit(dev, every)
        cut = choose_threshold(best_of(dev, every, model), args.max_abstain)
        weights = weights_of(model, every, cut, dev)
        stored[kind] = weights.as_json()
        report += [f"## {kind}", "", f"threshold {cut[0]:.2f}, off_point {cut[1]} (dev, at most "
                   f"{args.max_abstain:.0%} of answerable abstained); {weights.fitted_on}", "",
                   "| feature | weight (standardised) |", "|---|---|"]
        report += [f"| {name} | {c:+.3f} |" for name, c in zip(FEATURES, model[2], strict=True)]
        report += ["", *report_lines(questions, every, model, cut), ""]
        report += ["Ablation: refitted without a check's features, or one other feature (threshold chosen again on "
                   "dev); test halves, best candidate holds gold / abstain answerable / abstain unanswerable:", "",
                   "| without | " + " | ".join(sets) + " |", "|---|" + "---|" * len(sets)]
        ablated_weights = {}
        for drop, names in (("(all features)", ()), ("off_point rule", ()), *ABLATIONS.items()):
            use = [i for i, name in enumerate(FEATURES) if name not in names]
            ablated = fit(dev, use)
            t = choose_threshold(best_of(dev, use, ablated), args.max_abstain,
                                 (float("inf"),) if drop == "off_point rule" else OFF_POINTS)
            ablated_weights[drop] = weights_of(ablated, use, t, dev).as_json()
            cells = []
            for s in sets:
                r = rates(best_of([q for q in questions if q.set_name == s and q.split == "test"], use, ablated), t)
                cells.append(f"{_pct(r['gold'])} / {_pct(r['abstain_answerable'])} / "
                             f"{_pct(r['abstain_unanswerable'])}")
            report.append(f"| {drop} | " + " | ".join(cells) + " |")
        report.append("")
        if kind == CROSS_ENCODER:
            ABLATION_WEIGHTS.write_text(json.dumps(ablated_weights, indent=1) + "\n", encoding="utf-8")
    if not args.no_write:
        WEIGHTS_FILE.write_text(json.dumps(stored, indent=1) + "\n", encoding="utf-8")
    text = "\n".join(report)
    print(text)
    (RESULTS / "fit_scorer.txt").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
