"""`sentilens evaluate` and `classifier.evaluate`: the shipped model scored, unchanged, on a few
Twitter I images laid out as a folder per class, a CSV and a Twitter I root, with an unreadable
image among them; a set with one class missing is refused.

The network runs on the centre crop only (one pass per image) and each layout is classified once;
rules (threshold, prior) are scored on one prediction run (``score_predictions``)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import sentilens
from sentilens.app import DecisionRule, evaluate_classifier, score_predictions
from sentilens.app.classifier import SentimentClassifier
from sentilens.cli import app
from sentilens.data import load_dataset
from sentilens.evaluation import SCORE_NAMES, probability_scores
from sentilens.runtime import RunSettings

#: Images per class copied from five agree (the first ones of each class in the label file).
PER_CLASS = 4
SETTINGS = RunSettings(runtime="torch", precision="fp32", views=("centre",), decode_threads=0)


def first_images(twitter_root: Path) -> dict[str, list[str]]:
    chosen: dict[str, list[str]] = {"0": [], "1": []}
    for line in (twitter_root / "ground_truth" / "twitter_five_agrees.txt").read_text().split("\n"):
        if line.strip():
            name, label = line.split()
            if len(chosen[label]) < PER_CLASS:
                chosen[label].append(name)
    return chosen


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory, twitter_root: Path) -> Path:
    """negative/ and positive/ with four Twitter I images each, and one file that is no image."""
    root = tmp_path_factory.mktemp("labelled")
    for label, names in first_images(twitter_root).items():
        folder = root / ("positive" if label == "1" else "negative")
        folder.mkdir()
        for name in names:
            shutil.copy(twitter_root / "images" / name, folder / name)
    (root / "positive" / "broken.jpg").write_bytes(b"not a picture")
    return root


@pytest.fixture(scope="module")
def classifier() -> SentimentClassifier:
    return sentilens.load()


@pytest.fixture(scope="module")
def evaluated(classifier: SentimentClassifier, labelled: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("report")
    return classifier.evaluate(labelled, out, settings=SETTINGS, resamples=200), out  # the Python API


def test_scores_are_predicts_probabilities_against_the_labels(evaluated, classifier, labelled: Path) -> None:
    result, out = evaluated
    predictions, skipped = classifier.predict_with_skipped(labelled, SETTINGS)
    expected = {p.path.name: p.positive_probability for p in predictions}
    scored = {Path(str(row["file"])).name: row["scored_probability"] for row in result.rows}
    assert len(result.labels) == 2 * PER_CLASS and result.labels.sum() == PER_CLASS
    for name, probability in expected.items():
        assert scored[name] == pytest.approx(probability, abs=1e-6)
    by_hand = probability_scores(result.labels, result.probabilities)
    assert list(result.scores) == list(SCORE_NAMES)
    assert {name: interval.value for name, interval in result.scores.items()} == pytest.approx(by_hand)
    for name, interval in result.scores.items():
        assert interval.low <= interval.value <= interval.high, name


def test_unreadable_image_is_listed_not_fatal(evaluated) -> None:
    result, out = evaluated
    (broken,) = [row for row in result.rows if row["status"] == "skipped"]
    assert Path(str(broken["file"])).name == "broken.jpg" and "cannot decode" in str(broken["reason"])
    assert broken["true_label"] == "positive" and broken["decision"] is None
    record = json.loads((out / "evaluation.json").read_text())
    assert record["images"] == {
        "listed": 2 * PER_CLASS + 1,
        "scored": 2 * PER_CLASS,
        "skipped": 1,
        "scored_per_class": {"negative": PER_CLASS, "positive": PER_CLASS},
    }
    assert record["skipped"][0]["file"].endswith("broken.jpg")
    assert "broken.jpg" in (out / "report.md").read_text()


def test_files_carry_provenance_and_the_rows(evaluated) -> None:
    result, out = evaluated
    names = sorted(path.name for path in result.files)
    assert names == sorted(
        ["evaluation.json", "predictions.csv", "predictions.jsonl", "reliability.png", "roc.png", "report.md"]
        + ["report.html"]
    )
    record = json.loads((out / "evaluation.json").read_text())
    assert {"sentilens", "command", "date", "cpu", "torch", "data"} <= set(record)
    assert record["model"]["temperature"] == result.record["model"]["temperature"]
    with open(out / "predictions.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 2 * PER_CLASS + 1
    assert {"file", "positive_probability", "status", "reason", "true_label", "decision"} <= set(rows[0])
    assert (out / "reliability.png").read_bytes()[:4] == b"\x89PNG"
    assert "ROC-AUC" in (out / "report.html").read_text()


def test_threshold_and_prior_change_the_decisions_honestly(classifier, labelled: Path) -> None:
    dataset = load_dataset(labelled)
    predictions, skipped = classifier.predict_with_skipped(dataset.paths, SETTINGS)

    def scored(rule: DecisionRule):
        return score_predictions(classifier, dataset, predictions, skipped, rule=rule, resamples=0)

    base, strict = scored(DecisionRule()), scored(DecisionRule(threshold=0.99))
    assert strict.scores["roc_auc"].value == base.scores["roc_auc"].value
    assert strict.scores["recall"].value == 0.0 < base.scores["recall"].value  # no image reaches 0.99
    assert classifier.positive_rate is not None  # the shipped checkpoint records its training rate
    same = scored(DecisionRule(prior=classifier.positive_rate))
    np.testing.assert_allclose(same.probabilities, base.probabilities, atol=1e-9)
    rarer = scored(DecisionRule(prior=0.2))
    assert np.all(rarer.probabilities < base.probabilities)
    assert rarer.scores["roc_auc"].value == pytest.approx(base.scores["roc_auc"].value)
    decisions = {row["decision"] for row in rarer.rows if row["status"] == "ok"}
    assert decisions <= {"negative", "positive"} and rarer.record["rule"]["prior"] == 0.2


def twitter_layout(root: Path, twitter_root: Path) -> Path:
    """A Twitter I root (images/ and ground_truth/) holding only the chosen images, as links."""
    (root / "images").mkdir(parents=True)
    (root / "ground_truth").mkdir()
    lines = []
    for label, names in first_images(twitter_root).items():
        for name in names:
            (root / "images" / name).symlink_to(twitter_root / "images" / name)
            lines.append(f"{name} {label}\n")
    (root / "ground_truth" / "twitter_five_agrees.txt").write_text("".join(lines))
    return root


def test_csv_gives_the_folders_scores(evaluated, classifier, twitter_root: Path, tmp_path: Path) -> None:
    from_folder, _ = evaluated
    table = tmp_path / "set.csv"
    rows = [
        f"{twitter_root / 'images' / n},{label}\n" for label, names in first_images(twitter_root).items() for n in names
    ]
    table.write_text("path,label\n" + "".join(rows))
    from_csv = evaluate_classifier(classifier, table, settings=SETTINGS, resamples=0)
    for name in SCORE_NAMES:
        assert from_csv.scores[name].value == pytest.approx(from_folder.scores[name].value), name


def test_one_class_missing_is_an_error_line_with_status_2(labelled: Path, tmp_path: Path) -> None:
    only_positive = tmp_path / "one_class.csv"
    images = sorted(p for p in (labelled / "positive").iterdir() if p.name != "broken.jpg")
    only_positive.write_text("path,label\n" + "".join(f"{p},positive\n" for p in images))
    result = CliRunner().invoke(app, ["evaluate", str(only_positive), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and "no negative images" in result.output
    assert not (tmp_path / "out").exists()


def test_class_left_empty_by_unreadable_images_is_an_error(classifier, labelled: Path, tmp_path: Path) -> None:
    folder = tmp_path / "set"
    (folder / "negative").mkdir(parents=True)
    (folder / "positive").mkdir()
    first = sorted((labelled / "negative").iterdir())[0]
    shutil.copy(first, folder / "negative" / first.name)
    (folder / "positive" / "broken.jpg").write_bytes(b"still not a picture")
    with pytest.raises(ValueError, match="no positive images left once the unreadable images are set aside"):
        evaluate_classifier(classifier, folder, settings=SETTINGS, resamples=0)


def test_cli_on_a_twitter_root_prints_scores_and_writes_the_report(
    evaluated, twitter_root: Path, tmp_path: Path
) -> None:
    from_folder, _ = evaluated
    root = twitter_layout(tmp_path / "twitter", twitter_root)
    out = tmp_path / "report"
    arguments = ["evaluate", str(root), "--out", str(out), "--bootstrap", "50", "--runtime", "torch", "--views", "1"]
    result = CliRunner().invoke(app, [*arguments, "--precision", "fp32"])
    assert result.exit_code == 0, result.output
    assert "roc_auc" in result.output and "0 skipped" in result.output
    record = json.loads((out / "evaluation.json").read_text())
    assert record["run_settings"]["views"] == ["centre"] and record["bootstrap"]["resamples"] == 50
    assert record["dataset"] == "twitter1/five"
    for name in SCORE_NAMES:
        assert record["scores"][name]["value"] == pytest.approx(from_folder.scores[name].value), name
