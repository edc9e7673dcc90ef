"""Why the companion stays float32 inside the shipped model's int8 network (issue 20).

The shipped model's float32 OpenVINO network (from the runtime cache) is quantised by NNCF twice on
the default calibration set: with every convolution in int8 (only the matrix products float32),
and with the companion's nodes left float32 as well (what ``runtime/openvino_backend.py`` does).
For the first ``--images`` images of Twitter I (centre crops), each vote's positive probability is
compared with float32's, and one pass over the images is timed (best of ``--repeats``).

    PYTHONPATH=../src python companion_int8.py --images 40
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import nncf
import numpy as np
import torch

import sentilens
from common import DATA, write_json
from sentilens.data import load_twitter
from sentilens.data.decoding import load_or_reason
from sentilens.runtime.openvino_backend import (
    CALIBRATION_SIZE,
    COMPANION_NODES,
    default_calibration,
    heads_of,
    openvino_network,
)
from sentilens.runtime.openvino_cache import compile_network


def positive(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(shifted[:, 1] / shifted.sum(axis=1))


def run(network: Any, precision: str, images: np.ndarray, repeats: int) -> tuple[list[np.ndarray], float]:
    """Every output of ``network`` on ``images`` (batches of 8) and the best time of one pass."""
    request = compile_network(network, precision).create_infer_request()
    best, outputs = float("inf"), []
    for _ in range(repeats):
        began = time.perf_counter()
        parts = [request.infer(images[i : i + 8]) for i in range(0, len(images), 8)]
        best = min(best, time.perf_counter() - began)
        outputs = [np.concatenate([part[k] for part in parts]) for k in range(len(parts[0]))]
    return outputs, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tag", default="companion-int8")
    args = parser.parse_args()

    model = sentilens.load().model
    names = list(model.vote_names)
    fp32 = openvino_network(heads_of(model), "fp32").model
    paths = load_twitter(args.data, "three").paths[: args.images]
    images = torch.stack([load_or_reason(p, model.backbone.input_size) for p in paths]).numpy()
    calibration = nncf.Dataset([image.numpy() for image in default_calibration().images(model.backbone.input_size)])
    reference, fp32_seconds = run(fp32, "fp32", images, args.repeats)
    record: dict[str, Any] = {"images": len(images), "votes": names, "fp32_seconds": fp32_seconds}
    print(f"fp32: {fp32_seconds:.2f} s", flush=True)
    for variant, patterns in (("all int8", []), ("companion float32", [COMPANION_NODES])):
        quantised = nncf.quantize(
            fp32,
            calibration,
            subset_size=CALIBRATION_SIZE,
            ignored_scope=nncf.IgnoredScope(types=["MatMul"], patterns=patterns, validate=False),
        )
        outputs, seconds = run(quantised, "int8", images, args.repeats)
        moved = {}
        for name, ours, exact in zip(names, outputs, reference, strict=True):
            difference = np.abs(positive(ours) - positive(exact))
            moved[name] = {"mean": float(difference.mean()), "max": float(difference.max())}
        record[variant] = {"seconds": seconds, "positive_probability_difference": moved}
        print(f"{variant}: {seconds:.2f} s, {moved}", flush=True)
    write_json(args.tag, record, data_root=args.data)


if __name__ == "__main__":
    main()
