"""The ``sentilens inspect`` page: one self-contained HTML file plus the PNGs beside it.

Everything the page needs is in ``index.html`` (inline CSS and JavaScript, no network) or in the
``blocks/`` folder next to it, referenced by relative paths, so the folder opens from disk and can
be copied or zipped.  Each block has a checkbox and a weight; "Export config" turns the ticked blocks
into a :class:`~sentilens.training.TrainConfig` JSON (backbone, weights, blocks, aux_weights), shows
it in ``<pre id="config">`` and offers it as a download for ``sentilens train|cv --config``.  The
page refuses an empty selection and weights outside [0, 1], as the Python side does.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

from sentilens.explain import FaithfulnessReport
from sentilens.models import DEFAULT_AUX_WEIGHT
from sentilens.selection.evidence import BlockEvidence, Ranking

CONFIG_FILE_NAME = "sentilens-config.json"
#: The p-value below which a block's group importance is called significant on the page.
SIGNIFICANCE = 0.05


@dataclass
class Card:
    """One shown image at one block (paths inside the report folder).

    Attributes:
        name: the image's file name.
        label: its class name (the data's label).
        where: the image with its neuron group's spatial factor ``U`` as a heat overlay.
        group: the group picture.
        probe: the image with the CAM of the block's fitted probe as a signed overlay.
        probe_positive: the probe's probability of the positive class for this image.
    """

    name: str
    label: str
    where: Path
    group: Path
    probe: Path
    probe_positive: float


@dataclass
class BlockSection:
    """The pictures of one block: a card per shown image (cards of one class next to each other, one
    row per class), the class contrast and, when measured, how faithful the block's maps are to the
    model's verdict on the shown images (Grad-CAM, "where", probe map; random cells and centre first)."""

    block: str
    cards: list[Card]
    contrast: list[tuple[str, Path]]
    faithfulness: FaithfulnessReport | None = None


STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 2rem 6rem; color: #222; }
h1 { margin-bottom: .2rem; } .meta { color: #555; margin-top: 0; }
table.ranking { border-collapse: collapse; margin: 1rem 0; }
table.ranking td, table.ranking th { border: 1px solid #ccc; padding: .25rem .6rem; text-align: right; }
tr.suggested { background: #eef7ee; } td.importance-p.significant { font-weight: bold; }
section.block { border-top: 2px solid #ddd; padding: .8rem 0; }
section.block h2 { display: flex; gap: 1.2rem; align-items: center; font-size: 1.25rem; }
section.block h2 label { font-weight: normal; font-size: 1rem; }
.evidence { color: #333; } .legend { color: #444; max-width: 70rem; }
.row { display: flex; flex-wrap: wrap; gap: .5rem; align-items: flex-start; margin: .4rem 0; }
figure { margin: 0; } figure img { display: block; width: 112px; height: 112px; margin-bottom: 2px; }
figcaption { font-size: .75rem; max-width: 112px; overflow-wrap: anywhere; }
figcaption .name { display: block; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.cards { align-items: center; } .cards h3 { writing-mode: vertical-rl; transform: rotate(180deg); margin: 0;
  font-size: .9rem; font-weight: normal; } .cards h3.negative { color: #b71c1c; } .cards h3.positive { color: #1b5e20; }
figure.card.negative figcaption .label { color: #b71c1c; } figure.card.positive figcaption .label { color: #1b5e20; }
.contrast figure img { width: 140px; height: 140px; }
#exportbar { position: fixed; bottom: 0; left: 0; right: 0; background: #f6f6f6; border-top: 1px solid #bbb;
             padding: .5rem 2rem; display: flex; gap: 1rem; align-items: center; }
#export-error { color: #b00; margin: 0; } #config { margin: 1rem 0; background: #f4f4f4; padding: .6rem; }
"""

SCRIPT = """
"use strict";
function selection() {
  const blocks = [], weights = [], problems = [];
  for (const box of document.querySelectorAll("input.block-select")) {
    if (!box.checked) continue;
    const field = document.getElementById("weight-" + box.dataset.block);
    const text = field.value.trim();
    const weight = Number(text);
    if (text === "" || !Number.isFinite(weight) || weight < 0 || weight > 1) {
      problems.push("weight of " + box.dataset.block + " must lie in [0, 1], got '" + text + "'");
    }
    blocks.push(box.dataset.block);
    weights.push(weight);
  }
  if (blocks.length === 0) problems.push("no blocks selected: tick at least one block");
  return {blocks: blocks, weights: weights, problems: problems};
}
function exportConfig() {
  const chosen = selection();
  const error = document.getElementById("export-error");
  const pre = document.getElementById("config");
  const link = document.getElementById("download");
  if (chosen.problems.length > 0) {
    error.textContent = chosen.problems.join("; ");
    pre.textContent = "";
    link.hidden = true;
    return;
  }
  error.textContent = "";
  const config = Object.assign({}, BASE_CONFIG, {blocks: chosen.blocks, aux_weights: chosen.weights});
  const text = JSON.stringify(config, null, 2) + "\\n";
  pre.textContent = text;
  if (link.href) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([text], {type: "application/json"}));
  link.hidden = false;
}
function showCount() {
  document.getElementById("count").textContent = selection().blocks.length + " selected";
}
document.getElementById("export").addEventListener("click", exportConfig);
for (const box of document.querySelectorAll("input.block-select")) box.addEventListener("change", showCount);
showCount();
"""


def _img(path: Path, root: Path, alt: str, kind: str = "") -> str:
    source = html.escape(path.relative_to(root).as_posix())
    return f'<img class="{kind}" src="{source}" alt="{html.escape(alt)}" loading="lazy">'


def _importance(evidence: BlockEvidence) -> tuple[float, float, float, bool] | None:
    """The block's group importance: the group's and random directions' mean change of the verdict,
    the p-value and whether it is significant; None when it was not measured."""
    if evidence.group_change is None or evidence.random_change is None or evidence.group_p is None:
        return None
    return evidence.group_change, evidence.random_change, evidence.group_p, evidence.group_p < SIGNIFICANCE


def _importance_cells(evidence: BlockEvidence) -> str:
    """Two table cells: the block's group importance against random directions, and its p-value."""
    measured = _importance(evidence)
    if measured is None:
        return "<td></td><td></td>"
    change, random_change, p, significant = measured
    return (
        f'<td class="importance">{change:.3f} ({random_change:.3f})</td>'
        f'<td class="importance-p{" significant" if significant else ""}">{p:.2g}</td>'
    )


def _gap(report: FaithfulnessReport, order: str) -> float:
    """Mean insertion minus deletion AUC of ``order`` (higher = more faithful; random orders near 0)."""
    return float((report.values("insertion", order) - report.values("deletion", order)).mean())


def _faithfulness_cell(section: BlockSection | None) -> str:
    """A table cell: each map's insertion - deletion, and random cells' in brackets (empty: not measured)."""
    report = section.faithfulness if section is not None else None
    if report is None:
        return "<td></td>"
    maps = " · ".join(f"{_gap(report, name):+.2f}" for name in report.explainers)
    return f'<td class="faithfulness">{maps} ({_gap(report, "random-cells"):+.2f})</td>'


def _ranking_table(ranking: Ranking, sections: Sequence[BlockSection] = ()) -> str:
    extra = ranking.has_importance
    by_block = {section.block: section for section in sections}
    faithful = any(section.faithfulness is not None for section in sections)
    rows = "".join(
        f'<tr class="{"suggested" if t.suggested else ""}"><td>{t.rank}</td>'
        f'<th><a href="#block-{html.escape(t.block)}">'
        f"{html.escape(t.block)}</a></th><td>{t.probe_accuracy:.3f} ± {t.probe_std:.3f}</td>"
        f"<td>{t.separation:.3f}</td><td>{'yes' if t.suggested else ''}</td>"
        f"{_importance_cells(t) if extra else ''}{_faithfulness_cell(by_block.get(t.block)) if faithful else ''}</tr>"
        for t in ranking.blocks
    )
    heads = (
        "<th title=\"mean change of the fused probability when each shown image's neuron group is removed at "
        'the block (in brackets: random directions of the same norm)">group removal Δp (random)</th>'
        '<th title="the chance that random directions of the same norm rank as high over these images">p</th>'
        if extra
        else ""
    )
    if faithful:
        heads += (
            '<th title="insertion minus deletion AUC of the fused verdict on the shown images, higher = more '
            "faithful; in brackets: random cells of the block's grid\">faithfulness: Grad-CAM · where · probe "
            "(random cells)</th>"
        )
    return (
        '<table class="ranking"><thead><tr><th>rank</th><th>block</th><th>probe accuracy</th>'
        f"<th>NMF separation</th><th>suggested</th>{heads}</tr></thead><tbody>{rows}</tbody></table>"
    )


def _map_name(explainer: str) -> str:
    """How the page names a measured map (``"gradcam 6d"`` -> ``"Grad-CAM"``, ``"probe 6d"`` -> ``"probe map"``)."""
    kind = explainer.rsplit(" ", 1)[0]
    return html.escape({"gradcam": "Grad-CAM", "where": "where", "probe": "probe map"}.get(kind, kind))


def _faithfulness_text(section: BlockSection) -> str:
    """The block's faithfulness line (empty: not measured)."""
    report = section.faithfulness
    if report is None:
        return ""
    words = {"random-cells": "random cells of the block's grid", "centre-first": "centre first"}

    def scores(order: str) -> str:
        deletion, insertion = report.values("deletion", order).mean(), report.values("insertion", order).mean()
        return f"{deletion:.2f} / {insertion:.2f}"

    maps = "; ".join(f"{_map_name(name)} {scores(name)}" for name in report.explainers)
    blind = "; ".join(f"{words.get(b, b)} {scores(b)}" for b in report.baselines)
    return (
        f'<p class="faithfulness">Faithful to the verdict? Deletion / insertion AUC of the fused probability on the '
        f"{len(report.images)} shown images ({report.steps} steps, blurred fill; lower deletion and higher insertion "
        f"are more faithful): {maps}. Orders that know nothing of the model: {blind}.</p>"
    )


def _card(card: Card, root: Path) -> str:
    label = html.escape(card.label)
    return (
        f'<figure class="card {label}" data-label="{label}">'
        f"{_img(card.where, root, f'where the group fires in {card.name}', 'where')}"
        f"{_img(card.group, root, f'group picture of {card.name}', 'group')}"
        f"{_img(card.probe, root, f'probe map of {card.name}', 'probe')}"
        f'<figcaption><span class="label">{label}</span>'
        f'<span class="name" title="{html.escape(card.name)}">{html.escape(card.name)}</span>'
        f"probe p(positive) {card.probe_positive:.2f}</figcaption></figure>"
    )


def _importance_text(evidence: BlockEvidence) -> str:
    """The block's group importance as a clause of its evidence line (empty: not measured)."""
    measured = _importance(evidence)
    if measured is None:
        return ""
    change, random_change, p, significant = measured
    return (
        f"; removing the shown images' groups moves the verdict by {change:.3f} on average "
        f"(random directions: {random_change:.3f}; p = {p:.2g}, {'significant' if significant else 'not significant'})"
    )


def _section(section: BlockSection, ranking: Ranking, root: Path) -> str:
    evidence = {t.block: t for t in ranking.blocks}[section.block]
    block = html.escape(section.block)
    checked = " checked" if evidence.suggested else ""
    importance = _importance_text(evidence)
    cards = "".join(
        f'<div class="row cards" data-label="{html.escape(label)}"><h3 class="{html.escape(label)}">'
        f"{html.escape(label)} images</h3>{''.join(_card(c, root) for c in group)}</div>"
        for label, group in groupby(section.cards, key=lambda card: card.label)
    )
    contrast = "".join(
        f"<figure>{_img(path, root, f'{section.block} {label}', 'contrast')}"
        f"<figcaption>{html.escape(label)}</figcaption></figure>"
        for label, path in section.contrast
    )
    return f"""
<section class="block" id="block-{block}" data-block="{block}">
  <h2>Block {block}
    <label><input type="checkbox" class="block-select" id="select-{block}" data-block="{block}"{checked}>
      auxiliary head</label>
    <label>weight <input type="number" class="block-weight" id="weight-{block}" min="0" max="1" step="0.05"
      value="{DEFAULT_AUX_WEIGHT}" size="5"></label></h2>
  <p class="evidence">rank {evidence.rank} of {len(ranking.blocks)}; linear-probe accuracy
    {evidence.probe_accuracy:.3f} ± {evidence.probe_std:.3f}; NMF separation {evidence.separation:.3f}{importance}</p>
  {_faithfulness_text(section)}
  <div class="row contrast">{contrast}</div>
  {cards}
</section>"""


def write_report(
    out: str | Path, ranking: Ranking, sections: Sequence[BlockSection], source: str, legend: str = ""
) -> Path:
    """Write ``index.html``, ``ranking.json`` and ``ranking.md`` into ``out``; return the page."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    base = json.dumps({"backbone": ranking.backbone, "weights": ranking.weights}).replace("</", "<\\/")
    body = "".join(_section(s, ranking, root) for s in sections)
    page = f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>sentilens inspect: {html.escape(ranking.backbone)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>
<body>
<h1>Which blocks separate the sentiments?</h1>
<p class="meta">{html.escape(source)} on {html.escape(ranking.dataset)}: evidence from {ranking.n_images} images,
{ranking.n_splits}-fold linear probe on pooled features and the separation of rank-1 NMF groups between
the classes. Suggested: <strong>{html.escape(", ".join(ranking.suggested))}</strong> (pre-ticked).
Tick the blocks whose positive and negative pictures differ most, set weights, and export.</p>
{_ranking_table(ranking, sections)}
{"".join(f'<p class="note">{html.escape(note)}</p>' for note in ranking.notes)}
<p class="legend">{html.escape(legend)}</p>
{body}
<h2>Config</h2>
<p>Use with <code>sentilens cv DATA --config {CONFIG_FILE_NAME}</code> or <code>sentilens train</code>.</p>
<pre id="config"></pre>
<div id="exportbar"><button type="button" id="export">Export config</button><span id="count"></span>
<a id="download" download="{CONFIG_FILE_NAME}" hidden>Download {CONFIG_FILE_NAME}</a>
<p id="export-error" role="alert"></p></div>
<script>const BASE_CONFIG = {base};{SCRIPT}</script>
</body>
</html>
"""
    index = root / "index.html"
    index.write_text(page, encoding="utf-8")
    (root / "ranking.json").write_text(json.dumps(ranking.to_dict(), indent=2), encoding="utf-8")
    (root / "ranking.md").write_text(ranking.markdown(), encoding="utf-8")
    return index
