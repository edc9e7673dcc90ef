"""Which runtime and precision run the network: the ``auto`` table, read from the CPU's flags.

Two runtimes compute the same network: ``torch`` (eager, channels-last, batch norm folded,
optionally bfloat16 autocast or TorchInductor) and ``openvino`` (the network converted once to
OpenVINO, in float32 or quantised to int8 by NNCF).  On an x86 CPU ``auto`` picks OpenVINO int8
whenever OpenVINO and NNCF can be imported: int8 convolutions run on every x86 instruction set
OpenVINO supports (AVX2's ``vpmaddubsw``, AVX-512 VNNI, AMX-INT8), move a quarter of float32's
bytes, and measured fastest on the CPUs we could measure (BENCHMARKS.md, "Runtimes").  Without
them, or on a GPU, ``auto`` keeps torch with bfloat16 where the device runs it natively.

The table (``precision auto``):

========================  =======================  ============================
CPU flags                 OpenVINO importable      OpenVINO missing
========================  =======================  ============================
AVX2 (no AVX-512)         openvino int8            torch fp32
AVX-512 (no BF16)         openvino int8            torch fp32
AVX-512 BF16 or AMX       openvino int8            torch bf16
GPU (CUDA)                torch (bf16 if native)   torch (bf16 if native)
========================  =======================  ============================

An explicit ``--precision`` narrows the choice: ``int8`` needs OpenVINO, ``bf16`` runs on torch
(measured there), ``fp32`` runs on OpenVINO when it is there (faster than torch's float32 on the
CPUs we measured); ``--compile`` is a torch feature and keeps torch.

torch is imported only where a question needs it (a GPU, a CPU without /proc/cpuinfo), so that the
OpenVINO path and the command line's options do not load it.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import platform
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from sentilens.utils.errors import InvalidArgumentError, SentilensError

if TYPE_CHECKING:
    import torch


class Runtime(StrEnum):
    """Which library runs the network."""

    auto = "auto"  # openvino on x86 CPUs where it is installed, else torch
    torch = "torch"
    openvino = "openvino"


class Precision(StrEnum):
    """How the network's arithmetic runs."""

    auto = "auto"  # int8 through OpenVINO on x86 CPUs, else bf16 where native, else fp32
    fp32 = "fp32"
    bf16 = "bf16"
    int8 = "int8"  # OpenVINO only: NNCF post-training quantisation


#: Pins the runtime that ``auto`` stands for (``torch`` or ``openvino``) in every command and call.
RUNTIME_ENV = "SENTILENS_RUNTIME"


class RuntimeUnavailableError(SentilensError, RuntimeError):
    """A runtime or precision asked for explicitly that this machine cannot run."""


#: /proc/cpuinfo flags that mean bfloat16 matrix products run natively.
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's instruction-set flags from /proc/cpuinfo (empty where there is none)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_supports_bf16(flags: frozenset[str] | None = None) -> bool:
    """True when the CPU has native bfloat16 dot products (AVX-512 BF16 or AMX).

    Without /proc/cpuinfo we ask oneDNN, which gives the same answer on x86 and is False when unsure.
    """
    flags = cpu_flags() if flags is None else flags
    if flags:
        return bool(BF16_CPU_FLAGS & flags)
    import torch

    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def instruction_set(flags: frozenset[str]) -> str:
    """The row of the ``auto`` table a CPU falls in: ``AMX``, ``AVX-512 BF16``, ``AVX-512``, ``AVX2`` or ``older``."""
    if "amx_bf16" in flags or "amx_int8" in flags:
        return "AMX"
    if "avx512_bf16" in flags:
        return "AVX-512 BF16"
    if "avx512f" in flags:
        return "AVX-512"
    if "avx2" in flags:
        return "AVX2"
    return "older"


@functools.cache
def openvino_missing() -> str | None:
    """None when OpenVINO and NNCF can be imported, else what is missing (checked without importing)."""
    missing = [name for name in ("openvino", "nncf") if importlib.util.find_spec(name) is None]
    return f"{' and '.join(missing)} not installed (pip install openvino nncf)" if missing else None


def is_x86() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")


@dataclass(frozen=True)
class RuntimeChoice:
    """What runs the network, and why (the CLI prints the reason)."""

    runtime: Runtime
    precision: Precision
    reason: str

    def __str__(self) -> str:
        return f"{self.runtime} {self.precision} ({self.reason})"


