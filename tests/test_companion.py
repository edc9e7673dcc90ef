"""The companion network (issue 20): EfficientNet-Lite0 ported exactly, its read-out fitted as
scikit-learn fits it, its vote mixed in every path from image to verdict (torch, OpenVINO in
float32 and int8, the torch-free shortcut, cross-validation), and its checkpoint round trip."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegressionCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sentilens.data import Fold
from sentilens.evaluation import FoldOutcome, WithCompanion
from sentilens.models import (
    COMPANION,
    Architecture,
    HeadLogits,
    build_model,
    load_checkpoint,
    save_checkpoint,
)
from sentilens.models.backbones.efficientnet_lite import imagenet_classifier
from sentilens.runtime import Predictor, RunSettings, predict_by_shortcut, remember_network
from sentilens.runtime.openvino_backend import OpenVinoNetwork
from sentilens.training import COMPANION_CS, fit_read_out
from sentilens.utils import InvalidArgumentError

from .helpers import shortcut_facts, tiny_model, write_image

NAMES = ["negative", "positive"]


def test_the_port_reads_imagenet_weights_right() -> None:
    """The ported network with the package's own ImageNet classifier names scikit-image's photos."""
    from sentilens.data.images import centre_crop_resize, decode_image
    from sentilens.data.sample_photos import sample_images
    from sentilens.models import create_backbone

    photos = {path.stem: path for path in sample_images()}
    crops = [np.asarray(centre_crop_resize(decode_image(photos[name]), 224)) for name in ("chelsea", "coffee")]
    images = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255.0
    backbone = create_backbone("efficientnet_lite0")
    with torch.no_grad():
        pooled = backbone(backbone.normalize(images)).final.mean(dim=(2, 3))
        classes = imagenet_classifier()(pooled).argmax(dim=1).tolist()
    assert 281 <= classes[0] <= 285, "a cat class (tabby, tiger, Persian, Siamese, Egyptian)"
    assert classes[1] == 967, "espresso"


def test_fusing_mixes_the_companion_vote_with_its_weight() -> None:
    model = tiny_model(companion=True)
    images = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        logits = model(images)
        assert logits.companion is not None and list(logits.named()) == ["main", "a", "b", COMPANION]
        expected = 0.5 * model.heads_vote(logits) + 0.5 * logits.companion.softmax(dim=1)
        torch.testing.assert_close(model.fuse(logits), expected)
        assert not torch.allclose(model.fuse(logits), model.heads_vote(logits)), "the companion's vote counts"
        with pytest.raises(InvalidArgumentError, match="companion"):
            model.fuse(HeadLogits(logits.main, logits.aux))


def test_the_read_out_is_scikit_learns_regression_and_runs_in_torch() -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(90, 12)) * rng.uniform(0.5, 3.0, size=12) + rng.normal(size=12)
    labels = (features[:, 0] + 0.5 * features[:, 3] + rng.normal(scale=0.8, size=90) > features[:, 0].mean()).astype(
        int
    )
    read_out = fit_read_out(features, labels)
    reference = make_pipeline(StandardScaler(), LogisticRegressionCV(Cs=list(COMPANION_CS), cv=3, max_iter=5000))
    reference.fit(features, labels)
    np.testing.assert_allclose(read_out.probabilities(features), reference.predict_proba(features), atol=1e-6)
    assert read_out.c == pytest.approx(float(np.ravel(reference[-1].C_)[0]))

    model = tiny_model(companion=True)
    assert model.companion is not None
    model.companion.linear = torch.nn.Linear(12, 2)
    model.companion.mean, model.companion.scale = torch.zeros(12), torch.ones(12)
    read_out.install(model.companion)
    with torch.no_grad():
        logits = model.companion.read_out(torch.as_tensor(features, dtype=torch.float32))
    np.testing.assert_allclose(logits.softmax(dim=1).numpy(), read_out.probabilities(features), atol=1e-5)
    with pytest.raises(InvalidArgumentError, match="both classes"):
        fit_read_out(features, np.ones(90, dtype=int))


@dataclass
class FixedHeads:
    """A stand-in heads strategy: the same probabilities for every test image."""

    probabilities: np.ndarray
    name: str = "fixed"
    record: dict[str, Any] | None = None

    def prepare(self, folds: Any, n_folds: int, seed: int) -> None:
        """Nothing to prepare."""

    def __call__(self, fold: Fold, n_folds: int, seed: int) -> FoldOutcome:
        return FoldOutcome(np.tile(self.probabilities, (len(fold.test), 1)), {"heads": True})


def test_cross_validation_fits_the_read_out_on_the_training_fold_only() -> None:
    rng = np.random.default_rng(1)
    features = rng.normal(size=(60, 5))
    labels = (features[:, 1] > 0).astype(int)
    fold = Fold(0, tuple(range(40)), tuple(range(40, 60)))
    strategy = WithCompanion(FixedHeads(np.array([0.7, 0.3])), features, labels, 0.5, "efficientnet_lite0")
    outcome = strategy(fold, 3, 0)
    alone = fit_read_out(features[:40], labels[:40]).probabilities(features[40:])
    np.testing.assert_allclose(outcome.probabilities, 0.5 * np.array([0.7, 0.3]) + 0.5 * alone)
    assert outcome.details["heads"] and outcome.details["companion_C"] in COMPANION_CS
    leaked = fit_read_out(features, labels).probabilities(features[40:])
    assert not np.allclose(alone, leaked), "a read-out that saw the test rows would differ"


def test_checkpoint_keeps_the_read_out_not_the_network(tmp_path: Path) -> None:
    architecture = Architecture(
        backbone="googlenet", weights="none", blocks=("4a",), companion="efficientnet_lite0", companion_weight=0.4
    )
    torch.manual_seed(0)
    model = build_model(architecture)
    assert model.companion is not None
    width = model.companion.backbone.num_features
    model.companion.set_read_out(torch.rand(width), torch.rand(width) + 0.5, torch.randn(2, width) / 4, torch.ones(2))
    path = save_checkpoint(model, {**vars(architecture), "blocks": ["4a"]}, tmp_path / "m.pt", trained_from=None)
    stored = torch.load(path, weights_only=True)["state_dict"]
    assert not any(key.startswith("companion.backbone.") for key in stored)
    assert {"companion.mean", "companion.scale", "companion.linear.weight"} <= set(stored)
    loaded = load_checkpoint(path).model
    assert loaded.companion is not None and loaded.companion_weight == pytest.approx(0.4)
    images = torch.rand(2, 3, 64, 64)
    torch.testing.assert_close(loaded.predict_proba(images), model.predict_proba(images))


def test_every_runtime_gives_the_same_fused_verdict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """torch, OpenVINO float32 and int8 (the companion kept in float32) and the torch-free shortcut."""
    monkeypatch.setenv("SENTILENS_CACHE", str(tmp_path / "cache"))
    model = tiny_model(companion=True)
    paths = [write_image(tmp_path / f"{i}.png", seed=50 + i, size=(48, 40)) for i in range(5)]
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    with torch.inference_mode():
        reference = model(images.float() / 255.0)
    assert reference.companion is not None
    for precision in ("fp32", "int8"):
        network = OpenVinoNetwork(model, precision)(images)
        assert network.companion is not None
        torch.testing.assert_close(network.companion, reference.companion, rtol=1e-4, atol=1e-4)

    settings = RunSettings(runtime="openvino", precision="int8", batch_size=4, decode_threads=0)
    on_torch, _ = Predictor(model, NAMES, RunSettings(runtime="torch", precision="fp32", decode_threads=0))(paths)
    predictor = Predictor(model, NAMES, settings)
    on_int8, _ = predictor(paths)
    assert [p.label for p in on_int8] == [p.label for p in on_torch]
    for int8, exact in zip(on_int8, on_torch, strict=True):
        assert int8.head_probabilities[COMPANION] == pytest.approx(exact.head_probabilities[COMPANION], abs=1e-4)

    checkpoint = tmp_path / "stands-for-a-checkpoint.pt"
    checkpoint.write_bytes(b"the model above")
    facts = shortcut_facts(model, NAMES)
    remember_network(checkpoint, predictor.settings, predictor.choice, predictor.network, facts)
    found = predict_by_shortcut(checkpoint, paths, settings)
    assert found is not None
    by_shortcut, _ = found
    np.testing.assert_allclose(
        [p.positive_probability for p in by_shortcut], [p.positive_probability for p in on_int8], atol=1e-6
    )
    assert all(COMPANION in p.head_probabilities for p in by_shortcut)
