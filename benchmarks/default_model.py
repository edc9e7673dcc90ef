"""Cross-validated accuracy of the shipped default model's recipe, over several fold seeds.

The default model (``src/sentilens/assets/``) holds the config it was trained with.  This reruns
that recipe's 5-fold cross-validation on the Twitter I subsets for each fold seed (the recipe's
training seed follows the fold seed) and writes ``benchmarks/results/default_model.json`` with
provenance (a new timestamped name when that file exists).

    python benchmarks/default_model.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from common import DATA, write_json
from sentilens.app.classifier import default_model_path
from sentilens.data import TWITTER_SUBSETS, load_twitter
from sentilens.evaluation import cross_validate
from sentilens.models import read_payload
from sentilens.training import TrainConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--subsets", nargs="+", default=["three"], choices=TWITTER_SUBSETS)
    parser.add_argument("--tag", default="default_model", help="result file name (never overwritten)")
    args = parser.parse_args()

    shipped = TrainConfig.from_dict(read_payload(default_model_path())["config"])
    record: dict[str, object] = {"checkpoint": default_model_path().name, "config": shipped.to_dict()}
    for subset in args.subsets:
        dataset = load_twitter(args.data, subset)
        runs = []
        for seed in args.seeds:
            config = TrainConfig(**{**shipped.to_dict(), "seed": seed})
            result = cross_validate(dataset, config, 5, seed)
            runs.append(result.to_dict() | {"fold_seed": seed})
            print(f"{subset} seed {seed}: accuracy {result.summary['accuracy']['mean']:.4f}", flush=True)
        means = [run["summary"]["accuracy"]["mean"] for run in runs]
        aucs = [run["summary"]["roc_auc"]["mean"] for run in runs]
        record[subset] = {
            "accuracy": float(np.mean(means)),
            "accuracy_std_over_seeds": float(np.std(means)),
            "roc_auc": float(np.mean(aucs)),
            "runs": runs,
        }
        print(f"{subset}: accuracy {np.mean(means):.4f} ± {np.std(means):.4f} over seeds {args.seeds}")
    write_json(args.tag, record, data_root=args.data)


if __name__ == "__main__":
    main()
