"""The runtimes (issue 14): the auto table and agreement between torch and OpenVINO (float32 and
int8) on the same images (the disk cache of converted networks: tests/test_disk_cache.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from sentilens.models import SentimentModel
from sentilens.runtime import Precision, Predictor, RunSettings, Runtime, RuntimeUnavailableError, choose_runtime
from sentilens.runtime.choice import RUNTIME_ENV, Machine
from sentilens.runtime.openvino_backend import OpenVinoNetwork
from sentilens.utils.disk_cache import MANIFEST
from sentilens.utils.errors import InvalidArgumentError

from .helpers import tiny_model, write_image

AVX2 = frozenset({"sse4_2", "avx", "avx2", "fma"})
AVX512 = AVX2 | {"avx512f", "avx512bw", "avx512_vnni"}
AVX512_BF16 = AVX512 | {"avx512_bf16"}
AMX = AVX512_BF16 | {"amx_bf16", "amx_int8", "amx_tile"}
MISSING = "openvino not installed (pip install openvino nncf)"


@pytest.fixture(autouse=True)
def unpinned(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests choose runtimes themselves: the session's pin (conftest) does not apply."""
    monkeypatch.delenv(RUNTIME_ENV, raising=False)


@pytest.mark.parametrize(
    ("flags", "missing", "expected"),
    [
        (AVX2, None, ("openvino", "int8")),
        (AVX512, None, ("openvino", "int8")),
        (AVX512_BF16, None, ("openvino", "int8")),
        (AMX, None, ("openvino", "int8")),
        (AVX2, MISSING, ("torch", "fp32")),
        (AVX512, MISSING, ("torch", "fp32")),
        (AVX512_BF16, MISSING, ("torch", "bf16")),
        (AMX, MISSING, ("torch", "bf16")),
    ],
)
def test_auto_table(flags: frozenset[str], missing: str | None, expected: tuple[str, str]) -> None:
    choice = choose_runtime("auto", "auto", "cpu", machine=Machine(flags, missing, x86=True))
    assert (choice.runtime, choice.precision) == expected
    if missing:
        assert "pip install openvino nncf" in choice.reason, "the fallback says why"


def test_explicit_choices_and_refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    here = Machine(AVX2, None, x86=True)
    without = Machine(AVX2, MISSING, x86=True)
    assert choose_runtime("auto", "fp32", machine=here).runtime == Runtime.openvino
    assert choose_runtime("auto", "bf16", machine=here).runtime == Runtime.torch
    assert choose_runtime("auto", "auto", compiled=True, machine=here).runtime == Runtime.torch
    assert choose_runtime("auto", "auto", machine=Machine(AVX2, None, x86=False)).runtime == Runtime.torch
    assert choose_runtime("openvino", "auto", machine=here).precision == Precision.int8
    assert choose_runtime("torch", "auto", machine=Machine(AMX, None, x86=True)).precision == Precision.bf16
    with pytest.raises(RuntimeUnavailableError, match="int8 runs on the openvino runtime"):
        choose_runtime("torch", "int8", machine=here)
    with pytest.raises(RuntimeUnavailableError, match="pip install openvino nncf"):
        choose_runtime("openvino", "fp32", machine=without)
    with pytest.raises(RuntimeUnavailableError, match="int8 needs the openvino runtime"):
        choose_runtime("auto", "int8", machine=without)
    with pytest.raises(InvalidArgumentError, match="--compile"):
        choose_runtime("openvino", "fp32", compiled=True, machine=here)
    with pytest.raises(InvalidArgumentError, match="runtime must be one of"):
        choose_runtime("onnx", machine=here)
    monkeypatch.setenv(RUNTIME_ENV, "torch")
    pinned = choose_runtime("auto", "auto", machine=here)
    assert pinned.runtime == Runtime.torch and RUNTIME_ENV in pinned.reason
    assert choose_runtime("openvino", "auto", machine=here).runtime == Runtime.openvino, "explicit beats the pin"


@pytest.fixture(scope="module")
def tiny() -> SentimentModel:
    return tiny_model()


