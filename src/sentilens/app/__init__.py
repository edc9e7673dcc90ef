"""Use cases shared by the command line and the Python API: each loads what it needs, computes
through the layers below, and writes its result files.

``classifier``: :func:`load` and :class:`SentimentClassifier` (the package's face);
``predictions``: the prediction table in table, CSV and JSON-lines form; ``demo``: the analyst
workflow; ``explain``: explanations written as PNG and ``.npy``; ``inspect``: the block-choice
report and ranking; ``evaluate``: cross-validation and the block experiments with their result
files; ``train``: a checkpoint from a dataset; ``configs``: training configs from options.
"""
