"""Quiet by default: the command line's output is sentilens's own lines (results, one line per
one-off step), not the log lines and warnings of the libraries it runs; ``--verbose`` keeps them.

NNCF logs every operation it leaves unquantised at INFO (dozens of lines) and draws its own
progress bars; OpenVINO's conversion and torch print warnings about tracing and deprecations; Ray
prints notices and its C++ core's log lines on the driver's standard error.  :func:`quiet_libraries`
lowers them all before any of those libraries is imported (their import may set a level, so a filter
is kept on the loggers too); Ray reads its settings from the environment when it starts, which
also reaches its worker processes.  Nothing here imports those libraries.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

#: Set (to ``1``) by ``--verbose``: the libraries' logs and warnings are left as they are.
VERBOSE_ENV = "SENTILENS_VERBOSE"

#: Loggers of the libraries, kept to errors (children inherit the level).
LIBRARY_LOGGERS = ("nncf", "openvino", "torch", "torchvision", "ray", "filelock", "urllib3")

#: Read by Ray when it starts: no usage statistics are collected (nor announced).  (Its C++ core's
#: level, RAY_BACKEND_LOG_LEVEL, is left alone: setting it prints a line saying so.)
QUIET_RAY_ENVIRONMENT = {"RAY_USAGE_STATS_ENABLED": "0"}

#: Modules whose warnings are hidden (a regular expression on the warning's module).
LIBRARY_WARNINGS = (
    r"(torch|torchvision|openvino|nncf|ray|pyarrow|sklearn|skimage|matplotlib|pytorch_grad_cam|PIL)(\..*)?$"
)


def verbose() -> bool:
    """True where ``--verbose`` (or ``SENTILENS_VERBOSE=1``) asks for the libraries' logs."""
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


def _errors(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.ERROR


def quiet_logger(name: str) -> None:
    """Keep the logger ``name`` to errors unless :func:`verbose`: for a library that sets its own
    levels when it is imported or started (Ray), called after that."""
    if not verbose():
        logging.getLogger(name).setLevel(logging.ERROR)


def quiet_libraries() -> None:
    """Keep the libraries' INFO lines, warnings and progress bars out of the output (see the
    module docstring); does nothing when :func:`verbose`."""
    if verbose():
        return
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.ERROR)
        if _errors not in logger.filters:
            logger.addFilter(_errors)
    warnings.filterwarnings("ignore", module=LIBRARY_WARNINGS)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    for key, value in QUIET_RAY_ENVIRONMENT.items():
        os.environ.setdefault(key, value)


@contextlib.contextmanager
def library_output() -> Iterator[None]:
    """Inside the block, what a library prints on standard output (NNCF's progress bars and log
    handler) goes to standard error with ``--verbose``, else nowhere: standard output carries results."""
    if verbose():
        with contextlib.redirect_stdout(sys.stderr):
            yield
        return
    nncf = logging.getLogger("nncf")  # its handler writes to the standard output it found at import
    nncf.addFilter(_errors)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        nncf.removeFilter(_errors)


@contextlib.contextmanager
def native_output_to(path: Path) -> Iterator[None]:
    """Inside the block, what native code writes on file descriptor 2 (Ray's C++ core logs, of this
    process and of the processes it starts) is appended to the file ``path``, and Python's log
    records below ERROR are dropped (Ray Data configures its own handlers when it runs); sentilens's
    own lines, written to ``sys.stderr``, still reach the terminal.  With :func:`verbose`, nothing
    changes."""
    if verbose():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 2)
    os.close(log)
    original = sys.stderr
    try:
        uses_fd2 = original.fileno() == 2
    except (AttributeError, OSError, ValueError):  # a captured stream (tests): not file descriptor 2
        uses_fd2 = False
    if uses_fd2:
        sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1, encoding=original.encoding, errors="backslashreplace")
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)
        if uses_fd2:
            sys.stderr.flush()
            sys.stderr.close()
            sys.stderr = original
        os.dup2(saved, 2)
        os.close(saved)
