"""The README against the code: its quick-start command lines run (parsed from the README, not
copied), and what it states about defaults, statuses and data matches the package."""

from __future__ import annotations

import csv
import re
import shlex
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from sentilens.cli import app
from sentilens.models import backbone_spec, build_model, save_checkpoint
from sentilens.training import TrainConfig

from .helpers import write_image

README = Path(__file__).resolve().parents[1] / "README.md"
MARKER = "<!-- quick-start:"
#: Commands that load a model: the test gives them a small random googlenet checkpoint, so that a
#: line costs seconds; every other word of the line is the README's.
TAKES_A_CHECKPOINT = (("predict",), ("demo",), ("explain", "gradcam"))
runner = CliRunner()


def quick_start_lines() -> list[str]:
    """The ``sentilens`` lines of the first fenced block after the quick-start marker."""
    text = README.read_text(encoding="utf-8")
    assert MARKER in text, "the README lost its quick-start marker"
    block = text.split(MARKER, 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.splitlines() if line.strip().startswith("sentilens ")]


def _fenced_lines() -> list[str]:
    blocks = re.findall(r"```(?:bash)?\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines()]


def test_the_quick_start_has_the_commands_a_newcomer_needs() -> None:
    words = [shlex.split(line, comments=True)[1:3] for line in quick_start_lines()]
    assert ["--version"] in words and ["demo", "photos/"] in words
    assert ["explain", "gradcam"] in words and sum(w[0] == "predict" for w in words) >= 2


def _is_slow(line: str) -> bool:
    """Lines that draw pictures (Grad-CAM, neuron groups) run in the slow tier."""
    return shlex.split(line, comments=True)[1] in ("demo", "explain")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = TrainConfig(backbone="googlenet", weights="none", blocks=("4a", "4d"), epochs=1, device="cpu")
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "googlenet.pt"
    return save_checkpoint(build_model(config.architecture), config.to_dict(), path, trained_from=None)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The names the quick start uses: photos/ (two images and an undecodable x.jpg) and listing.csv."""
    photos = tmp_path / "photos"
    photos.mkdir()
    write_image(photos / "cat.png", seed=1)
    write_image(photos / "dog.jpg", seed=2)
    (photos / "x.jpg").write_text("not an image\n")
    (tmp_path / "listing.csv").write_text("path,label\nphotos/dog.jpg,positive\nphotos/cat.png,negative\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(line, marks=[pytest.mark.slow] if _is_slow(line) else [], id=line.split("#")[0].strip())
        for line in quick_start_lines()
    ],
)
def test_quick_start_line_runs(line: str, workspace: Path, checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = shlex.split(line, comments=True)[1:]
    if args[0] == "demo":  # two ascent steps per group picture instead of the page's 32: seconds, not minutes
        from sentilens.app import demo
        from sentilens.explain import AscentSettings

        monkeypatch.setattr(demo, "GROUP_SETTINGS", AscentSettings(mode="regularised", size=64, steps=2))
    if any(tuple(args[: len(command)]) == command for command in TAKES_A_CHECKPOINT):
        args += ["--checkpoint", str(checkpoint)]
    result = runner.invoke(app, args, terminal_width=200)
    assert result.exit_code == 0, f"{line}\n{result.output}"
    written = [args[i + 1] for i, arg in enumerate(args[:-1]) if arg in ("-o", "--out", "--output")]
    for target in written:
        assert (workspace / target).exists(), f"{line} did not write {target}"
    if args[0] == "predict" and written and written[0].endswith(".csv"):
        with open(workspace / written[0], newline="", encoding="utf-8") as stream:
            rows = list(csv.DictReader(stream))
        assert [Path(r["file"]).name for r in rows] == ["cat.png", "dog.jpg", "x.jpg"]
        assert [r["status"] for r in rows] == ["ok", "ok", "skipped"]


def test_commands_are_written_for_the_activated_environment() -> None:
    text = README.read_text(encoding="utf-8")
    assert "source .venv/bin/activate" in text
    assert not [line for line in _fenced_lines() if line.startswith(".venv/bin/sentilens")]


def test_stated_defaults_are_the_code_s() -> None:
    """The backbone table's default blocks, the shipped model's blocks and the Python example's
    Grad-CAM block (the CLI's and the demo's default, :func:`~sentilens.explain.default_cam_block`)."""
    from sentilens import load
    from sentilens.explain import DEFAULT_CAM_BLOCKS

    text = README.read_text(encoding="utf-8")
    spec = backbone_spec("inception_v3")
    row = next(line for line in text.splitlines() if line.startswith("| `inception_v3`"))
    defaults = row.split("|")[4].strip()
    assert defaults == f"{' '.join(spec.default_aux_blocks)} (the shipped model: {' '.join(load().blocks)})"
    python = text.split("```python\n", 1)[1].split("```", 1)[0]
    (call,) = re.findall(r"\.explain\(([^)]*)\)", python)
    default_block = DEFAULT_CAM_BLOCKS["inception_v3"]
    assert "block=" not in call or f'block="{default_block}"' in call
    assert f"at {default_block}" in python


def test_exit_statuses_glossary_and_data_source_are_documented() -> None:
    from sentilens.cli.errors import NOTHING_PROCESSED, USAGE_ERROR

    text = " ".join(README.read_text(encoding="utf-8").split())
    assert f"`{NOTHING_PROCESSED}`: none could be processed" in text and f"`{USAGE_ERROR}`: a usage" in text
    for term in ("**block**", "*tap*", "**five / four / three agree**", "**neuron group, eq. 4**", "**fusion"):
        assert term in text
    assert "Robust image sentiment analysis using progressively trained and domain transferred deep networks" in text
    assert "AAAI 2015" in text
