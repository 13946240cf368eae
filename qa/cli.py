"""The ``qa`` command: ingest, search, ask, stats, remove, check, rebuild, eval. A thin shell over ``qa``."""

from __future__ import annotations

import json
import logging
import os
import sys
import textwrap
from pathlib import Path

import click

from qa.config import Config

_LISTED = 25  # per outcome in the ingest report; failures are always listed in full
_PASSAGE_CHARS = 1200  # a normal passage is ~800 characters; a run-on one is shortened in `qa search`
IVF_ABOVE = 200_000  # chunks; below, a flat index is exact and as fast (benchmarks/scale.py)


class _Context:
    """Options shared by every command; the config is read once, here at the edge."""

    def __init__(self, config: Config) -> None:
        self.config = config


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(path_type=Path), help="Index folder [env QA_DATA_DIR, default .qa-data].")
@click.option("--embedding-model", help="sentence-transformers name or path [env QA_EMBEDDING_MODEL].")
@click.option("--reranker", "reranker_model", help="Bundled name, ONNX folder, or 'none' [env QA_RERANKER_MODEL].")
@click.option("--index-type", type=click.Choice(["flat", "hnsw", "ivf"]),
              help="FAISS index type; `qa rebuild` switches a collection to it [env QA_INDEX_TYPE].")
