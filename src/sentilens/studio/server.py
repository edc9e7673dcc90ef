"""The studio's FastAPI application: the page, its JSON API and the HTTP API for programs.

Every request needs the session's token: as ``?token=`` (the URL the command prints; the answer
then sets a same-site cookie so the page's own requests carry it), as ``Authorization: Bearer``
or as that cookie.  Without one the answer is 401, with a wrong one 403.  Files are served only
from the package's ``static`` folder and the session's work folder (pictures it drew), each
resolved and checked to lie inside its folder.  Long work runs as jobs (:mod:`.jobs`).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Optional

from fastapi import FastAPI, File, Form, HTTPException, Request, Response, UploadFile
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from sentilens.app import MODEL_CHOICES, StudioSession, history_csv, history_markdown
from sentilens.studio.jobs import Job, JobBusy, JobRunner
from sentilens.studio.uploads import MAX_FILE_BYTES, MAX_FILES, UploadError, stored_uploads
from sentilens.utils import SentilensError

log = logging.getLogger("sentilens.studio")

#: The largest request body accepted (every file at its limit would not fit; a few large ones do).
MAX_REQUEST_BYTES = 4 * MAX_FILE_BYTES
TOKEN_COOKIE = "sentilens_studio_token"


def static_folder() -> Path:
    """The page's HTML, JavaScript and CSS, shipped inside the package (no CDN)."""
    return Path(str(resources.files("sentilens.studio") / "static"))


class BlockSet(BaseModel):
    """The blocks ticked on the page and their auxiliary-head weights (one per block)."""

    blocks: list[str] = Field(description="Blocks with an auxiliary head, e.g. ['6c', '6d', '7a'].")
    weights: list[float] = Field(description="One weight in [0, 1] per block (the paper: 0.1).")


ModelField = Annotated[str, Form(description=f"Which model: {' or '.join(MODEL_CHOICES)}.")]
FilesField = Annotated[list[UploadFile], File(description="Image files (multipart field 'files').")]
BlockField = Annotated[Optional[str], Form(description="Grad-CAM block (default: the last block).")]
GroupsField = Annotated[bool, Form(description="Also where / what of the rank-1 neuron group.")]


def _error(status: int, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status)


def _busy(error: JobBusy) -> HTTPException:
    return HTTPException(409, {"error": str(error), "running": error.running.to_dict()})


def _inside(root: Path, relative: str) -> Path:
    """``root / relative`` if it is a file inside ``root`` (links resolved), else 404."""
    base = root.resolve()
    path = (base / relative).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        raise HTTPException(404, "no such file")
    return path


