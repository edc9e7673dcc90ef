"""The converted networks on disk and compiling them: what the OpenVINO runtime needs once a network
is in the cache, in a module that imports neither torch nor NNCF (OpenVINO only when called), so
that the torch-free shortcut (:mod:`~sentilens.runtime.shortcut`) can use it.
"""

from __future__ import annotations

from typing import Any

from sentilens.runtime.choice import Precision
from sentilens.utils.cache import cache_root

#: Bumped whenever the wrapper or the conversion changes, so older cache entries are not reused.
CONVERSION_VERSION = 1
MODEL_FILES = ("model.xml", "model.bin")
#: The format tag of the converted networks' cache entries (their manifests).
CACHE_FORMAT = "sentilens-runtime-cache/1"
#: OpenVINO's own cache of compiled networks, a folder of the runtime cache (see :func:`compile_network`).
COMPILED = "openvino-compiled"
#: The int8 entry's record of its calibration error (see :func:`_quantise`).
CLOSE_CALLS = "close_calls.json"


def network_versions() -> dict[str, str]:
    """The versions a converted network depends on.  NNCF's is read from its installed metadata:
    importing NNCF takes seconds and a cached network does not need it."""
    from importlib.metadata import version

    import openvino

    return {"openvino": openvino.get_version(), "nncf": version("nncf"), "conversion": str(CONVERSION_VERSION)}


def read_network(contents: dict[str, bytes]) -> Any:
    import openvino

    return openvino.Core().read_model(contents[MODEL_FILES[0]], contents[MODEL_FILES[1]])


def compile_network(network: Any, precision: str, threads: int | None = None) -> Any:
    """``network`` compiled for the CPU, for the latency of one batch at a time.

    float32 is asked for explicitly (OpenVINO would otherwise run float32 networks in bfloat16 on
    CPUs with AMX); int8 networks keep OpenVINO's choice for their few unquantised operations.
    OpenVINO keeps the compiled network in its own cache (``CACHE_DIR``, under
    ``cache_root("runtime")``, keyed by OpenVINO on the network, the settings and the CPU), so a
    later process imports it instead of compiling again: the larger part of ``predict``'s fixed cost.
    """
    import openvino

    config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY", "CACHE_DIR": str(cache_root("runtime") / COMPILED)}
    if precision != Precision.int8:
        config["INFERENCE_PRECISION_HINT"] = "bf16" if precision == Precision.bf16 else "f32"
    if threads is not None:
        config["INFERENCE_NUM_THREADS"] = threads
    return openvino.Core().compile_model(network, "CPU", config)
