"""``sentilens studio``: parsing and printing only; the server is :mod:`sentilens.studio`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sentilens.cli.errors import console
from sentilens.cli.options import CheckpointOpt, DataArg, FoldCountOpt, SingleSubset


def studio(
    data: DataArg,
    subset: Annotated[SingleSubset, typer.Option(help="Twitter I agreement subset.")] = SingleSubset.five,
    checkpoint: CheckpointOpt = None,
    port: Annotated[int, typer.Option(help="Port to listen on (0: a free one).")] = 8765,
    host: Annotated[
        str, typer.Option(help="Address to bind; anything but loopback exposes the studio (the token still applies).")
    ] = "127.0.0.1",
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the checkpoints 'Train and save' writes.")
    ] = Path("sentilens-studio"),
    folds: FoldCountOpt = 5,
    warm: Annotated[
        bool, typer.Option(help="Read the features and cross-validate the shipped default's blocks at start.")
    ] = True,
) -> None:
    """A local web page for the human loop: rank and look at the blocks, evaluate a block set in
    seconds (the same folds as cv), train and save it, try it on images; plus an HTTP API.

    Prints the URL with a random token; every request needs the token.
    """
    from sentilens.studio import serve

    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(f"[yellow]warning:[/] listening on {host}: others on the network can reach it (token required)")
    serve(data, subset.value, checkpoint, host, port, out, folds, warm=warm, say=_say)


def _say(line: str) -> None:
    """One line on standard error, unwrapped (a wrapped URL could not be copied or parsed)."""
    print(line, file=sys.stderr, flush=True)
