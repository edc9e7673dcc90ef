"""The one place where expected failures become a one-line message and exit status 2."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from sentilens.utils import SentilensError

#: Messages, notes and progress go to standard error; results go to standard output.
console = Console(stderr=True)

#: Exit status of a command whose inputs or options are wrong (one ``error:`` line says what).
USAGE_ERROR = 2
#: Exit status of a command that read its inputs but could process none of them (every image
#: skipped, each listed with its reason in what the command wrote).  A run that processed some
#: inputs and skipped others exits 0: the skipped ones are listed, and ``--on-error fail`` makes
#: any undecodable input an error instead.
NOTHING_PROCESSED = 3

#: The exit statuses, as ``--help`` and the README state them.
EXIT_STATUS_HELP = (
    f"Exit status: 0 when at least one input was processed (skipped ones are listed); {NOTHING_PROCESSED} when "
    f"none could be (all skipped); {USAGE_ERROR} on a usage or input error (one 'error:' line)."
)


def fail(message: str) -> NoReturn:
    """Print ``error: message`` and exit with status 2."""
    console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code=USAGE_ERROR)


def finish(processed: int, skipped: Sequence[Any], what: str) -> None:
    """Print each skipped input's reason and the count, then end with :data:`NOTHING_PROCESSED`
    when nothing was ``what`` (e.g. "classified")."""
    for item in skipped:
        console.print(f"[yellow]skipped[/] {escape(item.reason)}")
    if skipped:
        console.print(f"{processed} {what}, {len(skipped)} skipped")
    if not processed:
        console.print(f"[bold red]nothing {what}:[/] every input was skipped (exit status {NOTHING_PROCESSED})")
        raise typer.Exit(code=NOTHING_PROCESSED)


class CommandGroup(TyperGroup):
    """The root command group: a :class:`~sentilens.utils.errors.SentilensError` raised by any
    command (however deeply nested) is printed on one line and ends the process with status 2;
    other exceptions are bugs and keep their traceback."""

    def invoke(self, ctx: Any) -> Any:  # typer's vendored click.Context, not importable publicly
        try:
            return super().invoke(ctx)
        except SentilensError as error:
            fail(str(error))
