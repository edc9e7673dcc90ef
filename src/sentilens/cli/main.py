"""The root ``sentilens`` command: one sub-command per user task, errors handled in one place."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from sentilens.cli.errors import EXIT_STATUS_HELP, CommandGroup
from sentilens.cli.evaluate import evaluate
from sentilens.cli.explain import explain_app
from sentilens.cli.inspect import inspect_command, suggest_blocks_command
from sentilens.cli.predict import backbones, demo, predict
from sentilens.cli.studio import studio
from sentilens.cli.training import cv, experiment_app, train
from sentilens.utils import VERBOSE_ENV, quiet_libraries

app = typer.Typer(
    cls=CommandGroup,
    help="Interpretable image sentiment classification (positive / negative) with Inception networks.",
    no_args_is_help=True,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    """``--version``: print the package version and stop."""
    if value:
        from sentilens.utils import __version__

        print(f"sentilens {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Show the libraries' own log lines, warnings and progress bars (NNCF, OpenVINO, torch, Ray).",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Interpretable image sentiment classification (positive / negative) with Inception networks."""
    if verbose:
        os.environ[VERBOSE_ENV] = "1"  # also read by the processes Ray starts
    quiet_libraries()


app.command()(cv)
app.command()(train)
app.command(epilog=EXIT_STATUS_HELP)(predict)
app.command()(evaluate)
app.command(epilog=EXIT_STATUS_HELP)(demo)
app.add_typer(experiment_app, name="experiment")
app.add_typer(explain_app, name="explain")
app.command("inspect")(inspect_command)
app.command("suggest-blocks")(suggest_blocks_command)
app.command("suggest-layers", hidden=True, help="Older name of suggest-blocks.")(suggest_blocks_command)
app.command()(backbones)
app.command()(studio)


def main() -> None:
    """Entry point of the ``sentilens`` console script."""
    app()
