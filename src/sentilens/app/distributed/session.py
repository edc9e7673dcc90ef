"""A Ray session for sentilens jobs: a cluster's address, or a local Ray that listens on loopback only.

Without an address, sentilens starts a Ray of its own on this machine with as many CPUs as the
machine has, no dashboard, no usage reporting, and every server bound to 127.0.0.1: Ray's node
address is taken from ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (Ray's own single-machine mode),
which must be set before Ray is imported, so this module sets it at the start of a local session
and then checks the result; a local Ray that came up on any other address is shut down again and
refused.  With an address (``host:6379``, ``ray://host:10001`` or ``auto``) sentilens joins that
cluster as a driver and leaves its configuration to whoever runs it.  A Ray already running in
this process (a notebook, a test session) is reused and left running.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from sentilens.utils import Say, SentilensError, native_output_to, quiet, quiet_logger, verbose

#: The only address a local Ray started by sentilens listens on.
LOOPBACK = "127.0.0.1"

#: Environment a local Ray starts with: single-machine mode (loopback), no usage reporting.
LOCAL_ENVIRONMENT = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}

INSTALL_HINT = "pip install 'sentilens[cluster]' (Ray Data)"


class ClusterError(SentilensError, RuntimeError):
    """Ray is missing, cannot be reached, or would not run the way sentilens asked."""


def import_ray() -> ModuleType:
    """The ``ray`` module, or :class:`ClusterError` saying how to install it."""
    if importlib.util.find_spec("ray") is None:
        raise ClusterError(f"Ray is not installed: {INSTALL_HINT}")
    import ray

    return ray


def start_local_ray(num_cpus: int | None = None) -> None:
    """Start a Ray on this machine that listens on 127.0.0.1 only (see the module docstring)."""
    if "ray" not in sys.modules:
        os.environ.update(LOCAL_ENVIRONMENT)
    ray = import_ray()
    quiet_logger("ray")
    ray.init(
        address="local",
        num_cpus=num_cpus or os.cpu_count() or 1,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )
    node_address = ray.util.get_node_ip_address()
    if node_address != LOOPBACK:
        ray.shutdown()
        raise ClusterError(
            f"a local Ray would listen on {node_address}, not only on {LOOPBACK}: Ray was imported before "
            "sentilens could select its single-machine mode; start it with "
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 in the environment, or give a cluster address"
        )


def connect(address: str) -> None:
    """Join the Ray cluster at ``address`` as a driver."""
    ray = import_ray()
    quiet_logger("ray")
    try:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    except (ConnectionError, ValueError, RuntimeError) as error:
        raise ClusterError(f"cannot connect to the Ray cluster at {address!r}: {error}") from error


def running_ray() -> ModuleType | None:
    """The ``ray`` module if this process already runs or has joined a Ray, else None (Ray not imported)."""
    ray = sys.modules.get("ray")
    return ray if ray is not None and ray.is_initialized() else None


@contextmanager
def ray_session(address: str | None = None, say: Say = quiet) -> Iterator[None]:
    """Ray for the ``with`` block: reused if this process already runs one, else joined at
    ``address``, else started locally on loopback; what this call started it also shuts down."""
    if running_ray() is not None:
        yield
        return
    # Ray's own log lines (its C++ core writes on standard error) go to a file, named in the one
    # line said here; --verbose keeps them on the terminal.
    log = Path(tempfile.gettempdir()) / f"sentilens-ray-{os.getpid()}.log"
    logs = "" if verbose() else f"Ray's log lines: {log}"
    with native_output_to(log):
        if address is None:
            say(f"starting a local Ray on {LOOPBACK} with {os.cpu_count()} CPUs (a few seconds{logs and '; ' + logs})")
            start_local_ray()
        else:
            say(f"connecting to the Ray cluster at {address}{logs and ' (' + logs + ')'}")
            connect(address)
        try:
            yield
        finally:
            import_ray().shutdown()
