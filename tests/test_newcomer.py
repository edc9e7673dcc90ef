"""Issue 23, what a newcomer trips on: one input expansion and one ``--on-error`` for every command
that reads images, output formats from the file name with fixed columns, exit statuses, one verdict
per image, ``--version``, the demo page, and help that names only the options a command has."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from sentilens.cli import app
from sentilens.models import build_model, save_checkpoint
from sentilens.training import TrainConfig

from .helpers import write_image

runner = CliRunner()
CONFIG = TrainConfig(backbone="googlenet", weights="none", blocks=("4a", "4d"), epochs=1, device="cpu")
HEADS = ["head_main", "head_4a", "head_4d"]


def _text(output: str) -> str:
    """Console output without the line breaks rich inserts at the terminal width."""
    return output.replace("\n", "")


@pytest.fixture(autouse=True)
def one_thread():
    """Torch on one thread: the CPU is shared with other jobs, and these models are small."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A googlenet model with random weights and heads on 4a and 4d: quick to load and run."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "googlenet.pt"
    return save_checkpoint(build_model(CONFIG.architecture), CONFIG.to_dict(), path, trained_from=None)


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """mixed/: two images and ``x.jpg``, a text file that no decoder reads."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_image(folder / "a.png", seed=1)
    (folder / "x.jpg").write_text("not an image\n")
    write_image(folder / "b.png", seed=2)
    return folder


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


# 1. explain has no --on-error and stops at the first undecodable file.
def test_explain_gradcam_skips_an_undecodable_file_and_lists_it(mixed: Path, checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "gc"
    result = runner.invoke(
        app, ["explain", "gradcam", str(mixed), "-c", str(checkpoint), "--block", "4d", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name.split("-")[0] for p in out.glob("*-gradcam-4d-*.png")) == ["a", "b"]
    assert [row["file"] for row in _csv_rows(out / "gradcam-skipped.csv")] == [str(mixed / "x.jpg")]
    assert "x.jpg: cannot decode image" in _text(result.output)

    failed = runner.invoke(
        app, ["explain", "gradcam", str(mixed), "-c", str(checkpoint), "--on-error", "fail", "-o", str(tmp_path / "f")]
    )
    assert failed.exit_code == 2 and "x.jpg: cannot decode image" in _text(failed.output)


@pytest.mark.parametrize(
    "command",
    [
        ["spatial", "{x}", "--block", "4a"],
        ["splice", "{a}", "{x}"],
        ["groups", "--negative", "{a}", "--positive", "{x}", "--block", "4a"],
    ],
)
def test_every_explain_picture_command_takes_on_error(command: list[str], mixed: Path, tmp_path: Path) -> None:
    """Skip (the default) lists the undecodable image and, with nothing left to draw, exits 3; fail exits 2."""
    args = [a.format(a=mixed / "a.png", x=mixed / "x.jpg") for a in command]
    common = ["--backbone", "googlenet", "--weights", "none", "-o", str(tmp_path / "out")]
    skipped = runner.invoke(app, ["explain", *args, *common])
    assert skipped.exit_code == 3, skipped.output
    assert "x.jpg: cannot decode image" in _text(skipped.output)
    assert list((tmp_path / "out").glob(f"{command[0]}-skipped.csv"))
    failed = runner.invoke(app, ["explain", *args, *common, "--on-error", "fail"])
    assert failed.exit_code == 2 and "x.jpg: cannot decode image" in _text(failed.output)


# 2. `predict imgs -o guess.csv` wrote the box-drawing table into guess.csv.
def test_output_format_follows_the_extension_and_contradictions_are_refused(
    mixed: Path, checkpoint: Path, tmp_path: Path
) -> None:
    guess = tmp_path / "guess.csv"
    result = runner.invoke(app, ["predict", str(mixed), "-c", str(checkpoint), "-o", str(guess)])
    assert result.exit_code == 0, result.output
    assert [(Path(r["file"]).name, r["status"]) for r in _csv_rows(guess)] == [
        ("a.png", "ok"),
        ("b.png", "ok"),
        ("x.jpg", "skipped"),
    ]
    lines = tmp_path / "guess.json-lines"
    assert runner.invoke(app, ["predict", str(mixed), "-c", str(checkpoint), "-o", str(lines)]).exit_code == 0
    assert [json.loads(line)["status"] for line in lines.read_text().splitlines()] == ["ok", "ok", "skipped"]

    table_into_csv = tmp_path / "table.csv"
    refused = runner.invoke(
        app, ["predict", str(mixed), "-c", str(checkpoint), "-f", "table", "-o", str(table_into_csv)]
    )
    assert refused.exit_code == 2
    assert _text(refused.output).startswith("error: format table contradicts the output file")
    assert not table_into_csv.exists()


# 3. Columns depended on the content, and "0 classified, 1 skipped" exited 0.
def test_columns_are_the_model_s_and_nothing_classified_exits_3(mixed: Path, checkpoint: Path, tmp_path: Path) -> None:
    nothing = tmp_path / "nothing.csv"
    result = runner.invoke(app, ["predict", str(mixed / "x.jpg"), "-c", str(checkpoint), "-o", str(nothing)])
    assert result.exit_code == 3, result.output
    with open(nothing, newline="", encoding="utf-8") as stream:
        header = next(csv.reader(stream))
    assert header == ["file", "label", "probability", "positive_probability", *HEADS, "status", "reason"]
    lines = tmp_path / "nothing.jsonl"
    runner.invoke(app, ["predict", str(mixed / "x.jpg"), "-c", str(checkpoint), "-o", str(lines)])
    assert list(json.loads(lines.read_text())) == header
    for command in (["predict"], ["demo"], ["explain", "gradcam"]):  # the status is documented where it applies
        assert "3 when none could be" in _text(runner.invoke(app, [*command, "--help"], terminal_width=400).output)


# 4. A path,label listing without --ray was read as an image.
def test_predict_reads_a_listing_without_ray(mixed: Path, checkpoint: Path, tmp_path: Path) -> None:
    listing = tmp_path / "list.csv"
    listing.write_text("path,label\nmixed/b.png,1\nmixed/x.jpg,0\nmixed/a.png,0\n")
    out = tmp_path / "listed.csv"
    result = runner.invoke(app, ["predict", str(listing), "-c", str(checkpoint), "-f", "csv", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert [(Path(r["file"]).name, r["status"]) for r in _csv_rows(out)] == [
        ("b.png", "ok"),
        ("x.jpg", "skipped"),
        ("a.png", "ok"),
    ]


# 6. No --version.
def test_version() -> None:
    from sentilens.utils import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"sentilens {__version__}"


# 8. Help and errors.
@pytest.mark.parametrize("command", ["predict", "demo"])
def test_help_names_only_the_command_s_options(command: str) -> None:
    result = runner.invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "--checkpoint" in result.output
    assert "--backbone" not in result.output and "--weights" not in result.output


def test_no_images_error_names_the_folder(tmp_path: Path) -> None:
    empty = tmp_path / "holiday"
    empty.mkdir()
    for command in (["predict"], ["explain", "gradcam"]):
        result = runner.invoke(app, [*command, str(empty)], terminal_width=300)
        assert result.exit_code == 2
        assert f"error: no image files found in {empty}" in _text(result.output)


# 5. One image, three probabilities: explain showed its own fp32 centre-crop pass.
@pytest.mark.slow
def test_explain_gradcam_shows_the_verdict_of_predict(twitter_root: Path, tmp_path: Path, monkeypatch) -> None:
    """With the shipped model (two views), explain shows predict's label and probability, and says
    where the map's own pass differs (on this image: 0.766 against 0.748)."""
    import sentilens.app.explain as tasks

    image = twitter_root / "images" / "100003032_428124307202400256_Be_S6KkCMAA411d.jpg"
    table = tmp_path / "p.csv"
    assert runner.invoke(app, ["predict", str(image), "-f", "csv", "-o", str(table)]).exit_code == 0
    (row,) = _csv_rows(table)
    titles: list[str] = []
    drawn = tasks.save_gradcam
    monkeypatch.setattr(
        tasks, "save_gradcam", lambda path, image, cam, title: titles.append(title) or drawn(path, image, cam, title)
    )
    result = runner.invoke(app, ["explain", "gradcam", str(image), "-o", str(tmp_path / "gc")], terminal_width=300)
    assert result.exit_code == 0, result.output
    assert f"{image}: {row['label']} p={float(row['probability']):.3f}" in _text(result.output)
    (title,) = titles
    assert title.startswith(f"7a: {row['label']} (p = {float(row['probability']):.3f}")
    assert "map from the fp32 torch pass of the centre crop, p = " in title


