"""The ``qa`` command, a thin shell over ``qa``: ingest, search, ask, stats, compact, remove, check, eval,
rebuild, feeds. Options shared by several commands, their checks and the error lines are in
:mod:`qa.interfaces.cli_options`.
"""

from __future__ import annotations

import json
import logging
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import click

from qa.config import Config
from qa.interfaces.cli_options import (
    CliState,
    Commands,
    as_of_option,
    chosen_format,
    fail,
    filter_options,
    filters,
    format_options,
    say_waiting,
    top_option,
    wait_option,
)
from qa.interfaces.sources.commands import feeds, feeds_line

if TYPE_CHECKING:
    from collections.abc import Callable

    from qa.ingest.distributed import RayOptions
    from qa.ingest.pipeline import IngestReport
    from qa.storage.collection import Collection

_LISTED = 25  # per outcome in the ingest report; failures are always listed in full
_REMOVAL_LISTED = 10  # titles shown when a removal of several articles asks for --yes
_PASSAGE_CHARS = 1200  # a normal passage is ~800 characters; a run-on one is shortened in `qa search`
IVF_ABOVE = 200_000  # chunks; below, a flat index is exact and as fast (benchmarks/scale.py)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(path_type=Path), help="Index folder [env QA_DATA_DIR, default .qa-data].")
@click.option("--embedding-model", help="sentence-transformers name or path [env QA_EMBEDDING_MODEL].")
@click.option("--reranker", "reranker_model", help="Bundled name, ONNX folder, or 'none' [env QA_RERANKER_MODEL].")
@click.option("--index-type", type=click.Choice(["flat", "hnsw", "ivf"]),
              help="FAISS index type; `qa rebuild` switches a collection to it [env QA_INDEX_TYPE].")
