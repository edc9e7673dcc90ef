"""Data sources, bad input messages, decoding and fold splitting."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from sentilens.data import (
    DataError,
    ImageDecodeError,
    content_groups,
    grouped_stratified_folds,
    load_csv,
    load_dataset,
    load_folder,
    load_twitter,
    load_view,
)

from .helpers import write_image


@pytest.mark.parametrize(
    ("subset", "positive", "negative"), [("five", 581, 301), ("four", 689, 427), ("three", 769, 500)]
)
def test_twitter_subsets_match_the_paper(twitter_root: Path, subset: str, positive: int, negative: int) -> None:
    dataset = load_twitter(twitter_root, subset)
    assert dataset.class_counts() == {"negative": negative, "positive": positive}


def test_folder_layout(class_folder: Path) -> None:
    dataset = load_folder(class_folder)
    assert dataset.class_names == ("negative", "positive")
    assert dataset.class_counts() == {"negative": 6, "positive": 6}
    assert load_dataset(class_folder).paths == dataset.paths


def test_csv_layout(class_folder: Path, tmp_path: Path) -> None:
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("path,label\nnegative/negative0.png,0\npositive/positive0.png,positive\n")
    dataset = load_csv(csv_path)
    assert dataset.labels == (0, 1)
    assert dataset.paths[0] == tmp_path / "negative" / "negative0.png"


def _twitter_copy(tmp_path: Path, label_lines: str, images: tuple[str, ...] = ("a.jpg",)) -> Path:
    (tmp_path / "images").mkdir()
    (tmp_path / "ground_truth").mkdir()
    for i, name in enumerate(images):
        write_image(tmp_path / "images" / name, seed=i)
    (tmp_path / "ground_truth" / "twitter_five_agrees.txt").write_text(label_lines)
    return tmp_path


def test_missing_data_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found: .*nowhere"):
        load_twitter(tmp_path / "nowhere")


def test_label_file_naming_a_missing_image(tmp_path: Path) -> None:
    root = _twitter_copy(tmp_path, "a.jpg 1\nghost.jpg 0\n")
    with pytest.raises(
        DataError, match=r"twitter_five_agrees.txt: 1 listed image\(s\) do not exist: line 2: .*ghost.jpg"
    ):
        load_twitter(root)


def test_malformed_label_line_names_file_and_line(tmp_path: Path) -> None:
    root = _twitter_copy(tmp_path, "a.jpg 1\nb.jpg\n", images=("a.jpg", "b.jpg"))
    with pytest.raises(DataError, match=r"twitter_five_agrees.txt:2: expected"):
        load_twitter(root)


def test_unknown_label_names_file_and_line(tmp_path: Path) -> None:
    root = _twitter_copy(tmp_path, "a.jpg happy\n")
    with pytest.raises(DataError, match=r":1: unknown label 'happy'"):
        load_twitter(root)


def test_conflicting_duplicate_entry(tmp_path: Path) -> None:
    root = _twitter_copy(tmp_path, "a.jpg 1\na.jpg 0\n")
    with pytest.raises(DataError, match=r":2: 'a.jpg' is listed with conflicting labels \(first on line 1\)"):
        load_twitter(root)


def test_unreadable_image_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(ImageDecodeError, match="broken.jpg: cannot decode"):
        load_view(bad, 32)


def test_views_are_centre_crops_of_the_right_size(tmp_path: Path) -> None:
    path = write_image(tmp_path / "wide.png", seed=3, size=(120, 40), mode="L")
    view = load_view(path, 50)
    assert view.shape == (3, 50, 50)
    assert view.dtype.is_floating_point is False


def test_folds_keep_duplicates_together_and_are_stratified(twitter_root: Path) -> None:
    dataset = load_twitter(twitter_root, "three")
    groups = content_groups(dataset.paths)
    folds = grouped_stratified_folds(dataset.labels, groups, n_splits=5, seed=0)
    duplicated = [g for g, n in Counter(groups.tolist()).items() if n > 1]
    assert len(duplicated) == 13  # the README's 13 byte-identical pairs
    test_fold_of = {}
    for fold in folds:
        for index in fold.test:
            test_fold_of[index] = fold.number
        assert not set(fold.train) & set(fold.test)
    assert sorted(test_fold_of) == list(range(len(dataset)))
    for group in duplicated:
        members = np.flatnonzero(groups == group)
        assert len({test_fold_of[i] for i in members}) == 1
    overall = np.mean(dataset.labels)
    for fold in folds:
        assert abs(np.mean([dataset.labels[i] for i in fold.test]) - overall) < 0.03


def test_folds_are_fixed_by_the_seed() -> None:
    labels = [0, 1] * 20
    groups = list(range(40))
    first = grouped_stratified_folds(labels, groups, 5, seed=7)
    again = grouped_stratified_folds(labels, groups, 5, seed=7)
    other = grouped_stratified_folds(labels, groups, 5, seed=8)
    assert first == again
    assert first != other