def test_openvino_matches_torch_on_a_tiny_model(tiny: SentimentModel) -> None:
    images = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    with torch.inference_mode():
        reference = tiny(images.float() / 255.0)
    fp32 = OpenVinoNetwork(tiny, "fp32")(images)
    torch.testing.assert_close(fp32.main, reference.main, rtol=1e-4, atol=1e-5)
    assert list(fp32.aux) == list(tiny.blocks)
    for block in tiny.blocks:
        torch.testing.assert_close(fp32.aux[block], reference.aux[block], rtol=1e-4, atol=1e-5)
    int8 = OpenVinoNetwork(tiny, "int8")(images)
    scale = reference.main.abs().max()
    assert (int8.main - reference.main).abs().max() < 0.05 * scale, "int8 stays near float32"


def test_openvino_pooled_features_match_the_frozen_pass(tiny: SentimentModel) -> None:
    from sentilens.runtime.openvino_backend import OpenVinoFeatures
    from sentilens.training.frozen_pass import run_frozen

    images = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8)
    _, expected = run_frozen(tiny.backbone, images, tiny.backbone.block_names, None)
    features = OpenVinoFeatures(tiny.backbone, "fp32")(images)
    assert list(features) == [*tiny.backbone.block_names, "final"]
    for name, values in expected.items():
        torch.testing.assert_close(features[name], values, rtol=1e-4, atol=1e-5)


