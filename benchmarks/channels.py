"""Activation-maximisation benchmark: all channels of inception_v3 block 6a, first run vs cached.

Times the pictures of every channel of one mid-level block (inception_v3 6a, the first 17x17
block: 768 channels) with the default regularised settings into an empty cache, then the cached
path.  Then checks each channel: its mean activation on its picture against (a) 10x its value on
the starting noise and (b) its largest mean activation over 100 real Twitter I images, and counts
the pixels clipped to black or white (a saturated picture is hard to read).  A plain-mode (paper)
run at the full input size, on every ``--plain-every``-th channel of the block, is checked the
same way.
With ``--limit N`` only the first N channels are timed (no cache) and the whole block extrapolated,
for machines too busy to run the full block.

    PYTHONPATH=src SENTILENS_PROGRESS=0 python benchmarks/channels.py
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from common import DATA, write_json
from sentilens.data import load_twitter, to_unit_range
from sentilens.data.decoding import decode_all
from sentilens.explain import AscentSettings, ChannelPictureCache, ChannelPictures, visualise_channels
from sentilens.explain.activation_max import block_activations
from sentilens.models import create_backbone
from sentilens.reports.figures import save_picture_grid


@torch.no_grad()
def real_maxima(backbone, images: torch.Tensor, block: str) -> torch.Tensor:
    """Each channel's largest mean activation over ``images`` (uint8)."""
    maxima = []
    for start in range(0, len(images), 20):
        maps = block_activations(backbone, to_unit_range(images[start : start + 20]), block)
        maxima.append(maps.mean(dim=(2, 3)).max(dim=0).values)
    return torch.stack(maxima).max(dim=0).values


def check(pictures: ChannelPictures, maxima: torch.Tensor) -> dict[str, float]:
    final, start = pictures.final_activation, pictures.start_activation
    real = maxima[pictures.channels]
    tenfold = final >= 10 * start
    above = final > real
    return {
        "channels": len(final),
        "share_10x_start": float(tenfold.float().mean()),
        "share_above_real_max": float(above.float().mean()),
        "share_both": float((tenfold & above).float().mean()),
        "median_final_over_real_max": float((final / real.clamp_min(1e-6)).median()),
        "dead_channels (0 on noise and picture)": int(((final == 0) & (start == 0)).sum()),
        "share_saturated_pixels": float(
            ((pictures.pictures <= 1 / 255) | (pictures.pictures >= 254 / 255)).float().mean()
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--block", "--tap", default="6a")
    parser.add_argument("--plain-every", type=int, default=6, help="plain mode on every N-th channel of the block")
    parser.add_argument("--cache-dir", type=Path, default=None, help="channel cache (default: the user's cache)")
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="time only the first N channels (no cache) and extrapolate to the whole block",
    )
    parser.add_argument("--tag", default="channels", help="result file name in benchmarks/results (never overwritten)")
    args = parser.parse_args()
    backbone = create_backbone("inception_v3", "imagenet")
    settings = AscentSettings()
    timing: dict[str, float | int | str] = {}
    if args.limit is None:
        cache = ChannelPictureCache(args.cache_dir)
        entry = cache.path_for(backbone, args.block, settings)
        entry.unlink(missing_ok=True)  # time a true first run; the result stays cached for later use
        began = time.perf_counter()
        pictures = cache.block_pictures(backbone, args.block, settings)
        timing["first_run_seconds"] = round(time.perf_counter() - began, 1)
        began = time.perf_counter()
        cached = cache.block_pictures(backbone, args.block, settings)
        timing["cached_seconds"] = round(time.perf_counter() - began, 3)
        timing["cache_megabytes"] = round(entry.stat().st_size / 2**20, 1)
        assert torch.allclose(cached.pictures, pictures.pictures, atol=1 / 255)
    else:
        began = time.perf_counter()
        pictures = visualise_channels(backbone, args.block, range(args.limit), settings)
        seconds = time.perf_counter() - began
        timing["channels_timed"] = args.limit
        timing["seconds"] = round(seconds, 1)
        timing["extrapolated_whole_block_seconds"] = round(
            seconds * backbone.block_channels[args.block] / args.limit, 1
        )
    dataset = load_twitter(args.data, "five")
    images = decode_all(dataset.paths[:100], backbone.input_size).images
    maxima = real_maxima(backbone.eval(), images, args.block)
    plain_settings = AscentSettings(mode="plain")
    began = time.perf_counter()
    plain = visualise_channels(
        backbone, args.block, range(0, backbone.block_channels[args.block], args.plain_every), plain_settings
    )
    plain_seconds = time.perf_counter() - began
    result = {
        "backbone": "inception_v3 (ImageNet)",
        "block": args.block,
        "regularised": {
            "settings": pictures.settings.to_dict(),
            **timing,
            "check_vs_100_real_images": check(pictures, maxima),
        },
        "plain": {
            "settings": plain.settings.to_dict(),
            "seconds": round(plain_seconds, 1),
            "check_vs_100_real_images": check(plain, maxima),
        },
        "torch_threads": torch.get_num_threads(),
    }
    written = write_json(args.tag, result, data_root=args.data)
    shown = min(64, len(pictures.channels))
    save_picture_grid(
        written.with_name(f"{written.stem}-{args.block}.png"),
        pictures.pictures[:shown],
        [str(c) for c in range(shown)],
        columns=16,
        title=f"inception_v3 {args.block}, channels 0-{shown - 1} (regularised)",
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
