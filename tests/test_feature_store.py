"""The block-feature store: built once, shared by training and selection, rebuilt when damaged."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sentilens.data import load_folder
from sentilens.data.decoding import decode_all
from sentilens.models import create_backbone
from sentilens.models.backbones import Backbone
from sentilens.selection import evidence_features
from sentilens.training import feature_store
from sentilens.training.feature_store import POOLED, block_features, default_store_dir
from sentilens.training.frozen_pass import run_frozen_pass

VIEWS = ("centre", "mirror", "zoom")


@pytest.fixture
def backbone() -> Backbone:
    torch.manual_seed(0)
    return create_backbone("googlenet", "none").eval()


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """(view, number of images) of every computation the store makes."""
    calls: list[tuple[str, int]] = []
    compute = feature_store._compute

    def counting(backbone, images, view, *args, **kwargs):
        calls.append((view, len(images)))
        return compute(backbone, images, view, *args, **kwargs)

    monkeypatch.setattr(feature_store, "_compute", counting)
    return calls


def _fresh(backbone: Backbone, paths: list[Path]) -> dict[str, dict[str, torch.Tensor]]:
    """The in-memory frozen pass of training over ``paths``: what the store must return."""
    images = decode_all(paths, backbone.input_size).images
    return run_frozen_pass(backbone, images, backbone.block_names, None, views=VIEWS).pooled


def _assert_equal(stored: dict[str, dict[str, torch.Tensor]], expected: dict[str, dict[str, torch.Tensor]]) -> None:
    assert stored.keys() == expected.keys()
    for view, by_name in expected.items():
        assert stored[view].keys() == by_name.keys()
        for name, values in by_name.items():
            assert torch.equal(stored[view][name], values), (view, name)


def _pooled(features: feature_store.BlockFeatures) -> dict[str, dict[str, torch.Tensor]]:
    return {view: by_summary[POOLED] for view, by_summary in features.values.items()}


def test_store_is_built_once_and_equals_the_frozen_pass(
    backbone: Backbone, class_folder: Path, tmp_path: Path, computed: list[tuple[str, int]], monkeypatch
) -> None:
    paths = list(load_folder(class_folder).paths)
    first = block_features(backbone, paths, VIEWS, batch_size=5, chunk=7, store_dir=tmp_path / "store")
    assert first.kept == tuple(range(12)) and first.failures == ()
    assert computed == [("centre", 7), ("mirror", 7), ("zoom", 7), ("centre", 5), ("mirror", 5), ("zoom", 5)]
    _assert_equal(_pooled(first), _fresh(backbone, paths))

    def refuse(*args, **kwargs):
        raise AssertionError("stored images must not be decoded again")

    monkeypatch.setattr(feature_store, "decode_all", refuse)
    again = block_features(backbone, paths[3:9], ("zoom",), store_dir=tmp_path / "store")
    assert len(computed) == 6
    for name, values in first.values["zoom"][POOLED].items():
        assert torch.equal(again.values["zoom"][POOLED][name], values[3:9])


def test_a_new_view_or_image_computes_only_what_is_new(
    backbone: Backbone, class_folder: Path, tmp_path: Path, computed: list[tuple[str, int]]
) -> None:
    paths = list(load_folder(class_folder).paths)
    block_features(backbone, paths[:8], ("centre", "mirror"), store_dir=tmp_path / "store")
    computed.clear()
    more = block_features(backbone, paths, VIEWS, store_dir=tmp_path / "store")
    assert sorted(computed) == [("centre", 4), ("mirror", 4), ("zoom", 12)]
    _assert_equal(_pooled(more), _fresh(backbone, paths))


def test_a_damaged_entry_is_detected_rebuilt_and_equal_to_a_fresh_computation(
    backbone: Backbone, class_folder: Path, tmp_path: Path, computed: list[tuple[str, int]]
) -> None:
    paths = list(load_folder(class_folder).paths)
    store = tmp_path / "store"
    block_features(backbone, paths, VIEWS, store_dir=store)
    entries = sorted(p for p in store.rglob("*") if p.is_file())
    assert len(entries) == 12 * len(VIEWS)
    truncated, flipped = entries[4], entries[20]
    truncated.write_bytes(truncated.read_bytes()[:-100])
    damaged = bytearray(flipped.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01  # one bit in the middle
    flipped.write_bytes(bytes(damaged))

    computed.clear()
    messages: list[str] = []
    rebuilt = block_features(backbone, paths, VIEWS, store_dir=store, say=messages.append)
    assert len(messages) == 2 and all("damaged" in m for m in messages)
    assert {truncated.name, flipped.name} == {Path(m.split()[2]).name for m in messages}
    assert sum(count for _, count in computed) == 2, "only the two damaged entries are computed again"
    _assert_equal(_pooled(rebuilt), _fresh(backbone, paths))
    computed.clear()
    block_features(backbone, paths, VIEWS, store_dir=store, say=messages.append)
    assert computed == [] and len(messages) == 2, "the rebuilt entries are sound"


def test_selection_and_training_share_the_pooled_entries(
    backbone: Backbone, class_folder: Path, tmp_path: Path, computed: list[tuple[str, int]]
) -> None:
    dataset = load_folder(class_folder)
    usable, features, skipped = evidence_features(backbone, dataset, ["3a", "5b"], tmp_path / "store")
    assert len(usable) == 12 and skipped == ()
    assert features.factors["5b"].shape == (12, 1024)
    assert computed == [("centre", 12)]
    training = block_features(backbone, list(dataset.paths), ("centre", "mirror"), store_dir=tmp_path / "store")
    assert computed == [("centre", 12), ("mirror", 12)], "the centre view came from the store"
    for block in ("3a", "5b"):
        assert torch.equal(torch.from_numpy(features.pooled[block]), training.values["centre"][POOLED][block])


def test_store_lives_under_the_cache_variable(isolated_cache: Path) -> None:
    assert default_store_dir() == isolated_cache / "features"
