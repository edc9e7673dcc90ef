"""Where a batch's time goes: the operators of one forward pass, eager bf16 and compiled.

For the inception_v3 fast path (channels-last, batch norm folded, bf16 autocast, batch 32),
profiles one forward pass with ``torch.profiler`` after two warm-up passes, eager and then
compiled (:func:`sentilens.runtime.compiled_copy`), and prints the operators by self CPU time.
The share of the convolutions, and their own GFLOP/s, say how far the rest of the network
(activations, pooling, concatenation: memory-bound work) keeps it from the matrix-product peak.

    PYTHONPATH=src python benchmarks/inference_profile.py
"""

from __future__ import annotations

import argparse

import torch
from torch.profiler import ProfilerActivity, profile

from inference_speed import multiply_adds
from sentilens.models import SentimentModel, backbone_spec, create_backbone
from sentilens.runtime.torch_backend import autocast, compiled_copy, inference_copy, to_memory_format

CONVOLUTION = "aten::mkldnn_convolution"


def profile_pass(net: torch.nn.Module, batch: torch.Tensor, rows: int) -> float:
    """Print the top operators of one pass; return the seconds spent in convolutions (eager only)."""
    with torch.inference_mode(), autocast("bf16", "cpu"):
        net(batch)
        net(batch)
        with profile(activities=[ProfilerActivity.CPU]) as run:
            net(batch)
    averages = run.key_averages()
    print(averages.table(sort_by="self_cpu_time_total", row_limit=rows))
    return sum(e.self_cpu_time_total for e in averages if e.key == CONVOLUTION) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rows", type=int, default=10)
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    blocks = backbone_spec("inception_v3").default_aux_blocks
    model = SentimentModel(create_backbone("inception_v3", "imagenet"), blocks).eval()
    batch = to_memory_format(torch.rand(args.batch_size, 3, 299, 299), True)
    print("eager, bf16 autocast")
    convolution_seconds = profile_pass(inference_copy(model), batch, args.rows)
    gflops = 2 * multiply_adds(model, 299) * args.batch_size / convolution_seconds / 1e9
    print(f"convolutions alone: {convolution_seconds * 1e3:.0f} ms per batch = {gflops:.0f} GFLOP/s\n")
    print("compiled (TorchInductor, frozen weights), bf16 autocast")
    profile_pass(compiled_copy(model), batch, args.rows)


if __name__ == "__main__":
    main()
