"""The on-disk store of frozen pooled features: built once, reused, rebuilt when damaged."""

from __future__ import annotations

from pathlib import Path

import torch

from sentilens.models import create_backbone
from sentilens.training.feature_store import default_store_dir, load_or_build_frozen


def _images() -> torch.Tensor:
    return torch.randint(0, 256, (3, 3, 224, 224), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def test_store_is_built_once_then_reused(tmp_path: Path) -> None:
    torch.manual_seed(0)
    backbone = create_backbone("googlenet", "none")
    calls: list[int] = []

    def decode() -> torch.Tensor:
        calls.append(1)
        return _images()

    first = load_or_build_frozen(backbone, ["a", "b", "c"], decode, store_dir=tmp_path)
    again = load_or_build_frozen(backbone, ["a", "b", "c"], decode, store_dir=tmp_path)
    assert len(calls) == 1
    assert set(first.pooled["centre"]) == {*backbone.tap_names, "final"}
    for view in ("centre", "mirror"):
        for name, values in first.pooled[view].items():
            torch.testing.assert_close(again.pooled[view][name], values)
    other_images = load_or_build_frozen(backbone, ["a", "b", "d"], decode, store_dir=tmp_path)
    assert len(calls) == 2 and len(other_images) == 3


def test_damaged_store_file_is_rebuilt(tmp_path: Path) -> None:
    backbone = create_backbone("googlenet", "none")
    load_or_build_frozen(backbone, ["a", "b", "c"], _images, store_dir=tmp_path)
    (stored,) = tmp_path.glob("*.pt")
    stored.write_bytes(b"damaged")
    rebuilt = load_or_build_frozen(backbone, ["a", "b", "c"], _images, store_dir=tmp_path)
    assert rebuilt.pooled["centre"]["final"].shape == (3, 1024)


def test_store_lives_under_the_cache_variable(isolated_cache: Path) -> None:
    assert default_store_dir() == isolated_cache / "features"
