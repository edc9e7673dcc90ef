"""The one place where expected failures become a one-line message and exit status 2."""

from __future__ import annotations

from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from sentilens.utils import SentilensError

#: Messages, notes and progress go to standard error; results go to standard output.
console = Console(stderr=True)


def fail(message: str) -> NoReturn:
    """Print ``error: message`` and exit with status 2."""
    console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code=2)


class CommandGroup(TyperGroup):
    """The root command group: a :class:`~sentilens.utils.errors.SentilensError` raised by any
    command (however deeply nested) is printed on one line and ends the process with status 2;
    other exceptions are bugs and keep their traceback."""

    def invoke(self, ctx: Any) -> Any:  # typer's vendored click.Context, not importable publicly
        try:
            return super().invoke(ctx)
        except SentilensError as error:
            fail(str(error))
