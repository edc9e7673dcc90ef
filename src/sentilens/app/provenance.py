"""Where a result file came from: the command line, version, date, machine and data digests."""

from __future__ import annotations

import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch

from sentilens.utils import __version__


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (Linux), else what :mod:`platform` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def run_record(data_digests: dict[str, str]) -> dict[str, Any]:
    """The record written beside a command's results; ``data_digests``: dataset name -> digest of
    its labels and image contents."""
    return {
        "sentilens": __version__,
        "command": " ".join(shlex.quote(part) for part in [Path(sys.argv[0]).name, *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "cpu": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "data": data_digests,
    }
