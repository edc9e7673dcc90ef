"""The labelled-image list every data source produces, and the error it raises on bad input."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sentilens.utils.errors import SentilensError

#: Class names in label order: label 0 is negative, label 1 is positive (the positive class).
SENTIMENT_CLASSES = ("negative", "positive")


class DataError(SentilensError, ValueError):
    """Bad input data; the message names the file (and line) at fault."""


@dataclass(frozen=True)
class LabelledImages:
    """Image paths with integer labels and the class names the labels index.

    Attributes:
        paths: image files, in a stable order.
        labels: one label per path, ``0 <= label < len(class_names)``.
        class_names: names of the classes; ``class_names[1]`` is the positive class.
        name: a short description used in tables and logs (e.g. ``twitter1/five``).
    """

    paths: tuple[Path, ...]
    labels: tuple[int, ...]
    class_names: tuple[str, ...] = SENTIMENT_CLASSES
    name: str = "dataset"

    def __post_init__(self) -> None:
        if len(self.paths) != len(self.labels):
            raise DataError(f"{self.name}: {len(self.paths)} paths but {len(self.labels)} labels")
        if not self.paths:
            raise DataError(f"{self.name}: no images")
        bad = [label for label in self.labels if not 0 <= label < len(self.class_names)]
        if bad:
            raise DataError(f"{self.name}: labels {sorted(set(bad))} outside 0..{len(self.class_names) - 1}")

    def __len__(self) -> int:
        return len(self.paths)

    def class_counts(self) -> dict[str, int]:
        """Number of images per class name."""
        counts = Counter(self.labels)
        return {name: counts.get(index, 0) for index, name in enumerate(self.class_names)}

    def require_all_classes(self) -> None:
        """Raise :class:`DataError` unless every class has at least one image."""
        empty = [name for name, count in self.class_counts().items() if count == 0]
        if empty:
            raise DataError(f"{self.name}: no images of class {', '.join(empty)}; training needs both classes")

    def subset(self, indices: list[int] | tuple[int, ...]) -> LabelledImages:
        """The images at ``indices`` (order kept), same classes."""
        return LabelledImages(
            paths=tuple(self.paths[i] for i in indices),
            labels=tuple(self.labels[i] for i in indices),
            class_names=self.class_names,
            name=self.name,
        )
