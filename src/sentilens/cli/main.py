"""The root ``sentilens`` command: one sub-command per user task, errors handled in one place."""

from __future__ import annotations

import typer

from sentilens.cli.errors import CommandGroup
from sentilens.cli.explain import explain_app
from sentilens.cli.inspect import inspect_command, suggest_blocks_command
from sentilens.cli.predict import backbones, demo, predict
from sentilens.cli.studio import studio
from sentilens.cli.training import cv, experiment_app, train

app = typer.Typer(
    cls=CommandGroup,
    help="Interpretable image sentiment classification (positive / negative) with Inception networks.",
    no_args_is_help=True,
    add_completion=False,
)
app.command()(cv)
app.command()(train)
app.command()(predict)
app.command()(demo)
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
