"""Choices and defaults of the use cases that the command line shows in its options, in a module
that imports nothing heavy, so that ``sentilens --help`` loads no torch.

Re-exported where they are used (:mod:`~sentilens.app.predictions`, :mod:`~sentilens.app.inspect`)
and by the face :mod:`sentilens.app`.
"""

from __future__ import annotations

from enum import StrEnum


class OutputFormat(StrEnum):
    """How a prediction table is written."""

    table = "table"  # aligned columns for a person
    jsonl = "jsonl"  # one JSON object per line
    csv = "csv"  # comma-separated, with a header


#: Gradient-ascent steps of the group pictures of ``sentilens inspect``: half the steps of a channel
#: picture, so that a first report on two cores stays within minutes (BENCHMARKS.md, "Neuron groups
#: a person can read").
INSPECT_STEPS = 32
