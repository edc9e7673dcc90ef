"""Use cases shared by the command line and the Python API: each loads what it needs, computes
through the layers below, and writes its result files.

``classifier``: :func:`load` and :class:`SentimentClassifier` (the package's face);
``predictions``: the prediction table in table, CSV and JSON-lines form; ``demo``: the analyst
workflow; ``explain``: explanations written as PNG and ``.npy``; ``faithfulness``: the maps'
faithfulness and sanity checks as JSON; ``inspect``: the block-choice
report and ranking; ``evaluate``: cross-validation and the block experiments with their result
files; ``scoring``: a trained model scored on a labelled set (``sentilens evaluate``);
``train``: a checkpoint from a dataset; ``configs``: training configs from options;
``studio``: the session behind ``sentilens studio`` (the human loop kept in memory).

Names are imported on first use (:func:`sentilens.utils.lazy.lazy_face`): add one by importing it
under ``if TYPE_CHECKING:`` and listing it in ``__all__``.
"""

from typing import TYPE_CHECKING

from sentilens.utils import lazy_face

if TYPE_CHECKING:
    from sentilens.app.choices import INSPECT_STEPS, OutputFormat
    from sentilens.app.classifier import load, load_classifier, load_model
    from sentilens.app.configs import config_from_options, parse_blocks
    from sentilens.app.demo import analyse
    from sentilens.app.distributed import BatchSettings, run_batch
    from sentilens.app.evaluate import ExperimentKind, run_block_experiment, run_cross_validation
    from sentilens.app.explain import (
        Written,
        run_channels,
        run_gradcam,
        run_groups,
        run_reference,
        run_spatial,
        run_splice,
    )
    from sentilens.app.faithfulness import run_faithfulness, run_sanity
    from sentilens.app.inspect import (
        INSPECT_SETTINGS,
        InspectionPlan,
        build_inspection,
        inspect_block,
        model_and_weights,
        model_source,
        plan_inspection,
        suggest_blocks,
    )
    from sentilens.app.predicting import predict_files, predict_inputs
    from sentilens.app.predictions import PredictionRun, output_format_for, write_predictions
    from sentilens.app.scoring import DecisionRule, Evaluation, evaluate_classifier, score_predictions
    from sentilens.app.shipped import DEFAULT_MODEL_FILE
    from sentilens.app.studio import MODEL_CHOICES, StudioSession, Trial, history_csv, history_markdown
    from sentilens.app.train import train_checkpoint

__all__ = [
    "DEFAULT_MODEL_FILE",
    "DecisionRule",
    "Evaluation",
    "evaluate_classifier",
    "score_predictions",
    "parse_blocks",
    "suggest_blocks",
    "BatchSettings",
    "ExperimentKind",
    "INSPECT_SETTINGS",
    "INSPECT_STEPS",
    "InspectionPlan",
    "MODEL_CHOICES",
    "StudioSession",
    "Trial",
    "history_csv",
    "history_markdown",
    "inspect_block",
    "plan_inspection",
    "OutputFormat",
    "Written",
    "analyse",
    "build_inspection",
    "config_from_options",
    "load",
    "load_classifier",
    "load_model",
    "output_format_for",
    "predict_inputs",
    "PredictionRun",
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
    "predict_files",
    "write_predictions",
]

lazy_face(__name__)