def check_choice(value: str, enum: type[StrEnum], what: str) -> None:
    """Refuse a ``value`` that is not one of ``enum``'s, naming it and the choices."""
    if value not in tuple(enum):
        raise InvalidArgumentError(f"{what} must be one of {', '.join(enum)}, got {value!r}")


def device_type(device: torch.device | str) -> str:
    """``cpu``, ``cuda``, ... of a device or its name (``"cuda:1"``), without importing torch for a name."""
    return device.split(":", 1)[0] if isinstance(device, str) else device.type


def torch_precision(precision: str, device: torch.device | str, flags: frozenset[str] | None = None) -> Precision:
    """``fp32`` or ``bf16`` for the torch runtime; ``auto`` picks bf16 where ``device`` runs it natively
    (on a CPU: where ``flags``, default this CPU's, include AVX-512 BF16 or AMX)."""
    if precision == Precision.int8:
        raise RuntimeUnavailableError("int8 runs on the openvino runtime (--runtime openvino or auto), not torch")
    if precision != Precision.auto:
        return Precision(precision)
    if device_type(device) == "cuda":
        import torch

        return Precision.bf16 if torch.cuda.is_bf16_supported() else Precision.fp32
    return Precision.bf16 if cpu_supports_bf16(flags) else Precision.fp32


@dataclass(frozen=True)
class Machine:
    """What the ``auto`` choice reads about the machine."""

    flags: frozenset[str]
    openvino_missing: str | None  # why OpenVINO cannot be used; None when it can
    x86: bool

    @staticmethod
    def here() -> Machine:
        return Machine(cpu_flags(), openvino_missing(), is_x86())


def choose_runtime(
    runtime: str = "auto",
    precision: str = "auto",
    device: torch.device | str = "cpu",
    compiled: bool = False,
    machine: Machine | None = None,
) -> RuntimeChoice:
    """Resolve ``runtime`` and ``precision`` (either may be ``auto``) for ``device``.

    ``runtime="auto"`` stands for ``$SENTILENS_RUNTIME`` when that is set.
    ``machine`` defaults to this one; tests pass others to check the table.  Explicit requests
    this machine cannot serve raise :class:`RuntimeUnavailableError`; ``auto`` never does.
    """
    check_choice(runtime, Runtime, "runtime")
    check_choice(precision, Precision, "precision")
    asked = "asked for"
    pinned = os.environ.get(RUNTIME_ENV)
    if runtime == Runtime.auto and pinned:
        check_choice(pinned, Runtime, RUNTIME_ENV)
        runtime, asked = pinned, f"{RUNTIME_ENV}={pinned}"
    kind = device_type(device)
    machine = Machine.here() if machine is None else machine
    flags, missing, x86 = machine.flags, machine.openvino_missing, machine.x86
    row = instruction_set(flags)

    if runtime == Runtime.openvino:
        if kind != "cpu":
            raise RuntimeUnavailableError(f"the openvino runtime runs on the CPU here, not on {kind}")
        if compiled:
            raise InvalidArgumentError("--compile is for the torch runtime; OpenVINO compiles its model anyway")
        if missing:
            raise RuntimeUnavailableError(f"the openvino runtime needs OpenVINO and NNCF: {missing}")
        chosen = Precision.int8 if precision == Precision.auto else Precision(precision)
        return RuntimeChoice(Runtime.openvino, chosen, asked)

    if runtime == Runtime.torch:
        return RuntimeChoice(Runtime.torch, torch_precision(precision, device, flags), asked)

    # runtime auto
    if kind != "cpu":
        return RuntimeChoice(Runtime.torch, torch_precision(precision, device, flags), f"{kind} device")
    if compiled:
        return RuntimeChoice(Runtime.torch, torch_precision(precision, device, flags), "--compile is a torch feature")
    if precision == Precision.bf16:
        return RuntimeChoice(Runtime.torch, Precision.bf16, "bf16 runs on torch")
    if not x86:
        return RuntimeChoice(Runtime.torch, torch_precision(precision, device, flags), "not an x86 CPU")
    if missing:
        if precision == Precision.int8:
            raise RuntimeUnavailableError(f"int8 needs the openvino runtime: {missing}")
        chosen = torch_precision(precision, device, flags)
        return RuntimeChoice(Runtime.torch, chosen, f"auto on an {row} CPU; {missing}")
    chosen = Precision.int8 if precision == Precision.auto else Precision(precision)
    return RuntimeChoice(Runtime.openvino, chosen, f"auto on an {row} CPU")
