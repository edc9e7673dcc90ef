"""Regularised activation maximisation under different settings, on a sample of one block's channels.

The record of how the regularised mode's defaults were chosen.  Every ``--every``-th channel of
inception_v3 block 6a (64 of 768 by default, all branches of the block) is optimised under each
variant and checked as ``channels.py`` checks a whole block: mean activation on the picture
against 10x its value on the starting image and against its maximum over 100 real Twitter I
images, channels left at zero, and the share of pixels clipped to black or white.  The first 16
pictures of every variant are drawn one row per variant, to compare by eye.

    PYTHONPATH=src SENTILENS_PROGRESS=0 python benchmarks/channel_settings.py
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from channels import check, real_maxima
from common import DATA, write_json
from sentilens.data import load_twitter
from sentilens.data.decoding import decode_all
from sentilens.explain import AscentSettings, visualise_channels
from sentilens.models import create_backbone
from sentilens.reports.figures import save_picture_grid

#: Row label -> settings.  "before" is the previous default (spectrum gain = canvas side).
VARIANTS = {
    "before": AscentSettings(spectrum_gain=96.0, steps=32, redirect_relu=False),
    "lucid": AscentSettings(spectrum_gain=1.0, redirect_relu=False),
    "no-redirect": AscentSettings(redirect_relu=False),
    "default": AscentSettings(),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--block", "--tap", default="6a")
    parser.add_argument("--every", type=int, default=12, help="every N-th channel of the block")
    parser.add_argument(
        "--tag", default="channel_settings", help="result file name in benchmarks/results (never overwritten)"
    )
    args = parser.parse_args()
    backbone = create_backbone("inception_v3", "imagenet").eval()
    channels = list(range(0, backbone.block_channels[args.block], args.every))
    images = decode_all(load_twitter(args.data, "five").paths[:100], backbone.input_size).images
    maxima = real_maxima(backbone, images, args.block)
    results, rows = {}, []
    for name, settings in VARIANTS.items():
        began = time.perf_counter()
        pictures = visualise_channels(backbone, args.block, channels, settings)
        results[name] = {
            "settings": pictures.settings.to_dict(),
            "seconds": round(time.perf_counter() - began, 1),
            **check(pictures, maxima),
        }
        rows.append(pictures.pictures[:16])
        print(name, json.dumps(results[name]), flush=True)
    written = write_json(
        args.tag, {"block": args.block, "channels": channels, "variants": results}, data_root=args.data
    )
    labels = [f"{name} {c}" if i == 0 else str(c) for name in VARIANTS for i, c in enumerate(channels[:16])]
    save_picture_grid(
        written.with_suffix(".png"),
        torch.cat(rows),
        labels,
        columns=16,
        title=f"inception_v3 {args.block}, channel pictures; rows: {', '.join(VARIANTS)}",
    )


if __name__ == "__main__":
    main()
