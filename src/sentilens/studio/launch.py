"""Start the studio: a session in a temporary folder, a random token, uvicorn on a bound socket."""

from __future__ import annotations

import secrets
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

import uvicorn

from sentilens.app import StudioSession
from sentilens.studio.server import create_app


def studio_url(host: str, port: int, token: str) -> str:
    """The URL a person opens (the token in it, as Jupyter does)."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/?token={token}"


def serve(
    data: Path,
    subset: str = "five",
    checkpoint: Path | None = None,
    host: str = "127.0.0.1",
    port: int = 8765,
    out: Path | None = None,
    folds: int = 5,
    token: str | None = None,
    warm: bool = True,
    say: Callable[[str], None] = print,
) -> None:
    """Serve the studio on ``host:port`` (0: a free port) until interrupted.

    Block pictures and uploads live in a temporary folder removed on exit; "Train and save" writes
    to ``out`` (default ``sentilens-studio/``).  With ``warm`` the shipped default's
    cross-validation starts at once, so that its figures are ready when the person first evaluates.
    """
    token = token or secrets.token_urlsafe(24)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
    port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="sentilens-studio-") as work:
        session = StudioSession(
            data, subset, Path(work), out=out or Path("sentilens-studio"), checkpoint=checkpoint, folds=folds
        )
        app = create_app(session, token, cookie=f"sentilens_studio_{port}")
        if warm:
            app.state.jobs.start("warmup", lambda progress: session.default_evaluation(progress).to_dict())
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2))
        say(f"sentilens studio on {session.dataset.name} ({len(session.dataset)} images)")
        say(f"open {studio_url(host, port, token)}")
        server.run(sockets=[sock])
