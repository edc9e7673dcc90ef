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

from sentilens.reports.pictures import save_png

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sentilens summary</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .5rem 1rem; text-align: left; vertical-align: middle; }}
img {{ width: 180px; height: 180px; image-rendering: auto; }}
.positive {{ color: #1a7f37; font-weight: 600; }} .negative {{ color: #c62828; font-weight: 600; }}
.note {{ color: #555; max-width: 60rem; }}
.score {{ display: block; font-size: .8rem; color: #555; max-width: 180px; }}
.contrast {{ display: flex; gap: 1rem; }} figure {{ margin: 0; }} figcaption {{ font-size: .85rem; }}
</style></head><body>
<h1>sentilens: image sentiment</h1>
<p class="note">{note}</p>
<table>
<tr><th>image</th><th>label</th><th>probability</th><th>Grad-CAM at {cam_block}</th>
<th>where the neuron group at {group_block} fires</th><th>what it responds to{stretched}</th></tr>
{rows}
</table>
{contrast}
</body></html>
"""


@dataclass
class SummaryRow:
    """One image of the summary: its verdict and the pictures that explain it."""

    name: str
    label: str
    probability: float
    image: np.ndarray  # (H, W, 3) uint8
    gradcam: np.ndarray  # (H, W, 3) floats in [0, 1]
    where: np.ndarray  # (H, W, 3) floats in [0, 1]: the group's spatial factor over the image
    group: np.ndarray  # (3, s, s) floats in [0, 1]
    gradcam_score: str = ""  # the map's faithfulness line ("deletion 0.61 / insertion 0.83 (...)")


@dataclass
class Contrast:
    """The class contrast of the neuron groups: a caption and labelled ``(3, s, s)`` pictures."""

    caption: str
    pictures: list[tuple[str, np.ndarray]]


def stretch(picture: np.ndarray) -> np.ndarray:
    """Map a picture's value range to [0, 1] for display.

    An eq. (5) picture is a weighted mean of hundreds of channel pictures, so its values crowd
    around mid-grey; stretching shows its structure without changing which colours dominate.
    """
    low, high = float(picture.min()), float(picture.max())
    return (picture - low) / (high - low) if high > low else np.zeros_like(picture)


def score_html(score: str) -> str:
    """The map's faithfulness line under it, or nothing."""
    return f'<span class="score">{html.escape(score)}</span>' if score else ""


def write_summary(
    rows: Sequence[SummaryRow],
    out: Path,
    cam_block: str,
    group_block: str,
    note: str,
    contrast: Contrast | None = None,
    stretch_groups: bool = False,
) -> Path:
    """Write ``index.html`` and its PNGs into ``out``; return the page's path.

    ``stretch_groups`` stretches each group picture's range for display (for eq. 5 pictures).
    """
    out.mkdir(parents=True, exist_ok=True)
    cells = []
    for index, row in enumerate(rows):
        stem = f"{index:03d}"
        image = save_png(row.image, out / f"{stem}-image.png").name
        cam = save_png(row.gradcam, out / f"{stem}-gradcam.png").name
        where = save_png(row.where, out / f"{stem}-where.png").name
        group = save_png(stretch(row.group) if stretch_groups else row.group, out / f"{stem}-group.png").name
        cells.append(
            f'<tr><td><img src="{image}" alt="{html.escape(row.name)}"><br>{html.escape(row.name)}</td>'
            f'<td class="{html.escape(row.label)}">{html.escape(row.label)}</td><td>{row.probability:.3f}</td>'
            f'<td><img src="{cam}" alt="Grad-CAM">{score_html(row.gradcam_score)}</td>'
            f'<td><img src="{where}" alt="where the group fires"></td>'
            f'<td><img class="group" src="{group}" alt="neuron group"></td></tr>'
        )
    contrast_html = ""
    if contrast is not None:
        figures = []
        for i, (label, picture) in enumerate(contrast.pictures):
            png = save_png(stretch(picture) if stretch_groups else picture, out / f"contrast-{i}.png").name
            figures.append(
                f'<figure><img class="contrast" src="{png}" alt="{html.escape(label)}">'
                f"<figcaption>{html.escape(label)}</figcaption></figure>"
            )
        contrast_html = (
            f'<h2>Class contrast</h2><p class="note">{html.escape(contrast.caption)}</p>'
            f'<div class="contrast">{"".join(figures)}</div>'
        )
    page = out / "index.html"
    page.write_text(
        PAGE.format(
            note=html.escape(note),
            cam_block=html.escape(cam_block),
            group_block=html.escape(group_block),
            stretched=" (contrast stretched)" if stretch_groups else "",
            rows="\n".join(cells),
            contrast=contrast_html,
        ),
        encoding="utf-8",
    )
    return page
