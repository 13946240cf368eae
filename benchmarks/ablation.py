"""What each answering check is worth: newsdev's (or another set's) dev and test halves with every check on,
then with each one switched off, and the short answers given with every check on.

A check of the scorer (year, outcome, answer_kind) is switched off by scoring with the weights
refitted without its features (``benchmarks/fit_scorer.py`` writes them to results/scorer/ablation-weights.json:
run it first); the date window and the answerer's own rules (leaning, supports) by ``Config.answer_checks_off``.

Retrieval does not depend on the checks, so each question is retrieved once (as ``Assistant.ask`` does: the
question's date as the as-of date, ``max(top_k, 20)`` passages) and answered by the extractive answerer once
per variant. Scores come from ``qa.interfaces.evaluation.summarize``, the same as ``qa eval``'s.

    python benchmarks/fit_scorer.py && python benchmarks/ablation.py [--set newsdev] [--index-dir DIR]

Writes benchmarks/results/ablation-<set>.txt.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.answering.answers import SWITCHABLE, ExtractiveAnswerer  # noqa: E402
from qa.answering.followup import rewrite  # noqa: E402
from qa.answering.scorer import AnswerScorer, ScorerWeights  # noqa: E402
from qa.assistant import Assistant  # noqa: E402
from qa.config import Config  # noqa: E402
from qa.ingest.pipeline import Ingestor  # noqa: E402
from qa.interfaces import evaluation  # noqa: E402
from qa.text.answer_type import Expected, expected  # noqa: E402
from qa.types import Answer  # noqa: E402

DATA = ROOT.parent / "shared" / "eval" / "data"
RESULTS = ROOT / "benchmarks" / "results"
ABLATION_WEIGHTS = RESULTS / "scorer" / "ablation-weights.json"
SCORED_CHECKS = ("year", "outcome", "answer_kind")  # their features are refitted away
# The kinds the short-answer target counts: who, when, where, how many (how much, how old, what share).
SHORT_KINDS = {Expected.PERSON: "who", Expected.TIME: "when", Expected.DATE: "when", Expected.YEAR: "when",
               Expected.PLACE: "where", Expected.NUMBER: "how many", Expected.AGE: "how many",
               Expected.SHARE: "how many", Expected.MONEY: "how many"}

Row = tuple[evaluation.Question, dict, list[set[str]], Answer]


def answered_by_variant(assistant: Assistant, questions: list[evaluation.Question],
                        stems: dict[str, str]) -> dict[str, list[Row]]:
    """Each question retrieved once and answered with every check on ("all on") and with each one off."""
    config = assistant.config
    refitted = json.loads(ABLATION_WEIGHTS.read_text(encoding="utf-8"))
    answerers = {"all on": ExtractiveAnswerer(assistant.answer_scorer, config.answer_max_sentences,
                                              config.answer_margin)}
    for name in sorted(SWITCHABLE):
        scored = name in SCORED_CHECKS
        scorer = AnswerScorer(ScorerWeights.from_json(refitted[name])) if scored else assistant.answer_scorer
        answerers[f"no {name}"] = ExtractiveAnswerer(scorer, config.answer_max_sentences, config.answer_margin,
                                                     frozenset() if scored else frozenset({name}))
    rows: dict[str, list[Row]] = {name: [] for name in answerers}
    for question in questions:
        query = rewrite(question.question, [])
        retrieval = assistant.retriever.retrieve(query, k=max(config.top_k, 20), as_of=question.date)
        for name, answerer in answerers.items():
            answer = answerer.answer(question.question, query, retrieval.passages, retrieval.evidence,
                                     retrieval.window)
            rows[name].append((question, evaluation.result_record(question, answer, 0.0),
                               evaluation.article_ranking(answer, stems), answer))
    return rows


def figures(rows: list[Row]) -> dict[str, float]:
    """The figures of one variant on one half."""
    summary = evaluation.summarize([(q, record, ranking) for q, record, ranking, _ in rows])
    short = [(q, a) for q, _, _, a in rows if q.answerable and not a.abstained and expected(q.question) in SHORT_KINDS]
    given = [(q, a) for q, a in short if a.short_answer]
    gold = [q for q, a in given if evaluation.contains(a.short_answer or "", q.answers)]
    return {"gold": summary.answer_contains_gold, "gold citation": summary.gold_citation,
            "abstain answerable": summary.abstained_answerable,
            "abstain unanswerable": summary.abstained_unanswerable,
            "short given": len(given) / max(1, len(short)), "short has gold": len(gold) / max(1, len(given)),
            "short n": len(short)}


def table(rows: dict[str, list[Row]]) -> list[str]:
    """A Markdown table: each variant's figures on the dev and test halves."""
    lines = ["| variant | half | answer holds gold | gold citation | abstain answerable | abstain unanswerable "
             "| short answer given (who/when/where/how many) | short answer holds gold |",
             "|---|---|---|---|---|---|---|---|"]
    for name, variant_rows in rows.items():
        for half in ("dev", "test"):
            f = figures([row for row in variant_rows if evaluation.in_split(row[0].id, half)])
            lines.append(f"| {name} | {half} | {100 * f['gold']:.1f}% | {100 * f['gold citation']:.1f}% "
                         f"| {100 * f['abstain answerable']:.1f}% | {100 * f['abstain unanswerable']:.1f}% "
                         f"| {100 * f['short given']:.1f}% (of {f['short n']:.0f}) "
                         f"| {100 * f['short has gold']:.1f}% |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", default="newsdev", help="a set under ../shared/eval/data (default newsdev)")
    parser.add_argument("--index-dir", type=Path, help="keep (and reuse) the set's index here")
    args = parser.parse_args()
    folder = DATA / args.set
    started = time.perf_counter()
    with evaluation.own_index(Config.load(), args.index_dir) as config:
        assistant = Assistant(config)
        Ingestor(assistant.collection).ingest([folder / "corpus.jsonl"])
        stems = {a.article.id: Path(a.article.source_path).stem for a in assistant.collection.store.articles()}
        rows = answered_by_variant(assistant, evaluation.load_questions(folder / "questions.jsonl"), stems)
        assistant.collection.close()
    lines = [f"# Ablation of the answering checks on {args.set} ({platform.node()}, "
             f"{time.perf_counter() - started:.0f} s)", "",
             "Each row switches one check off: a check of the scorer by weights refitted without its features, "
             "the others by QA_ANSWER_CHECKS_OFF; nothing was chosen on the test halves.", "",
             *table(rows)]
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"ablation-{args.set}.txt"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"written: {out}")


if __name__ == "__main__":
    main()
