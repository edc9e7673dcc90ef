"""The fast paths compute what the plain paths compute (issue 5); no timings here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch._inductor.config as inductor_config

from sentilens.models import SentimentModel, build_model, create_backbone
from sentilens.runtime import Predictor, RunSettings
from sentilens.runtime.choice import cpu_supports_bf16
from sentilens.runtime.torch_backend import fold_batch_norm, inference_copy, resolve_precision
from sentilens.training import TrainConfig, fit, predict_cached, run_frozen_pass

from .helpers import write_image


@pytest.fixture(scope="module")
def googlenet_model() -> SentimentModel:
    torch.manual_seed(0)
    model = SentimentModel(create_backbone("googlenet", "none"), blocks=("4a", "4d"))
    # Non-trivial batch-norm statistics, so that folding them is actually exercised.
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.1, 0.1)
    return model.eval()


@pytest.fixture
def image_files(tmp_path: Path) -> list[Path]:
    paths = [write_image(tmp_path / f"img{i}.png", seed=i, size=(80 + 7 * i, 60 + 5 * i)) for i in range(5)]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    return [*paths[:2], broken, *paths[2:]]


def test_resolve_precision() -> None:
    assert resolve_precision("fp32") == "fp32"
    assert resolve_precision("bf16") == "bf16"
    assert resolve_precision("auto", "cpu") == ("bf16" if cpu_supports_bf16() else "fp32")
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("fp16")
    with pytest.raises(RuntimeError, match="openvino"):
        resolve_precision("int8")


def test_channels_last_and_folding_match_contiguous(googlenet_model: SentimentModel) -> None:
    images = torch.rand(3, 3, 224, 224)
    with torch.inference_mode():
        plain = googlenet_model(images)
        channels_last = inference_copy(googlenet_model, channels_last=True, fold=False)
        fast = channels_last(images.contiguous(memory_format=torch.channels_last))
        folded = fold_batch_norm(inference_copy(googlenet_model, channels_last=False, fold=False))(images)
    for other in (fast, folded):
        torch.testing.assert_close(other.main, plain.main, rtol=1e-4, atol=1e-4)
        for block in plain.aux:
            torch.testing.assert_close(other.aux[block], plain.aux[block], rtol=1e-4, atol=1e-4)
    assert isinstance(googlenet_model.backbone.stages["conv1"].bn, torch.nn.BatchNorm2d), "original untouched"


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_fast_predict_matches_plain(googlenet_model: SentimentModel, image_files: list[Path], precision: str) -> None:
    names = ["negative", "positive"]
    plain_path = RunSettings(runtime="torch", precision="fp32", batch_size=2, decode_threads=0, channels_last=False)
    plain, plain_skipped = Predictor(googlenet_model, names, plain_path)(image_files)
    fast_path = RunSettings(runtime="torch", precision=precision, batch_size=2, decode_threads=2)
    fast, fast_skipped = Predictor(googlenet_model, names, fast_path)(image_files)
    assert [p.path for p in fast] == [p.path for p in plain] == [p for p in image_files if p.suffix == ".png"]
    assert [s.path for s in fast_skipped] == [s.path for s in plain_skipped] == [image_files[2]]
    tolerance = 1e-4 if precision == "fp32" else 3e-2  # bfloat16 keeps 8 bits of mantissa
    np.testing.assert_allclose(
        [p.positive_probability for p in fast], [p.positive_probability for p in plain], atol=tolerance
    )
    for a, b in zip(fast, plain):
        assert a.head_probabilities.keys() == b.head_probabilities.keys()
        if abs(b.positive_probability - 0.5) > tolerance:
            assert a.label == b.label


@pytest.mark.slow
def test_compiled_predict_matches_plain(googlenet_model: SentimentModel, image_files: list[Path]) -> None:
    """Five good images in batches of two: the last batch is padded to the compiled shape."""
    names = ["negative", "positive"]
    plain_path = RunSettings(runtime="torch", precision="fp32", batch_size=2, decode_threads=0, channels_last=False)
    plain, _ = Predictor(googlenet_model, names, plain_path)(image_files)
    compiled_path = RunSettings(runtime="torch", precision="fp32", batch_size=2, decode_threads=0, compiled=True)
    compiled, skipped = Predictor(googlenet_model, names, compiled_path)(image_files)
    assert [p.path for p in compiled] == [p.path for p in plain]
    assert [s.path for s in skipped] == [image_files[2]]
    np.testing.assert_allclose(
        [p.positive_probability for p in compiled], [p.positive_probability for p in plain], atol=1e-4
    )
    for a, b in zip(compiled, plain):
        np.testing.assert_allclose(list(a.head_probabilities.values()), list(b.head_probabilities.values()), atol=1e-4)
    assert not inductor_config.freezing, "freezing is patched in per call, not left switched on"


@pytest.mark.parametrize(("mode", "trainable_from"), [("finetune", "5a"), ("frozen", None)])
def test_cached_and_recomputed_training_agree(mode: str, trainable_from: str | None) -> None:
    torch.manual_seed(1)
    images = torch.randint(0, 256, (8, 3, 224, 224), dtype=torch.uint8)
    labels = [0, 1] * 4
    results = []
    for frozen_blocks in ("cache", "recompute"):
        config = TrainConfig(
            backbone="googlenet",
            weights="none",
            blocks=("4a", "5b"),
            mode=mode,
            trainable_from=trainable_from,
            epochs=2,
            batch_size=3,
            frozen_blocks=frozen_blocks,
            device="cpu",
        )
        torch.manual_seed(3)
        model = build_model(config.architecture)
        cache = run_frozen_pass(
            model.backbone,
            images,
            model.blocks,
            trainable_from,
            batch_size=4,
            recompute=frozen_blocks == "recompute",
        )
        assert cache.recompute == (frozen_blocks == "recompute")
        losses = fit(model, cache, range(6), labels[:6], config)
        results.append((losses, predict_cached(model, cache, range(6, 8))))
    (cached_losses, cached_probs), (recomputed_losses, recomputed_probs) = results
    np.testing.assert_allclose(cached_losses, recomputed_losses, rtol=1e-5)
    np.testing.assert_allclose(cached_probs, recomputed_probs, atol=1e-5)


def test_bfloat16_cache_stays_close_to_float32() -> None:
    torch.manual_seed(2)
    backbone = create_backbone("googlenet", "none").eval()
    images = torch.randint(0, 256, (4, 3, 224, 224), dtype=torch.uint8)
    full = run_frozen_pass(backbone, images, ("4a",), "4e", dtype=torch.float32)
    half = run_frozen_pass(backbone, images, ("4a",), "4e", dtype=torch.bfloat16)
    assert half.inputs["centre"].dtype == torch.bfloat16
    torch.testing.assert_close(half.inputs["mirror"].float(), full.inputs["mirror"], rtol=1e-2, atol=1e-2)
    torch.testing.assert_close(half.pooled["centre"]["4a"], full.pooled["centre"]["4a"])
