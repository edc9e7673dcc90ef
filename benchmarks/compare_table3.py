"""Compare two Table 3 result files (``table3.py`` output) recipe by recipe, to four decimals.

A refactoring that must leave the numbers unchanged is checked by running ``table3.py`` before and
after it and comparing the files: every metric's mean, and every fold's metrics, per subset and
recipe found in both.

    python benchmarks/compare_table3.py benchmarks/results/table3-seed0.json benchmarks/results/NEW.json ...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def per_seed(paths: list[Path]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """subset -> recipe -> results, merged over the files (``--write-each`` writes one file per subset)."""
    merged: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for path in paths:
        for subset, recipes in json.loads(path.read_text())["per_seed"].items():
            merged.setdefault(subset, {}).update(recipes)
    return merged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path, nargs="+")
    args = parser.parse_args()
    before, after = per_seed([args.before]), per_seed(args.after)
    differences = 0
    print("| subset | recipe | accuracy before | accuracy after | metrics equal to 4 places (means, every fold) |")
    print("|---|---|---:|---:|---|")
    for subset in sorted(set(before) & set(after)):
        for recipe in sorted(set(before[subset]) & set(after[subset])):
            old, new = before[subset][recipe][0], after[subset][recipe][0]
            pairs = [(old["summary"][m]["mean"], new["summary"][m]["mean"]) for m in old["summary"]]
            for old_fold, new_fold in zip(old["folds"], new["folds"], strict=True):
                pairs += [(old_fold["metrics"][m], new_fold["metrics"][m]) for m in old_fold["metrics"]]
            equal = all(round(a, 4) == round(b, 4) for a, b in pairs)
            differences += not equal
            accuracy = (old["summary"]["accuracy"]["mean"], new["summary"]["accuracy"]["mean"])
            print(f"| {subset} | {recipe} | {accuracy[0]:.4f} | {accuracy[1]:.4f} | {'yes' if equal else 'NO'} |")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
