"""Long jobs of the studio (features, ranking, block pictures, evaluation, training), one at a time.

A job runs on its own thread, off the request thread, and records its progress lines for the page
to poll.  While one runs, starting another is refused with :class:`JobBusy` (the server answers
409), so two jobs never write the same cache or session state at once.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sentilens.utils import Say, SentilensError

log = logging.getLogger("sentilens.studio")

#: Progress lines kept per job (the page shows the last one; the rest help when a job fails).
KEPT_LINES = 50


@dataclass
class Job:
    """One long job: what it is, where it stands, and its result or error."""

    kind: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    state: str = "running"  # running, done or failed
    lines: list[str] = field(default_factory=list)
    result: Any = None
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None

    def say(self, message: str) -> None:
        """Record a progress line (the ``say`` the library's steps call)."""
        self.lines = [*self.lines[-(KEPT_LINES - 1) :], str(message)]

    def to_dict(self) -> dict[str, Any]:
        end = self.finished if self.finished is not None else time.time()
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "progress": self.lines[-1] if self.lines else "",
            "lines": self.lines,
            "result": self.result,
            "error": self.error,
            "seconds": round(end - self.started, 2),
        }


class JobBusy(Exception):
    """Another job is running; it must finish before a new one starts."""

    def __init__(self, running: Job) -> None:
        super().__init__(f"a {running.kind} job is running; wait for it to finish")
        self.running = running


class JobRunner:
    """Runs one job at a time on a background thread and keeps every job's record."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._current: Job | None = None

    @property
    def current(self) -> Job | None:
        """The job running now, if any."""
        job = self._current
        return job if job is not None and job.state == "running" else None

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def start(self, kind: str, work: Callable[[Say], Any], done: Callable[[Any], None] | None = None) -> Job:
        """Start ``work(say)`` as a job; ``done(result)`` runs on its thread when it succeeds.

        Raises:
            JobBusy: another job is running.
        """
        with self._lock:
            running = self.current
            if running is not None:
                raise JobBusy(running)
            job = Job(kind)
            self._jobs[job.id] = job
            self._current = job
        threading.Thread(target=self._run, args=(job, work, done), name=f"studio-{kind}", daemon=True).start()
        return job

    def wait(self, job: Job, timeout: float | None = None) -> Job:
        """Block until ``job`` has finished (for scripts and tests)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while job.state == "running" and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.05)
        return job

    @staticmethod
    def _run(job: Job, work: Callable[[Say], Any], done: Callable[[Any], None] | None) -> None:
        try:
            result = work(job.say)
            if done is not None:
                done(result)
            job.result = result
            job.state = "done"
        except SentilensError as error:
            job.error, job.state = str(error), "failed"
        except Exception as error:  # a bug: logged with its traceback on the server, not sent to the page
            log.exception("studio job %s (%s) failed", job.id, job.kind)
            job.error, job.state = (
                f"internal error ({type(error).__name__}); the server's log has the details",
                "failed",
            )
        finally:
            job.finished = time.time()