# 7. The demo page: 1280 px, legends, reading guides, skipped images listed; tables in input order.
@pytest.fixture
def demo_page(checkpoint: Path, tmp_path: Path) -> tuple[Path, list[Path]]:
    from sentilens.app import analyse, load
    from sentilens.explain import AscentSettings

    folder = tmp_path / "photos"
    folder.mkdir()
    long_name = "a-very-long-file-name-from-a-camera-export-" + "0123456789" * 8 + ".png"
    first = write_image(folder / long_name, seed=3)
    broken = folder / "x.jpg"
    broken.write_text("not an image\n")
    last = write_image(folder / "z.png", seed=4)
    inputs = [first, broken, last]
    result = analyse(
        load(checkpoint), inputs, tmp_path / "demo", group_block="5b", settings=AscentSettings(size=64, steps=2)
    )
    assert [p.path for p in result.predictions] == [first, last]
    return result.page, inputs


def test_demo_lists_skipped_images_in_input_order(demo_page: tuple[Path, list[Path]]) -> None:
    page, inputs = demo_page
    rows = _csv_rows(page.parent / "predictions.csv")
    assert [Path(r["file"]) for r in rows] == inputs  # the skipped one stays where it was given
    assert [r["status"] for r in rows] == ["ok", "skipped", "ok"]
    text = page.read_text()
    assert "Skipped images (1)" in text and f"{inputs[1]}: cannot decode image" in text
    assert "legend-jet" in text and "legend-inferno" in text  # a colour bar under each colour map
    guide = text.split('<tr class="guide">')[1].split("</tr>")[0]
    assert guide.count("<td>") == 6 and "<td></td>" not in guide  # a reading line under every column


