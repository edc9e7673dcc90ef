"""Checkpoints: atomic writes, what they carry, refusal of other backbones/blocks and of pickled code."""

from __future__ import annotations

import dataclasses
import os
import pickle
import stat
from pathlib import Path

import pytest
import torch

from sentilens.models import Architecture, CheckpointError, build_model, load_checkpoint, save_checkpoint
from sentilens.training import TrainConfig, boundary_stage
from sentilens.utils.atomic import write_json_atomic
from sentilens.utils.version import __version__

CONFIG = TrainConfig(backbone="googlenet", weights="none", blocks=("4a", "4d"), epochs=1, device="cpu")


class RunsCode:
    """Unpickling this calls ``open(marker, "w")``: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("checkpoint") / "model.pt"
    model = build_model(CONFIG.architecture)
    return save_checkpoint(model, CONFIG.to_dict(), path, extra={"note": "test"}, trained_from=None)


def test_checkpoint_carries_what_the_issue_lists(checkpoint: Path) -> None:
    loaded = load_checkpoint(checkpoint, expect_backbone="googlenet", expect_blocks=("4a", "4d"))
    meta = loaded.metadata
    assert meta["backbone"] == "googlenet" and meta["blocks"] == ["4a", "4d"]
    assert meta["sentilens_version"] == __version__
    assert meta["config"] == CONFIG.to_dict() and loaded.class_names == ("negative", "positive")
    assert "frozen_digest" in meta
    original = build_model(CONFIG.architecture)  # the seeded random backbone is rebuilt identically
    for key, value in loaded.model.state_dict().items():
        if key.startswith("backbone."):
            assert torch.equal(value, original.state_dict()[key]), key


def test_the_training_config_carries_the_architecture_under_the_same_names() -> None:
    """A checkpoint stores the training config; the models layer rebuilds from its architecture fields."""
    assert {field.name for field in dataclasses.fields(Architecture)} <= set(TrainConfig().to_dict())
    assert TrainConfig().architecture == Architecture()  # one set of defaults
    assert CONFIG.architecture == Architecture.from_dict(CONFIG.to_dict())
    assert CONFIG.architecture == Architecture(backbone="googlenet", weights="none", blocks=("4a", "4d"))


def test_a_fine_tuned_checkpoint_holds_only_its_trained_blocks(tmp_path: Path) -> None:
    """With ImageNet weights the file holds the heads and the fine-tuned blocks; the frozen ones
    come from the weight package again, and a file that lost its fine-tuned block is refused."""
    config = TrainConfig(blocks=("7b",), mode="finetune", trainable_from="7c", device="cpu")
    torch.manual_seed(0)
    model = build_model(config.architecture)
    with torch.no_grad():
        for parameter in model.backbone.stages["7c"].parameters():
            parameter.add_(0.01)
    path = save_checkpoint(model, config.to_dict(), tmp_path / "tuned.pt", trained_from=boundary_stage(config, model))
    payload = torch.load(path, weights_only=True)
    assert {key.split(".")[2] for key in payload["state_dict"] if key.startswith("backbone.")} == {"7c"}
    loaded = load_checkpoint(path).model.state_dict()
    assert all(torch.equal(loaded[key], value) for key, value in model.state_dict().items())
    payload["state_dict"] = {k: v for k, v in payload["state_dict"].items() if not k.startswith("backbone.")}
    torch.save(payload, tmp_path / "cut.pt")
    with pytest.raises(CheckpointError, match="lacks blocks it fine-tuned"):
        load_checkpoint(tmp_path / "cut.pt")


def test_other_backbone_or_blocks_are_refused(checkpoint: Path) -> None:
    with pytest.raises(CheckpointError, match="made for backbone 'googlenet', not 'inception_v3'"):
        load_checkpoint(checkpoint, expect_backbone="inception_v3")
    with pytest.raises(CheckpointError, match=r"has heads on blocks \['4a', '4d'\], not \['4b'\]"):
        load_checkpoint(checkpoint, expect_blocks=("4b",))


def test_tensors_that_do_not_fit_are_refused(checkpoint: Path, tmp_path: Path) -> None:
    payload = torch.load(checkpoint, weights_only=True)
    payload["blocks"] = ["4b"]
    payload["config"]["blocks"] = ["4b"]
    torch.save(payload, tmp_path / "edited.pt")
    with pytest.raises(CheckpointError, match=r"tensors do not fit googlenet with blocks \['4b'\]"):
        load_checkpoint(tmp_path / "edited.pt")


@pytest.mark.parametrize("writer", ["torch.save", "pickle"])
def test_a_checkpoint_that_runs_code_when_unpickled_is_refused(checkpoint: Path, tmp_path: Path, writer: str) -> None:
    marker = tmp_path / "code-ran"
    payload = torch.load(checkpoint, weights_only=True)
    payload["extra"] = {"surprise": RunsCode(marker)}
    evil = tmp_path / "evil.pt"
    if writer == "torch.save":
        torch.save(payload, evil)
    else:
        evil.write_bytes(pickle.dumps(payload))
    with pytest.raises(CheckpointError, match="evil.pt: refused to load"):
        load_checkpoint(evil)
    assert not marker.exists()
    pickle.loads(pickle.dumps(RunsCode(marker)))  # the same object does run code when unpickled
    assert marker.exists()


@pytest.mark.parametrize("content", [b"", b"garbage", b"PK\x03\x04 half a zip"])
def test_damaged_files_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "damaged.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="damaged.pt"):
        load_checkpoint(path)


def test_not_a_sentilens_checkpoint(tmp_path: Path) -> None:
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a sentilens checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_a_failed_write_leaves_the_old_checkpoint_and_no_temporary_file(
    checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "model.pt"
    target.write_bytes(checkpoint.read_bytes())

    def crash(payload, file) -> None:
        Path(file).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(build_model(CONFIG.architecture), CONFIG.to_dict(), target, trained_from=None)
    assert target.read_bytes() == checkpoint.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_a_checkpoint_missing_parts_is_refused(checkpoint: Path, tmp_path: Path) -> None:
    payload = torch.load(checkpoint, weights_only=True)
    del payload["state_dict"]
    torch.save(payload, tmp_path / "partial.pt")
    with pytest.raises(CheckpointError, match="partial.pt: damaged checkpoint, missing state_dict"):
        load_checkpoint(tmp_path / "partial.pt")


def test_atomic_writes_get_the_permissions_of_a_plain_open(tmp_path: Path) -> None:
    """``mkstemp`` makes files private (0600); a written checkpoint or profile must not stay so."""
    previous = os.umask(0o022)
    try:
        written = write_json_atomic(tmp_path / "record.json", {"a": 1})
        plain = tmp_path / "plain.json"
        plain.write_text("{}")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(written.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode) == 0o644