def create_app(session: StudioSession, token: str, cookie: str = TOKEN_COOKIE) -> FastAPI:
    """The studio for ``session``; every request must carry ``token``."""
    app = FastAPI(
        title="sentilens studio",
        description=(
            "Choose auxiliary-head blocks, cross-validate them, train, and classify images. "
            "Every request needs the token the `sentilens studio` command printed: `?token=...` or "
            "`Authorization: Bearer ...`. `POST /api/predict` and `POST /api/explain` answer with the "
            "fields of `sentilens predict -f jsonl`."
        ),
        version="1",
        docs_url=None,  # FastAPI's pages load Swagger UI / ReDoc from a CDN; ours ships in the package
        redoc_url=None,
    )
    jobs = JobRunner()
    blocks_drawn: dict[str, dict[str, Any]] = {}
    app.state.session, app.state.jobs = session, jobs

    @app.middleware("http")
    async def require_token(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        header = request.headers.get("authorization", "")
        given = (
            request.query_params.get("token")
            or (header[7:].strip() if header.lower().startswith("bearer ") else "")
            or request.cookies.get(cookie, "")
        )
        if not given:
            return _error(401, "missing token: open the URL that `sentilens studio` printed (it ends in ?token=...)")
        if not secrets.compare_digest(given.encode(), token.encode()):
            return _error(403, "wrong token")
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_REQUEST_BYTES):
            return _error(413, f"request larger than the limit of {MAX_REQUEST_BYTES // (1024 * 1024)} MiB")
        response = await call_next(request)
        if request.query_params.get("token"):
            response.set_cookie(cookie, token, httponly=True, samesite="strict")
        return response

    @app.exception_handler(SentilensError)
    async def library_error(request: Request, error: SentilensError) -> JSONResponse:
        return _error(400, str(error))

    @app.exception_handler(UploadError)
    async def upload_error(request: Request, error: UploadError) -> JSONResponse:
        return _error(error.status, str(error), file=error.name)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception) -> JSONResponse:
        log.exception("studio request %s failed", request.url.path)
        return _error(500, f"internal error ({type(error).__name__}); the server's log has the details")

    app.mount("/static", StaticFiles(directory=static_folder()), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(static_folder() / "index.html", headers={"Cache-Control": "no-store"})

    @app.get("/docs", include_in_schema=False)
    def docs() -> FileResponse:
        """The HTTP API's documentation, rendered from ``/openapi.json`` by the page's own script."""
        return FileResponse(static_folder() / "docs.html", headers={"Cache-Control": "no-store"})

    @app.get("/files/{relative:path}", include_in_schema=False)
    def work_file(relative: str) -> FileResponse:
        """A picture the session drew (only files inside its work folder)."""
        return FileResponse(_inside(session.work, relative))

    @app.get("/api/session", tags=["studio"])
    def describe() -> dict[str, Any]:
        """The dataset, the blocks, the defaults, the paper's figures and where the session stands."""
        running = jobs.current
        default = session.default
        return session.description() | {
            "job": running.to_dict() if running else None,
            "default_result": default.to_dict() if default else None,
            "history": [row.to_dict() for row in session.history],
            "ranking": session.ranking() if session.ranked else None,
            "blocks_drawn": sorted(blocks_drawn),
            "trained_files": session.trained_files,
            "limits": {"file_bytes": MAX_FILE_BYTES, "files": MAX_FILES},
        }

    def start(kind: str, work: Callable[..., Any], done: Callable[[Any], None] | None = None) -> dict[str, Any]:
        try:
            job: Job = jobs.start(kind, work, done)
        except JobBusy as error:
            raise _busy(error) from error
        return job.to_dict()

    @app.get("/api/jobs/{job_id}", tags=["studio"])
    def job_state(job_id: str) -> dict[str, Any]:
        """A job's state, last progress line, and result or error (the page polls this)."""
        job = jobs.get(job_id)
        if job is None:
            raise HTTPException(404, "no such job")
        return job.to_dict()

    @app.post("/api/warmup", status_code=202, tags=["studio"])
    def warm_up() -> dict[str, Any]:
        """Job: read the frozen features and cross-validate the shipped default's block set."""
        return start("warmup", lambda say: session.default_evaluation(say).to_dict())

    @app.post("/api/ranking", status_code=202, tags=["studio"])
    def rank() -> dict[str, Any]:
        """Job: rank the blocks (``suggest-blocks``' probe accuracy and NMF separation)."""
        return start("ranking", session.ranking)

    @app.post("/api/blocks/{block}", status_code=202, tags=["studio"])
    def draw_block(block: str) -> dict[str, Any]:
        """Job: draw one block's ``inspect`` pictures (class contrast, where, what, probe map)."""
        session.config([block], [0.0])  # a 400 now for a block the backbone lacks

        def keep(result: dict[str, Any]) -> None:
            blocks_drawn[block] = result

        return start("block", lambda say: session.block_pictures(block, say), keep)

    @app.get("/api/blocks/{block}", tags=["studio"])
    def drawn_block(block: str) -> dict[str, Any]:
        """A drawn block's pictures (URLs under ``/files/``); 404 before it is drawn."""
        if block not in blocks_drawn:
            raise HTTPException(404, f"block {block} not drawn yet: POST /api/blocks/{block}")
        return blocks_drawn[block]

    @app.post("/api/evaluate", status_code=202, tags=["studio"])
    def evaluate(chosen: BlockSet) -> dict[str, Any]:
        """Job: cross-validate the block set as ``sentilens cv`` does (same folds, same seed)."""
        session.config(chosen.blocks, chosen.weights)
        return start("evaluate", lambda say: session.evaluate(chosen.blocks, chosen.weights, say))

    @app.get("/api/history", tags=["studio"])
    def history() -> dict[str, Any]:
        """Every evaluated block set of this session, and the shipped default's row."""
        default = session.default
        return {"rows": [r.to_dict() for r in session.history], "default": default.to_dict() if default else None}

    @app.get("/api/history.csv", tags=["studio"], response_class=PlainTextResponse)
    def history_as_csv() -> PlainTextResponse:
        """The history as CSV (mean and std of each metric per try)."""
        return PlainTextResponse(
            history_csv(session.history),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="sentilens-studio-history.csv"'},
        )

    @app.get("/api/history.md", tags=["studio"], response_class=PlainTextResponse)
    def history_as_markdown() -> PlainTextResponse:
        """The history as a Markdown table like the paper's Table 5."""
        return PlainTextResponse(
            history_markdown(session.history, session.history_title()),
            media_type="text/markdown",
            headers={"Content-Disposition": 'attachment; filename="sentilens-studio-history.md"'},
        )

    @app.post("/api/train", status_code=202, tags=["studio"])
    def train(chosen: BlockSet) -> dict[str, Any]:
        """Job: train on every image with the block set; write the checkpoint and its config."""
        session.config(chosen.blocks, chosen.weights)
        return start("train", lambda say: session.train(chosen.blocks, chosen.weights, say))

    def uploads(files: list[UploadFile]) -> list[tuple[str | None, Any]]:
        return [(file.filename, file.file) for file in files]

    @app.post("/api/predict", tags=["HTTP API"])
    def predict(files: FilesField, model: ModelField = "shipped") -> dict[str, Any]:
        """Classify images: one row per file with the fields of ``sentilens predict -f jsonl``
        (``file`` is the uploaded name)."""
        with stored_uploads(uploads(files), session.work / "uploads") as stored:
            rows = session.predict([u.path for u in stored], [u.name for u in stored], model)
        return {"model": model, "predictions": rows}

    @app.post("/api/explain", tags=["HTTP API"])
    def explain(
        files: FilesField,
        model: ModelField = "shipped",
        block: BlockField = None,
        groups: GroupsField = True,
    ) -> dict[str, Any]:
        """Classify and explain images: ``predict -f jsonl``'s fields plus Grad-CAM and the neuron
        group as PNG data URLs."""
        with stored_uploads(uploads(files), session.work / "uploads") as stored:
            rows = [session.explain(u.path, u.name, model, block or None, groups) for u in stored]
        return {"model": model, "explanations": rows}

    return app