def test_demo_page_fits_1280_px(demo_page: tuple[Path, list[Path]], tmp_path: Path) -> None:
    from .browser import chromium

    page, _ = demo_page
    browser = chromium(tmp_path / "chromium")
    try:
        browser.get(page.as_uri())
        overflow = browser.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
    finally:
        browser.quit()
    assert overflow[1] <= 1280
    assert overflow[0] <= overflow[1], f"the page scrolls sideways: {overflow}"


def test_main_sh_takes_relative_paths_from_the_caller_s_folder(tmp_path: Path) -> None:
    """scripts/main.sh changes into the repository: a relative PATH must still mean the caller's."""
    import shutil
    import subprocess

    repository = tmp_path / "repository"
    (repository / "scripts").mkdir(parents=True)
    (repository / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(Path(__file__).parents[1] / "scripts" / "main.sh", repository / "scripts" / "main.sh")
    (repository / "scripts" / "setup.sh").write_text("true\n")  # set-up is not what is tested here
    stub = repository / ".venv" / "bin" / "sentilens"
    stub.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$PWD" "$@"\n')
    stub.chmod(0o755)
    caller = tmp_path / "caller"
    (caller / "photos").mkdir(parents=True)
    run = subprocess.run(
        ["bash", str(repository / "scripts" / "main.sh"), "photos", "--group-block", "5b"],
        cwd=caller,
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.splitlines() == [
        str(repository),
        "demo",
        str(caller / "photos"),
        "--group-block",
        "5b",
        "--out",
        "sentilens-demo",
    ]
