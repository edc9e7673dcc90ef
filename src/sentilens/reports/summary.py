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
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; max-width: 76rem; }}
table {{ border-collapse: collapse; width: 100%; table-layout: fixed; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .4rem .5rem; text-align: left; vertical-align: middle;
  overflow-wrap: anywhere; }}
th {{ vertical-align: bottom; }}
col.picture {{ width: 19%; }} col.label {{ width: 9%; }} col.probability {{ width: 9%; }}
img {{ width: 100%; max-width: 180px; height: auto; display: block; }}
tr.guide td {{ font-size: .8rem; color: #555; vertical-align: top; background: #f6f6f6; }}
.bar {{ display: block; height: .7rem; max-width: 180px; margin: .3rem 0 .1rem; border: 1px solid #999; }}
.ends {{ display: flex; justify-content: space-between; max-width: 180px; }}
.name {{ font-size: .85rem; }}
.positive {{ color: #1a7f37; font-weight: 600; }} .negative {{ color: #c62828; font-weight: 600; }}
.note {{ color: #555; }}
.score {{ display: block; font-size: .8rem; color: #555; }}
table.skipped {{ width: 100%; margin-bottom: 1rem; }} table.skipped th:first-child {{ width: 30%; }}
.contrast {{ display: flex; flex-wrap: wrap; gap: 1rem; }} figure {{ margin: 0; }} figcaption {{ font-size: .85rem; }}
</style></head><body>
<h1>sentilens: image sentiment</h1>
<p class="note">{note}</p>
{skipped}
<table class="summary">
<colgroup><col class="picture"><col class="label"><col class="probability"><col class="picture"><col class="picture">
<col class="picture"></colgroup>
<tr><th>image</th><th>label</th><th>probability</th><th>{map_title}</th>
<th>where the neuron group at {group_block} fires</th><th>what it responds to{stretched}</th></tr>
<tr class="guide"><td>{guide_image}</td><td>{guide_label}</td><td>{guide_probability}</td>
<td>{guide_gradcam}{legend_gradcam}</td><td>{guide_where}{legend_where}</td><td>{guide_group}</td></tr>
{rows}
</table>
{contrast}
</body></html>
"""

#: One line per column on how to read it (the page's guide row).
GUIDES = {
    "image": "The centre crop the model sees.",
    "label": "The verdict: the fused vote of all heads, as sentilens predict returns it.",
    "probability": "The fused probability of that label (0.5 = undecided, 1 = certain).",
    "gradcam": "Where the block's evidence for the label lies: red most, blue none.",
    "where": "Where the image's neuron group fires: bright yellow most; dark or untinted least.",
    "group": "A picture made to excite that neuron group: read colours and textures, not objects.",
}


def colour_legend(colour_map: str, low: str, high: str, steps: int = 9) -> str:
    """An HTML colour bar of a matplotlib colour map, from ``low`` (its 0) to ``high`` (its 1)."""
    from matplotlib import colormaps

    stops = ", ".join(
        "#" + "".join(f"{round(255 * c):02x}" for c in colormaps[colour_map](i / (steps - 1))[:3]) for i in range(steps)
    )
    return (
        f'<span class="bar legend-{colour_map}" style="background: linear-gradient(to right, {stops})" '
        f'title="{colour_map} colour map"></span><span class="ends"><span>{html.escape(low)}</span>'
        f"<span>{html.escape(high)}</span></span>"
    )


def skipped_section(skipped: Sequence[tuple[str, str]]) -> str:
    """The inputs that could not be classified, in input order, with the reason (empty: nothing)."""
    if not skipped:
        return ""
    rows = "".join(f"<tr><td>{html.escape(name)}</td><td>{html.escape(reason)}</td></tr>" for name, reason in skipped)
    return (
        f'<h2>Skipped images ({len(skipped)})</h2><table class="skipped"><tr><th>file</th><th>reason</th></tr>'
        f"{rows}</table>"
    )


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
    where_score: str = ""  # the "where" map's faithfulness line, against random cells of its block's grid


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
    map_title: str,
    group_block: str,
    note: str,
    contrast: Contrast | None = None,
    stretch_groups: bool = False,
    skipped: Sequence[tuple[str, str]] = (),
) -> Path:
    """Write ``index.html`` and its PNGs into ``out``; return the page's path.

    ``stretch_groups`` stretches each group picture's range for display (for eq. 5 pictures);
    ``skipped`` (file, reason) are the inputs that could not be classified, listed in that order.
    The page fits a 1280 px window (fixed column widths, long file names wrap), shows a colour
    legend under each map's column and a one-line reading guide under every column.
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
            f'<tr><td><img src="{image}" alt="{html.escape(row.name)}">'
            f'<span class="name">{html.escape(row.name)}</span></td>'
            f'<td class="{html.escape(row.label)}">{html.escape(row.label)}</td><td>{row.probability:.3f}</td>'
            f'<td><img src="{cam}" alt="Grad-CAM">{score_html(row.gradcam_score)}</td>'
            f'<td><img src="{where}" alt="where the group fires">{score_html(row.where_score)}</td>'
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
            map_title=html.escape(map_title),
            group_block=html.escape(group_block),
            stretched=" (contrast stretched)" if stretch_groups else "",
            rows="\n".join(cells),
            contrast=contrast_html,
            skipped=skipped_section(skipped),
            **{f"guide_{column}": html.escape(text) for column, text in GUIDES.items()},
            legend_gradcam=colour_legend("jet", "no evidence", "most"),
            legend_where=colour_legend("inferno", "weakest", "strongest"),
        ),
        encoding="utf-8",
    )
    return page