def test_damaged_int8_entry_is_rebuilt_and_computes_the_same(tiny: SentimentModel) -> None:
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    first = OpenVinoNetwork(tiny, "int8")
    expected = first(images).main
    weights = Path(first.cache_entry) / "model.bin"
    damaged = bytearray(weights.read_bytes())
    damaged[len(damaged) // 2] ^= 0x55
    weights.write_bytes(bytes(damaged))
    messages: list[str] = []
    second = OpenVinoNetwork(tiny, "int8", say=messages.append)
    assert any("damaged" in m for m in messages) and any("quantising" in m for m in messages)
    assert weights.read_bytes() != bytes(damaged)
    torch.testing.assert_close(second(images).main, expected)


def test_predictor_on_openvino_gives_the_torch_labels(tiny: SentimentModel, tmp_path: Path) -> None:
    paths = [write_image(tmp_path / f"{i}.png", seed=i, size=(40 + i, 36)) for i in range(7)]
    names = ["negative", "positive"]
    on_torch, _ = Predictor(
        tiny, names, RunSettings(runtime="torch", precision="fp32", batch_size=3, decode_threads=0)
    )(paths)
    predictor = Predictor(
        tiny, names, RunSettings(runtime="openvino", precision="fp32", batch_size=3, decode_threads=0)
    )
    on_openvino, _ = predictor(paths)
    assert predictor.choice.runtime == Runtime.openvino
    assert [p.label for p in on_openvino] == [p.label for p in on_torch]
    np.testing.assert_allclose(
        [p.positive_probability for p in on_openvino], [p.positive_probability for p in on_torch], atol=1e-5
    )


def test_cli_refuses_int8_on_torch_and_names_the_runtime(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from sentilens.cli import app

    image = write_image(tmp_path / "a.png", seed=1)
    refused = CliRunner().invoke(app, ["predict", str(image), "--runtime", "torch", "--precision", "int8"])
    assert refused.exit_code == 2 and "int8 runs on the openvino runtime" in refused.output
    assert CliRunner().invoke(app, ["predict", str(image), "--views", "3"]).exit_code == 2


def test_one_view_is_the_centre_crop(tmp_path: Path) -> None:
    import sentilens
    from sentilens.data.images import load_view, to_unit_range

    classifier = sentilens.load()
    image = write_image(tmp_path / "a.png", seed=3, size=(120, 90))
    on_torch = RunSettings(runtime=Runtime.torch, precision=Precision.fp32)
    (one,), _ = classifier.predict_with_skipped(image, replace(on_torch, views=("centre",)))
    (two,), _ = classifier.predict_with_skipped(image, replace(on_torch, views=("centre", "mirror")))
    with torch.inference_mode():
        centre = classifier.model.predict_proba(to_unit_range(load_view(image, 299)[None]))[0, 1]
    assert one.positive_probability == pytest.approx(float(centre), abs=1e-4)
    assert two.positive_probability != pytest.approx(one.positive_probability, abs=1e-6), "two views average"


@pytest.fixture(scope="module")
def twitter_sample(twitter_root: Path) -> list[Path]:
    """48 Twitter I images spread over the whole set."""
    from sentilens.data import load_twitter

    paths = list(load_twitter(twitter_root, "three").paths)
    return [paths[int(i)] for i in np.linspace(0, len(paths) - 1, 48)]


@pytest.mark.slow
def test_shipped_model_agrees_across_runtimes_on_real_images(twitter_sample: list[Path]) -> None:
    """Stated agreement with torch fp32 on 48 Twitter I images, two views: OpenVINO fp32 gives the
    same labels (probabilities within 1e-3), and so does int8 as ``predict`` runs it, close calls
    re-checked in fp32 (BENCHMARKS.md, "Runtimes": 100 % of all 1,269 images)."""
    import sentilens

    classifier = sentilens.load()
    runs = {}
    for runtime, precision in (("torch", "fp32"), ("openvino", "fp32"), ("openvino", "int8")):
        predictions, skipped = classifier.predict_with_skipped(
            twitter_sample, RunSettings(runtime=Runtime(runtime), precision=Precision(precision), decode_threads=0)
        )
        assert not skipped
        runs[f"{runtime} {precision}"] = predictions
    reference = runs["torch fp32"]
    for name in ("openvino fp32", "openvino int8"):
        assert [p.path for p in runs[name]] == [p.path for p in reference]
    fp32 = runs["openvino fp32"]
    assert [p.label for p in fp32] == [p.label for p in reference]
    np.testing.assert_allclose(
        [p.positive_probability for p in fp32], [p.positive_probability for p in reference], atol=1e-3
    )
    agree = sum(a.label == b.label for a, b in zip(runs["openvino int8"], reference))
    assert agree == len(reference), f"int8 agrees on {agree} of {len(reference)}"


@pytest.mark.slow
def test_default_predict_runs_on_the_auto_choice(twitter_sample: list[Path]) -> None:
    from typer.testing import CliRunner

    from sentilens.cli import app

    result = CliRunner().invoke(app, ["predict", *map(str, twitter_sample[:4]), "--format", "csv"])
    assert result.exit_code == 0, result.output
    choice = choose_runtime()
    assert f"runtime: {choice.runtime} {choice.precision}" in result.stderr
    assert len(result.stdout.strip().splitlines()) == 5


def test_int8_close_calls_are_classified_again_in_float32(tiny: SentimentModel, tmp_path: Path) -> None:
    paths = [write_image(tmp_path / f"{i}.png", seed=10 + i, size=(48, 40)) for i in range(6)]
    names = ["negative", "positive"]
    on_openvino = RunSettings(runtime="openvino", precision="fp32", batch_size=4, decode_threads=0)
    exact, _ = Predictor(tiny, names, on_openvino)(paths)
    predictor = Predictor(tiny, names, replace(on_openvino, precision="int8"))
    recorded = json.loads((Path(predictor.network.cache_entry) / "close_calls.json").read_text())
    assert predictor.recheck is not None and predictor.margin == recorded["margin"] > 0, "the calibration's margin"
    manifest = json.loads((Path(predictor.network.cache_entry) / MANIFEST).read_text())
    assert "close_calls.json" in manifest["files"], "the margin is verified with the rest of the entry"
    predictor.margin = 1.0  # every verdict is a close call
    everything, _ = predictor(paths)
    assert predictor.rechecked == len(paths)
    np.testing.assert_allclose(
        [p.positive_probability for p in everything], [p.positive_probability for p in exact], atol=1e-6
    )
    for rechecked, float32 in zip(everything, exact, strict=True):
        assert rechecked.head_probabilities == pytest.approx(float32.head_probabilities)
    predictor.margin, predictor.rechecked = 0.0, 0
    plain_int8, _ = Predictor(tiny, names, replace(on_openvino, precision="int8", decode_threads=None, recheck=False))(
        paths
    )
    none, _ = predictor(paths)
    assert predictor.rechecked == 0
    assert [p.positive_probability for p in none] == [p.positive_probability for p in plain_int8]
