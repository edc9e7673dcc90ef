"""The analyst's one-page summary: each image's label, probability, Grad-CAM and neuron group.

A static HTML page (no scripts, no external resources) with the PNGs beside it, so it opens from
disk anywhere.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sentilens summary</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .5rem 1rem; text-align: left; vertical-align: middle; }}
img {{ width: 180px; height: 180px; image-rendering: auto; }}
.positive {{ color: #1a7f37; font-weight: 600; }} .negative {{ color: #c62828; font-weight: 600; }}
.note {{ color: #555; max-width: 60rem; }}
</style></head><body>
<h1>sentilens: image sentiment</h1>
<p class="note">{note}</p>
<table>
<tr><th>image</th><th>label</th><th>probability</th><th>Grad-CAM at {cam_tap}</th>
<th>neuron group at {group_tap} (contrast stretched)</th></tr>
{rows}
</table>
</body></html>
"""


@dataclass
class SummaryRow:
    """One image of the summary: its verdict and the two pictures that explain it."""

    name: str
    label: str
    probability: float
    image: np.ndarray  # (H, W, 3) uint8
    gradcam: np.ndarray  # (H, W, 3) floats in [0, 1]
    group: np.ndarray  # (3, s, s) floats in [0, 1]


def stretch(picture: np.ndarray) -> np.ndarray:
    """Map a picture's value range to [0, 1] for display.

    A neuron-group picture is a weighted mean of hundreds of channel pictures, so its values crowd
    around mid-grey; stretching shows its structure without changing which colours dominate.
    """
    low, high = float(picture.min()), float(picture.max())
    return (picture - low) / (high - low) if high > low else np.zeros_like(picture)


def _png(array: np.ndarray, path: Path) -> str:
    values = array if array.dtype == np.uint8 else (np.clip(array, 0, 1) * 255).astype(np.uint8)
    Image.fromarray(values).save(path)
    return path.name


def write_summary(rows: Sequence[SummaryRow], out: Path, cam_tap: str, group_tap: str, note: str) -> Path:
    """Write ``index.html`` and its PNGs into ``out``; return the page's path."""
    out.mkdir(parents=True, exist_ok=True)
    cells = []
    for index, row in enumerate(rows):
        stem = f"{index:03d}"
        image = _png(row.image, out / f"{stem}-image.png")
        cam = _png(row.gradcam, out / f"{stem}-gradcam.png")
        group = _png(stretch(row.group.transpose(1, 2, 0)), out / f"{stem}-group.png")
        cells.append(
            f'<tr><td><img src="{image}" alt="{html.escape(row.name)}"><br>{html.escape(row.name)}</td>'
            f'<td class="{html.escape(row.label)}">{html.escape(row.label)}</td><td>{row.probability:.3f}</td>'
            f'<td><img src="{cam}" alt="Grad-CAM"></td><td><img src="{group}" alt="neuron group"></td></tr>'
        )
    page = out / "index.html"
    page.write_text(
        PAGE.format(
            note=html.escape(note),
            cam_tap=html.escape(cam_tap),
            group_tap=html.escape(group_tap),
            rows="\n".join(cells),
        ),
        encoding="utf-8",
    )
    return page