@click.option("-v", "--verbose", is_flag=True, help="Log what happens.")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None, embedding_model: str | None, reranker_model: str | None,
         index_type: str | None, verbose: bool) -> None:
    """Ask questions about a folder of articles and get answers with citations."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        config = Config.load(data_dir=data_dir, embedding_model=embedding_model,
                             reranker_model=reranker_model, index_type=index_type)
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    ctx.obj = _Context(config)


_wait_option = click.option(
    "--wait/--no-wait", default=True, show_default=True,
    help="If another process is writing to the data dir, wait for it (saying so), or stop at once.")


def index_type_hint(index_type: str, chunks: int) -> str | None:
    """Advice when the collection has outgrown its index type, or not grown into it."""
    if index_type == "flat" and chunks > IVF_ABOVE:
        return (f"{chunks:,} chunks: an IVF index searches faster in a quarter of the memory "
                "(QA_INDEX_TYPE=ivf qa rebuild; the vectors are kept)")
    if index_type == "ivf" and chunks < IVF_ABOVE // 4:
        return f"{chunks:,} chunks: a flat index is exact and fast at this size (QA_INDEX_TYPE=flat qa rebuild)"
    return None


def _say_waiting(message: str) -> None:
    click.secho(message[0].upper() + message[1:], fg="yellow", err=True)


def _fail(error: Exception) -> None:
    click.secho(f"error: {error}", fg="red", err=True)
    sys.exit(1)


def _collection(ctx: _Context):
    from embeddings import IndexFileError
    from qa.collection import Collection, CollectionError

    try:
        return Collection(ctx.config)
    except (CollectionError, IndexFileError) as error:
        _fail(error)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--prune", is_flag=True, help="Also remove articles whose files under PATHS are gone.")
@click.option("--follow-symlinks", is_flag=True,
              help="Also follow symlinks that lead outside PATHS (by default they are skipped and listed).")
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
              help="Read, chunk and embed on Ray: a cluster's ADDRESS (e.g. ray://head:10001), else "
                   "QA_RAY_ADDRESS, else a local Ray started for the run (needs the [ray] extra).")
@click.option("--ray-actors", type=click.IntRange(min=1), default=1, show_default=True,
              help="Encoder actors on Ray (one per free core or GPU is a good start).")
@click.option("--ray-batch", type=click.IntRange(min=1), default=16, show_default=True,
              help="Files per embedding call on Ray.")
@_wait_option
@click.pass_obj
def ingest(ctx: _Context, paths: tuple[Path, ...], prune: bool, follow_symlinks: bool, ray_address: str | None,
           ray_actors: int, ray_batch: int, wait: bool) -> None:
    """Add or update articles from files and folders (.txt .md .html .json .jsonl .pdf)."""
    from tqdm import tqdm

    from qa.collection import CollectionBusy
    from qa.ingest import Ingestor, IngestProgress

    collection = _collection(ctx)
    bar = tqdm(total=0, unit="file", desc="Ingesting", disable=None, file=sys.stderr)

    def progress(p: IngestProgress) -> None:
        if p.waiting:
            _say_waiting(p.waiting)
            return
        bar.total = p.files_total
        rate = p.chunks_embedded / p.seconds if p.seconds else 0.0
        bar.set_postfix_str(f"{p.chunks_embedded} chunks, {rate:.0f} chunks/s")
        bar.update(p.files_done - bar.n)

    ingestor = Ingestor(collection, follow_symlinks=follow_symlinks, wait=wait)
    try:
        if ray_address is None:
            report = ingestor.ingest(paths, prune=prune, progress=progress)
        else:
            import importlib.util

            if importlib.util.find_spec("ray") is None:
                _fail(ImportError("--ray needs Ray: pip install -e '.[ray]'"))
            from qa.distributed import RayOptions, ingest_on_ray

            address = None if ray_address == "local" else ray_address
            options = RayOptions(address or ctx.config.ray_address or None, ray_actors, ray_batch)
            report = ingest_on_ray(ingestor, paths, options, prune=prune, progress=progress)
    except CollectionBusy as error:
        bar.close()
        _fail(error)
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


def _filters(source: tuple[str, ...], since: str | None, until: str | None):
    from qa.types import SearchFilters

    return SearchFilters(sources=tuple(source), since=since, until=until)


_filter_options = [
    click.option("--source", multiple=True, help="Only articles from this source (repeatable)."),
    click.option("--since", help="Only articles dated on or after YYYY-MM-DD."),
    click.option("--until", help="Only articles dated on or before YYYY-MM-DD."),
]


def _with_filters(command):
    for option in reversed(_filter_options):
        command = option(command)
    return command


@main.command()
@click.argument("query")
@click.option("-k", "--top", "k", default=10, show_default=True, help="How many passages.")
@_with_filters
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of hits.")
@click.option("--no-rerank", is_flag=True, help="Fused dense + BM25 order only.")
@click.option("--full", is_flag=True, help="Print whole passages (by default long ones are shortened).")
@click.pass_obj
def search(ctx: _Context, query: str, k: int, source: tuple[str, ...], since: str | None, until: str | None,
           as_json: bool, no_rerank: bool, full: bool) -> None:
    """Show the passages that best match QUERY."""
    from embeddings import load_reranker
    from qa.questions import bound_question
    from qa.retrieval import Retriever

    bounded = bound_question(query)
    query = bounded.text
    if bounded.note:
        click.secho(f"note: {bounded.note}", fg="yellow", err=True)
    collection = _collection(ctx)
    reranker = None if no_rerank else load_reranker(ctx.config.reranker_model)
    retriever = Retriever(collection, reranker.score if reranker else None,
                          rerank_candidates=ctx.config.rerank_candidates, sentence_budget=ctx.config.sentence_budget)
    hits = retriever.search(query, k=k, filters=_filters(source, since, until))
    if as_json:
        click.echo(json.dumps([{"article_id": p.article_id, "chunk_id": p.chunk_id, "score": round(p.score, 4),
                                "title": p.title, "date": p.date, "source": p.source, "url": p.url,
                                "text": p.text} for p in hits], ensure_ascii=False, indent=2))
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
@_with_filters
@click.option("--as-of", callback=lambda _ctx, _param, value: _as_of(value),
              help="The question's date (YYYY-MM-DD; default today): later articles are left out, and "
                   "'this week' style questions count back from it.")
@click.option("--format", "output_format", type=click.Choice(["text", "md", "json"]), default="text",
              show_default=True, help="How to print the answer: for a terminal, as Markdown, or as JSON.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.pass_obj
def ask(ctx: _Context, question: str, source: tuple[str, ...], since: str | None, until: str | None,
        as_of: str | None, output_format: str, as_json: bool) -> None:
    """Answer QUESTION from the articles, with numbered citations."""
    from qa import export
    from qa.assistant import Assistant
    from qa.collection import CollectionError

    try:
        answer = Assistant(ctx.config).ask(question, filters=_filters(source, since, until), as_of=as_of)
    except CollectionError as error:
        _fail(error)
    if as_json or output_format == "json":
        click.echo(json.dumps(export.answer_json(answer), ensure_ascii=False, indent=2))
    elif output_format == "md":
        click.echo(export.conversation_markdown([export.Exchange(answer.question, answer)],
                                                subtitle=f"As of {as_of}"), nl=False)
    else:
        click.echo(export.answer_text(answer))


def _as_of(value: str | None) -> str:
    """``--as-of`` checked (a real YYYY-MM-DD date), today when not given."""
    import datetime

    from qa.timeframe import parse_date

    if value is None:
        return datetime.date.today().isoformat()
    day = parse_date(value)
    if day is None:
        raise click.BadParameter(f"{value!r} is not a date like 2022-06-16 (YYYY-MM-DD)")
    return day.isoformat()


@main.command()
@click.pass_obj
def stats(ctx: _Context) -> None:
    """Size of the collection."""
    from qa.collection import data_dir_size

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
    if hint := index_type_hint(s.index_type, s.chunks):
        click.echo(f"hint:       {hint}")


@main.command()
@_wait_option
@click.pass_obj
def compact(ctx: _Context, wait: bool) -> None:
    """Write the vectors into one new base file, dropping deleted ones (commits also do this on their own
    once deletions or additions pass 10 % of the base)."""
    from qa.collection import CollectionBusy

    collection = _collection(ctx)
    before = collection.layers
    try:
        with collection.writer("a compaction", wait, _say_waiting):
            collection.compact()
    except CollectionBusy as error:
        _fail(error)
    click.echo(f"compacted: {before[0]} base + {before[1]} added - {before[2]} deleted -> "
               f"{collection.layers[0]} vectors in one {ctx.config.index_type} base file")


@main.command()
@click.argument("target")
@_wait_option
@click.pass_obj
def remove(ctx: _Context, target: str, wait: bool) -> None:
    """Remove an article by id, or every article from a file or folder."""
    from qa.collection import CollectionBusy
    from qa.ingest import Ingestor

    try:
        titles = Ingestor(_collection(ctx), wait=wait).remove(target, on_wait=_say_waiting)
    except CollectionBusy as error:
        _fail(error)
    if not titles:
        _fail(ValueError(f"no article with id or path {target!r}"))
    for title in titles:
        click.echo(f"  removed   {title}")
    click.echo(f"removed {len(titles)} article(s)")


@main.command()
@click.pass_obj
def check(ctx: _Context) -> None:
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
@click.pass_obj
def evaluate(ctx: _Context, corpus: Path, questions: Path, out: Path, split: str) -> None:
    """Ingest CORPUS into its own index, ask every question, write results and print a summary."""
    import hashlib
    from dataclasses import replace

    from tqdm import tqdm

    from qa import evaluation
    from qa.assistant import Assistant
    from qa.ingest import Ingestor

    config = ctx.config
    if click.get_current_context().find_root().params.get("data_dir") is None and "QA_DATA_DIR" not in os.environ:
        # A fresh index per corpus, reused when the same corpus is evaluated again.
        digest = hashlib.sha256(str(corpus.resolve()).encode()).hexdigest()[:12]
        config = replace(config, data_dir=config.data_dir / "eval" / digest)
    asked = evaluation.load_questions(questions, split)
    assistant = Assistant(config)
    report = Ingestor(assistant.collection).ingest([corpus])
    click.echo(f"corpus: {report.summary()}", err=True)
    stems = {a.article.id: Path(a.article.source_path).stem for a in assistant.collection.store.articles()}
    rows = []
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as handle:
        for question, answer, latency in tqdm(evaluation.run(assistant, asked), total=len(asked),
                                              desc="Asking", unit="q", disable=None, file=sys.stderr):
            record = evaluation.result_record(question, answer, latency)
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            rows.append((question, record, evaluation.article_ranking(answer, stems)))
    for line in evaluation.summarize(rows).lines():
        click.echo(line)
    click.echo(f"results: {out}")


@main.command()
@_wait_option
@click.option("--re-embed", is_flag=True, help="Chunk and embed every article again even when only the index "
              "type changes (e.g. after changing the chunk settings).")
@click.pass_obj
def rebuild(ctx: _Context, wait: bool, re_embed: bool) -> None:
    """Fresh indexes from the stored articles: after damage, or to change the model or the index type (a
    type change alone keeps the stored vectors)."""
    from tqdm import tqdm

    from qa.ingest import IngestProgress
    from qa.ingest import rebuild as rebuild_collection

    bar = tqdm(total=0, unit="chunk", desc="Re-embedding", disable=None, file=sys.stderr)

    def progress(p: IngestProgress) -> None:
        if p.waiting:
            _say_waiting(p.waiting)
            return
        bar.total = max(bar.total or 0, p.chunks_embedded)
        bar.update(p.chunks_embedded - bar.n)

    try:
        rebuilt = rebuild_collection(ctx.config, progress, wait=wait, re_embed=re_embed)
    except Exception as error:  # any failure leaves the old generation in force
        bar.close()
        _fail(error)
    bar.close()
    how = f"embedded with {ctx.config.embedding_model}" if rebuilt.embedded else "re-indexed, vectors kept"
    click.echo(f"rebuilt: {rebuilt.chunks} chunks {how} ({ctx.config.index_type} index)")
