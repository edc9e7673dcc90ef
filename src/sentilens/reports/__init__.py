"""Figures (PNG) and pages (HTML) from plain data: overlays and pictures, the demo summary page and
the inspect report and the evaluation report.  No model code.

Names are imported on first use (:func:`sentilens.utils.lazy.lazy_face`): add one by importing it
under ``if TYPE_CHECKING:`` and listing it in ``__all__``.
"""

from typing import TYPE_CHECKING

from sentilens.utils import lazy_face

if TYPE_CHECKING:
    from sentilens.reports.figures import (
        overlay,
        save_gradcam,
        save_group_figure,
        save_picture_grid,
        save_spatial,
        save_splice,
    )
    from sentilens.reports.inspect_html import BlockSection, Card, write_report
    from sentilens.reports.pictures import heat_overlay, save_png, signed_overlay, upsample
    from sentilens.reports.scorecard import ScorecardPage, save_reliability_diagram, save_roc_curve, write_scorecard
    from sentilens.reports.summary import Contrast, SummaryRow, write_summary

__all__ = [
    "ScorecardPage",
    "save_reliability_diagram",
    "save_roc_curve",
    "write_scorecard",
    "BlockSection",
    "Card",
    "Contrast",
    "SummaryRow",
    "heat_overlay",
    "overlay",
    "save_gradcam",
    "save_group_figure",
    "save_picture_grid",
    "save_spatial",
    "save_splice",
    "save_png",
    "signed_overlay",
    "upsample",
    "write_report",
    "write_summary",
]

lazy_face(__name__)
