"""What the ``qa`` commands (:mod:`qa.interfaces.cli`) share: their options, the checks on them, and error lines.

An option means the same in every command that has it: every date (``--as-of``, ``--since``, ``--until``)
is checked by :func:`check_date`, ``--format``/``--json`` choose the output the same way, ``-k`` is
bounded by one setting (``Config.max_top_k``, the REST API's limit too). A command that meets the
collection's errors ends with one ``error: …`` line, exit 1 (the traceback too with ``-v``); bad input
to an option ends with click's usage error, exit 2.
"""

from __future__ import annotations

import sqlite3
import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from qa.config import Config

if TYPE_CHECKING:
    from qa.types import SearchFilters

Decorated = TypeVar("Decorated", bound=Callable[..., Any])


class CliState:
    """Options shared by every command; the config is read once, here at the edge."""

    def __init__(self, config: Config) -> None:
        self.config = config


def _verbose() -> bool:
    context = click.get_current_context(silent=True)
    return bool(context and context.find_root().params.get("verbose"))


def fail(error: BaseException | str, after: str = "") -> NoReturn:
    """Ends the command with one ``error: …`` line (``after`` appended) and exit 1; with ``-v``, an
    exception's traceback comes first."""
    if _verbose() and isinstance(error, BaseException) and error.__traceback__ is not None:
        click.echo("".join(traceback.format_exception(error)), err=True, nl=False)
    click.secho(f"error: {str(error) or type(error).__name__}{after}", fg="red", err=True)
    sys.exit(1)


def _reported_errors() -> tuple[type[BaseException], ...]:
    """Errors a user can meet and act on: the collection cannot be opened, is busy or is damaged, the
    disk refuses. Imported only when one is raised, so ``qa --help`` stays quick."""
    from embeddings import IndexFileError
    from qa.ingest.distributed import RayUnavailable
    from qa.storage.collection import CollectionError
    from qa.storage.keyword_index import KeywordIndexStale

    return CollectionError, IndexFileError, KeywordIndexStale, RayUnavailable, sqlite3.DatabaseError, OSError


class Commands(click.Group):
    """The ``qa`` group: any command's :func:`_reported_errors` become one ``error: …`` line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException:
            raise
        except Exception as error:
            if isinstance(error, _reported_errors()):
                fail(error)
            raise


# --- dates -----------------------------------------------------------------------------------------
def check_date(_ctx: click.Context | None, param: click.Parameter | None, value: str | None) -> str | None:
    """A date option's value as ``YYYY-MM-DD`` (None when not given); a usage error (exit 2) otherwise."""
    from qa.text.timeframe import parse_date

    if value is None:
        return None
    day = parse_date(value)
    if day is None:
        raise click.BadParameter(f"{value!r} is not a date like 2022-06-16 (YYYY-MM-DD)", param=param)
    return day.isoformat()


def as_of_option(default: str) -> Callable[[Decorated], Decorated]:
    """``--as-of``: the day a question is asked on; later articles are left out and 'this week' style
    questions count back from it. ``default`` says what happens without it."""
    return click.option("--as-of", callback=check_date, metavar="YYYY-MM-DD",
                        help="Leave out articles dated after this day, and count 'this week' style "
                             f"questions back from it (default: {default}).")


def filter_options(command: Decorated) -> Decorated:
    """``--source`` (repeatable), ``--since`` and ``--until``, the filters of ``search`` and ``ask``."""
    options = [
        click.option("--source", multiple=True, help="Only articles from this source (repeatable)."),
        click.option("--since", callback=check_date, metavar="YYYY-MM-DD",
                     help="Only articles dated on or after this day."),
        click.option("--until", callback=check_date, metavar="YYYY-MM-DD",
                     help="Only articles dated on or before this day."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def filters(source: tuple[str, ...], since: str | None, until: str | None) -> SearchFilters:
    """The :class:`~qa.types.SearchFilters` of :func:`filter_options` (dates already checked)."""
    from qa.types import SearchFilters

    if since and until and since > until:
        raise click.BadParameter(f"--since {since} is after --until {until}: no article could match",
                                 param_hint="'--since' / '--until'")
    return SearchFilters(sources=tuple(source), since=since, until=until)


# --- output ----------------------------------------------------------------------------------------
def format_options(*formats: str) -> Callable[[Decorated], Decorated]:
    """``--format`` (one of ``formats``, text by default) and ``--json``, the same as ``--format json``."""
    described = {"text": "for a terminal", "md": "as Markdown", "json": "as JSON"}

    def decorate(command: Decorated) -> Decorated:
        command = click.option("--json", "as_json", is_flag=True, help="Same as --format json.")(command)
        return click.option("--format", "output_format", type=click.Choice(formats), default=None,
                            help=f"Print {', '.join(described[f] for f in formats[:-1])} or {described[formats[-1]]} "
                                 "[default: text].")(command)
    return decorate


def chosen_format(output_format: str | None, as_json: bool) -> str:
    """The format :func:`format_options` chose; a usage error when ``--json`` and ``--format`` disagree."""
    if as_json and output_format not in (None, "json"):
        raise click.UsageError(f"--json and --format {output_format} ask for different outputs; give one")
    return "json" if as_json else output_format or "text"


def _check_top(ctx: click.Context, param: click.Parameter, value: int) -> int:
    state = ctx.find_object(CliState)  # None only when the command is invoked without the `qa` group
    limit = (state.config if state else Config.load()).max_top_k
    if not 1 <= value <= limit:
        raise click.BadParameter(f"{value} is not between 1 and {limit} (the maximum is QA_MAX_TOP_K)", param=param)
    return value


top_option = click.option("-k", "--top", "k", type=int, default=10, show_default=True, callback=_check_top,
                          help="How many passages, 1 to QA_MAX_TOP_K (100 unless set).")

wait_option = click.option(
    "--wait/--no-wait", default=True, show_default=True,
    help="If another process is writing to the data dir, wait for it (saying so), or stop at once.")


def say_waiting(message: str) -> None:
    """Tells the user that the command waits for another process's write."""
    click.secho(message[0].upper() + message[1:], fg="yellow", err=True)
