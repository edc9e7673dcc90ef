"""Use cases shared by the command line and the Python API: each loads what it needs, computes
through the layers below, and writes its result files.

``classifier``: :func:`load` and :class:`SentimentClassifier` (the package's face);
``predictions``: the prediction table in table, CSV and JSON-lines form; ``demo``: the analyst
workflow; ``explain``: explanations written as PNG and ``.npy``; ``faithfulness``: the maps'
faithfulness and sanity checks as JSON; ``inspect``: the block-choice
report and ranking; ``evaluate``: cross-validation and the block experiments with their result
files; ``train``: a checkpoint from a dataset; ``configs``: training configs from options.
"""

from sentilens.app.classifier import load, load_model
from sentilens.app.configs import config_from_options, parse_blocks
from sentilens.app.demo import analyse
from sentilens.app.distributed import BatchSettings, run_batch
from sentilens.app.evaluate import ExperimentKind, run_block_experiment, run_cross_validation
from sentilens.app.explain import Written, run_channels, run_gradcam, run_groups, run_reference, run_spatial, run_splice
from sentilens.app.faithfulness import run_faithfulness, run_sanity
from sentilens.app.inspect import INSPECT_SETTINGS, build_inspection, model_and_weights, model_source, suggest_blocks
from sentilens.app.predictions import OutputFormat, write_predictions
from sentilens.app.train import train_checkpoint

__all__ = [
    "parse_blocks",
    "suggest_blocks",
    "BatchSettings",
    "ExperimentKind",
    "INSPECT_SETTINGS",
    "OutputFormat",
    "Written",
    "analyse",
    "build_inspection",
    "config_from_options",
    "load",
    "load_model",
    "model_and_weights",
    "model_source",
    "run_batch",
    "run_block_experiment",
    "run_channels",
    "run_cross_validation",
    "run_gradcam",
    "run_groups",
    "run_reference",
    "run_spatial",
    "run_faithfulness",
    "run_sanity",
    "run_splice",
    "train_checkpoint",
    "write_predictions",
]
