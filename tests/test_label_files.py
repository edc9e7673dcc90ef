"""Label files: every fault is reported with the file name and line number."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentilens.data import DataError, load_csv

from .helpers import write_image


@pytest.fixture
def images(tmp_path: Path) -> Path:
    for name in ("a.png", "b.png"):
        write_image(tmp_path / name, seed=len(name))
    return tmp_path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("file,label\na.png,1\n", r"labels.csv:1: expected the header 'path,label'"),
        ("path,label\na.png,1\nb.png\n", r"labels.csv:3: expected 'path,label', got 'b.png'"),
        ("path,label\na.png,1\nb.png,1,extra\n", r"labels.csv:3: expected 'path,label'"),
        ("path,label\na.png,1\n,0\n", r"labels.csv:3: expected 'path,label'"),
        ("path,label\na.png,happy\n", r"labels.csv:2: unknown label 'happy'"),
        (
            "path,label\na.png,1\n\nb.png,0\na.png,0\n",
            r"labels.csv:5: 'a.png' is listed with conflicting labels \(first on line 2\)",
        ),
        ("path,label\na.png,1\na.png,1\n", r"labels.csv:3: 'a.png' is listed twice \(first on line 2\)"),
        ("path,label\na.png,1\nghost.png,0\n", r"labels.csv: 1 listed image\(s\) do not exist: line 3: .*ghost.png"),
        ('path,label\n"a.png,1\n', r"labels.csv:\d+: "),
    ],
)
def test_csv_faults_name_file_and_line(images: Path, text: str, message: str) -> None:
    (images / "labels.csv").write_text(text)
    with pytest.raises(DataError, match=message):
        load_csv(images / "labels.csv")


def test_a_label_file_that_is_not_text_names_the_line(images: Path) -> None:
    (images / "labels.csv").write_bytes(b"path,label\na.png,1\n\xff\xfe,0\n")
    with pytest.raises(DataError, match=r"labels.csv:3: not UTF-8 text"):
        load_csv(images / "labels.csv")