@click.option("-v", "--verbose", is_flag=True, help="Log what happens; an error shows its traceback too.")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None, embedding_model: str | None, reranker_model: str | None,
         index_type: str | None, verbose: bool) -> None:
    """Ask questions about a folder of articles and get answers with citations.

    An error ends a command with one "error: ..." line and exit code 1 (-v shows its traceback); a bad
    option or argument with a usage message and exit code 2.
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        config = Config.load(data_dir=data_dir, embedding_model=embedding_model,
                             reranker_model=reranker_model, index_type=index_type)
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    ctx.obj = CliState(config)


def index_type_hint(index_type: str, chunks: int) -> str | None:
    """Advice when the collection has outgrown its index type, or not grown into it."""
    if index_type == "flat" and chunks > IVF_ABOVE:
        return (f"{chunks:,} chunks: an IVF index searches faster in a quarter of the memory "
                "(QA_INDEX_TYPE=ivf qa rebuild; the vectors are kept)")
    if index_type == "ivf" and chunks < IVF_ABOVE // 4:
        return f"{chunks:,} chunks: a flat index is exact and fast at this size (QA_INDEX_TYPE=flat qa rebuild)"
    return None


def _collection(ctx: CliState) -> Collection:
    from qa.storage.collection import Collection

    return Collection(ctx.config)


@main.command()
@click.argument("targets", nargs=-1, required=True, metavar="PATHS_OR_URLS")
@click.option("--prune", is_flag=True, help="Also remove articles whose files under PATHS are gone.")
@click.option("--follow-symlinks", is_flag=True,
              help="Also follow symlinks that lead outside PATHS (by default they are skipped and listed).")
@click.option("--ray", "use_ray", is_flag=True,
              help="Read, chunk and embed on Ray (needs the [ray] extra): on the cluster that --ray-address or "
                   "QA_RAY_ADDRESS names, else on a local Ray started for the run.")
@click.option("--ray-address", metavar="ADDRESS",
              help="The Ray cluster for --ray (implies it), e.g. ray://head:10001 [env QA_RAY_ADDRESS].")
@click.option("--ray-actors", type=click.IntRange(min=1), default=1, show_default=True,
              help="Encoder actors on Ray (one per free core or GPU is a good start).")
@click.option("--ray-batch", type=click.IntRange(min=1), default=16, show_default=True,
              help="Files per embedding call on Ray.")
@wait_option
@click.pass_obj
def ingest(ctx: CliState, targets: tuple[str, ...], prune: bool, follow_symlinks: bool, use_ray: bool,
           ray_address: str | None, ray_actors: int, ray_batch: int, wait: bool) -> None:
    """Add or update articles from files and folders (.txt .md .html .json .jsonl .pdf) and web links
    (http:// or https://: the page is fetched and its article text extracted)."""
    from tqdm import tqdm

    from qa.ingest.pipeline import Ingestor, IngestProgress
    from qa.sources.links import is_url

    urls = [t for t in targets if is_url(t)]
    paths = tuple(Path(t) for t in targets if not is_url(t))
    if urls:
        from qa.interfaces.sources.commands import ingest_urls

        ingest_urls(ctx, urls, wait)
        if not paths:
            return

    for given in paths:
        if ":/" in str(given) and not given.exists():  # the old `--ray ray://head:10001 PATH` (a Path keeps one /)
            raise click.BadParameter(f"{str(given)!r} looks like a Ray address: name a cluster with --ray-address",
                                     param_hint="PATHS")
    collection = _collection(ctx)
    bar = tqdm(total=0, unit="file", desc="Ingesting", disable=None, file=sys.stderr)

    def progress(p: IngestProgress) -> None:
        if p.waiting:
            say_waiting(p.waiting)
            return
        bar.total = p.files_total
        rate = p.chunks_embedded / p.seconds if p.seconds else 0.0
        bar.set_postfix_str(f"{p.chunks_embedded} chunks, {rate:.0f} chunks/s")
        bar.update(p.files_done - bar.n)

    ingestor = Ingestor(collection, follow_symlinks=follow_symlinks, wait=wait)
    try:
        if use_ray or ray_address:
            ingest_on_ray, options = _ray(ray_address or ctx.config.ray_address or None, ray_actors, ray_batch)
            report = ingest_on_ray(ingestor, paths, options, prune=prune, progress=progress)
        else:
            report = ingestor.ingest(paths, prune=prune, progress=progress)
    finally:
        bar.close()
    for label, items in (("added", report.added), ("updated", report.updated), ("removed", report.removed),
                         ("duplicate", report.duplicates)):
        for item in items[:_LISTED]:
            click.echo(f"  {label:9} {item}")
        if len(items) > _LISTED:
            click.echo(f"  {label:9} … and {len(items) - _LISTED} more")
    for item in report.truncated:
        click.secho(f"  partly    {item}", fg="yellow")
    for path, reason in report.failed:
        click.secho(f"  failed    {path}: {reason}", fg="yellow")
    for path, reason in report.skipped:
        click.echo(f"  skipped   {path}: {reason}")
    click.echo(report.summary())


def _ray(address: str | None, actors: int, batch_files: int) -> tuple[Callable[..., IngestReport], RayOptions]:
    """``ingest_on_ray`` and its options, or an error line when Ray is not installed."""
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        fail("--ray needs Ray: pip install -e '.[ray]'")
    from qa.ingest.distributed import RayOptions, ingest_on_ray

    return ingest_on_ray, RayOptions(address, actors, batch_files)


@main.command()
@click.argument("query")
@top_option
@filter_options
@as_of_option("today")
@format_options("text", "json")
@click.option("--no-rerank", is_flag=True, help="Fused dense + BM25 order only.")
@click.option("--full", is_flag=True, help="Print whole passages (by default long ones are shortened).")
@click.pass_obj
def search(ctx: CliState, query: str, k: int, source: tuple[str, ...], since: str | None, until: str | None,
           as_of: str | None, output_format: str | None, as_json: bool, no_rerank: bool, full: bool) -> None:
    """Show the passages that best match QUERY."""
    from embeddings import load_reranker
    from qa.interfaces.export import passage_json
    from qa.retrieval.search import Retriever
    from qa.text.questions import bound_question
    from qa.text.timeframe import today

    chosen, wanted = chosen_format(output_format, as_json), filters(source, since, until)
    bounded = bound_question(query)
    query = bounded.text
    if bounded.note:
        click.secho(f"note: {bounded.note}", fg="yellow", err=True)
    collection = _collection(ctx)
    reranker = None if no_rerank else load_reranker(ctx.config.reranker_model)
    retriever = Retriever(collection, reranker.score if reranker else None,
                          rerank_candidates=ctx.config.rerank_candidates, sentence_budget=ctx.config.sentence_budget)
    hits = retriever.search(query, k=k, filters=wanted, as_of=as_of or today())
    if chosen == "json":
        click.echo(json.dumps([passage_json(p) for p in hits], ensure_ascii=False, indent=2))
        return
    if not hits:
        click.echo("No matching passages.")
    for rank, p in enumerate(hits, 1):
        click.secho(f"{rank:>2}. [{p.score:.3f}] {p.title}", bold=True)
        click.echo(f"    {p.date or 'undated'} · {p.source or 'unknown source'} · {p.chunk_id}")
        text = p.text if full else _shortened(p.text)
        click.echo(textwrap.indent(textwrap.fill(text, 96, break_long_words=True), "    ") + "\n")


def _shortened(text: str, limit: int = _PASSAGE_CHARS) -> str:
    """``text`` cut to about ``limit`` characters at a word boundary, marked with how much was left out."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    cut = cut.rsplit(" ", 1)[0] if " " in cut[limit // 2 :] else cut
    return f"{cut} … [{len(text) - len(cut):,} more characters; --full shows all]"


@main.command()
@click.argument("question")
@filter_options
@as_of_option("today")
@format_options("text", "md", "json")
@click.option("--explain", is_flag=True, help="Also show why: the question's facts, the best candidate sentences "
              "with their scores and each check's verdict, and the decision with its reason (JSON: \"trace\").")
@click.pass_obj
def ask(ctx: CliState, question: str, source: tuple[str, ...], since: str | None, until: str | None,
        as_of: str | None, output_format: str | None, as_json: bool, explain: bool) -> None:
    """Answer QUESTION from the articles, with numbered citations."""
    from qa.assistant import Assistant
    from qa.interfaces import export
    from qa.text.timeframe import today

    chosen, wanted = chosen_format(output_format, as_json), filters(source, since, until)
    as_of = as_of or today()
    answer = Assistant(ctx.config).ask(question, filters=wanted, as_of=as_of, explain=explain)
    if chosen == "json":
        click.echo(json.dumps(export.answer_json(answer), ensure_ascii=False, indent=2))
    elif chosen == "md":
        click.echo(export.conversation_markdown([export.Exchange(answer.question, answer)],
                                                subtitle=f"As of {as_of}") + export.trace_markdown(answer), nl=False)
    else:
        click.echo(export.answer_text(answer))


@main.command()
@click.pass_obj
def stats(ctx: CliState) -> None:
    """Size of the collection."""
    from qa.storage.collection import data_dir_size

    collection = _collection(ctx)
    s = collection.stats()
    click.echo(f"data dir:   {ctx.config.data_dir.resolve()}")
    click.echo(f"articles:   {s.articles}")
    click.echo(f"chunks:     {s.chunks}")
    click.echo(f"dates:      {s.first_date or '-'} .. {s.last_date or '-'}")
    click.echo(f"sources:    {', '.join(s.sources) or '-'}")
    click.echo(f"model:      {s.embedding_model} ({collection.dimension}-d, {s.index_type} index)")
    base, delta, dead = collection.layers
    click.echo(f"vectors:    {base} in the base file, {delta} added since, {dead} deleted since (`qa compact`)")
    click.echo(f"disk:       {data_dir_size(ctx.config.data_dir) / 1e6:.1f} MB")
    click.echo(f"feeds:      {feeds_line(ctx.config)}")
    if hint := index_type_hint(s.index_type, s.chunks):
        click.echo(f"hint:       {hint}")


@main.command()
@wait_option
@click.pass_obj
def compact(ctx: CliState, wait: bool) -> None:
    """Write the vectors into one new base file, dropping deleted ones (commits also do this on their own
    once deletions or additions pass 10 % of the base)."""
    collection = _collection(ctx)
    before = collection.layers
    with collection.writer("a compaction", wait, say_waiting):
        collection.compact()
    click.echo(f"compacted: {before[0]} base + {before[1]} added - {before[2]} deleted -> "
               f"{collection.layers[0]} vectors in one {ctx.config.index_type} base file")


def _named(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    if not value.strip():  # as a path, "" is the current folder: every article ingested from under it
        raise click.BadParameter("it is empty; name an article id, or a file or folder (e.g. ./articles)")
    return value


@main.command()
@click.argument("target", callback=_named)
@click.option("-y", "--yes", is_flag=True, help="Remove several articles (all from a file or folder) without asking.")
@click.option("-n", "--dry-run", is_flag=True, help="Only list what would be removed.")
@wait_option
@click.pass_obj
def remove(ctx: CliState, target: str, yes: bool, dry_run: bool, wait: bool) -> None:
    """Remove an article by id, or every article from a file or folder.

    More than one article is removed only with --yes, or when you answer yes at the prompt (a terminal);
    otherwise they are listed and nothing is removed (exit 1).
    """
    from qa.ingest.pipeline import Ingestor, Removal, RemovalTooLarge

    def show(removal: Removal) -> None:
        click.echo(f"{target!r} names {len(removal.titles)} article(s):")
        for title in list(removal.titles.values())[:_REMOVAL_LISTED]:
            click.echo(f"  would remove   {title}")
        if len(removal.titles) > _REMOVAL_LISTED:
            click.echo(f"  … and {len(removal.titles) - _REMOVAL_LISTED} more")

    ingestor = Ingestor(_collection(ctx), wait=wait)
    if dry_run:
        planned = ingestor.removal(target)
        if planned.titles:
            show(planned)
            return
        titles = []
    else:
        try:  # the count is checked under the write lock, so what a writer adds meanwhile is counted too
            titles = ingestor.remove(target, say_waiting, most=None if yes else 1)
        except RemovalTooLarge as large:
            count = len(large.removal.titles)
            show(large.removal)
            if not (sys.stdin.isatty() and click.confirm(f"Remove these {count} articles?", err=True)):
                fail(f"nothing removed: {target!r} names {count} articles; add --yes to remove them all")
            try:
                titles = ingestor.remove(target, say_waiting, most=count)
            except RemovalTooLarge as grown:
                fail(f"nothing removed: {target!r} gained articles while you were asked ({grown})")
    if not titles:
        fail(f"no article with id or path {target!r}")
    for title in titles:
        click.echo(f"  removed   {title}")
    click.echo(f"removed {len(titles)} article(s)")


@main.command()
@click.pass_obj
def check(ctx: CliState) -> None:
    """Verify that SQLite, FAISS and BM25 agree."""
    problems = _collection(ctx).check()
    for problem in problems:
        click.secho(f"  {problem}", fg="red")
    if problems:
        sys.exit(1)
    click.echo("ok: metadata, vectors and keyword index agree")


@main.command(name="eval")
@click.option("--corpus", type=click.Path(exists=True, path_type=Path), required=True,
              help="Articles as JSONL (id, title, text, optional date, source, url), or any file or folder.")
@click.option("--questions", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="Questions as JSONL: id, question, optional date, answers, doc_ids.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Results JSONL.")
@click.option("--split", type=click.Choice(["all", "dev", "test"]), default="all", show_default=True,
              help="Ask a fixed half of the questions: dev for tuning, test for reporting.")
@click.option("--index-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the corpus's index here, to reuse when it is evaluated again (by default a temporary "
                   "folder, removed afterwards). Never the data dir: an evaluation leaves the collection alone.")
@click.option("--explain", is_flag=True, help="Write each answer's trace (candidates, verdicts, decision) into "
              "its results line, as \"trace\".")
@click.pass_obj
def evaluate(ctx: CliState, corpus: Path, questions: Path, out: Path, split: str, index_dir: Path | None,
             explain: bool) -> None:
    """Ingest CORPUS into an index of its own, ask every question, write results and print a summary."""
    from tqdm import tqdm

    from qa.assistant import Assistant
    from qa.ingest.pipeline import Ingestor
    from qa.interfaces import evaluation

    try:
        asked = evaluation.load_questions(questions, split)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--questions'") from error
    try:
        own_index = evaluation.own_index(ctx.config, index_dir)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--index-dir'") from error
    with own_index as config:
        assistant = Assistant(config)
        report = Ingestor(assistant.collection).ingest([corpus])
        click.echo(f"corpus: {report.summary()}", err=True)
        stems = {a.article.id: Path(a.article.source_path).stem for a in assistant.collection.store.articles()}
        rows = []
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", encoding="utf-8") as handle:
            for question, answer, latency in tqdm(evaluation.run(assistant, asked, explain), total=len(asked),
                                                  desc="Asking", unit="q", disable=None, file=sys.stderr):
                record = evaluation.result_record(question, answer, latency)
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                rows.append((question, record, evaluation.article_ranking(answer, stems)))
        assistant.collection.close()
    for line in evaluation.summarize(rows).lines():
        click.echo(line)
    click.echo(f"results: {out}")


@main.command()
@wait_option
@click.option("--re-embed", is_flag=True, help="Chunk and embed every article again even when only the index "
              "type changes (e.g. after changing the chunk settings).")
@click.pass_obj
def rebuild(ctx: CliState, wait: bool, re_embed: bool) -> None:
    """Fresh indexes from the stored articles: after damage, or to change the model or the index type (a
    type change alone keeps the stored vectors)."""
    from tqdm import tqdm

    from qa.ingest.pipeline import IngestProgress
    from qa.ingest.pipeline import rebuild as rebuild_collection

    bar = tqdm(total=0, unit="chunk", desc="Re-embedding", disable=None, file=sys.stderr)

    def progress(p: IngestProgress) -> None:
        if p.waiting:
            say_waiting(p.waiting)
            return
        bar.total = max(bar.total or 0, p.chunks_embedded)
        bar.update(p.chunks_embedded - bar.n)

    try:
        rebuilt = rebuild_collection(ctx.config, progress, wait=wait, re_embed=re_embed)
    except Exception as error:  # any failure leaves the old generation in force; -v shows the traceback
        bar.close()
        fail(error, " (the collection is as it was before the rebuild)")
    bar.close()
    how = f"embedded with {ctx.config.embedding_model}" if rebuilt.embedded else "re-indexed, vectors kept"
    click.echo(f"rebuilt: {rebuilt.chunks} chunks {how} ({ctx.config.index_type} index)")


main.add_command(feeds)
