"""The shipped default model classifies Twitter I images well, and the check would catch one that does not.

The model was trained on all of Twitter I (three agree, which holds five agree), so on five-agree
images it scores its training accuracy: a checkpoint whose heads (and companion read-out) were
lost, left at their random initialisation or trained on shuffled labels scores near chance.  The
bounds sit well below what the shipped model scores on the sample (accuracy 0.94, ROC-AUC 0.99 when
written, before the companion) and well above what re-initialised heads on the same backbone
score (at most 0.69 and 0.75 over 30 seeds).
The shipped model's probabilities are calibrated (its temperature, issue 20): calibration keeps
the order of the images and the side of 0.5 each falls on, so accuracy and ROC-AUC are those of
the fused vote; the check compares the calibrated probabilities, as ``predict_proba`` gives them.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import sentilens
from sentilens.data import load_twitter, load_view, to_unit_range
from sentilens.models import SentimentModel

#: Images drawn per class from five agree (balanced, so chance accuracy is 0.5), and the draw's seed.
PER_CLASS = 16
SAMPLE_SEED = 19
MIN_ACCURACY = 0.8
MIN_ROC_AUC = 0.9


@pytest.fixture(scope="module")
def model() -> SentimentModel:
    return sentilens.load().model


@pytest.fixture(scope="module")
def sample(model: SentimentModel, twitter_root: Path) -> tuple[torch.Tensor, np.ndarray]:
    """Centre crops (one view, RGB in [0, 1]) of a fixed seeded sample of five-agree images, and their labels."""
    data = load_twitter(twitter_root, "five")
    labels = np.asarray(data.labels)
    rng = np.random.default_rng(SAMPLE_SEED)
    chosen = np.concatenate([rng.choice(np.flatnonzero(labels == c), PER_CLASS, replace=False) for c in (0, 1)])
    size = model.backbone.input_size
    crops = torch.stack([load_view(data.paths[i], size) for i in chosen])
    return to_unit_range(crops), labels[chosen]


def accuracy_and_auc(positive_probability: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Accuracy of the 0.5 threshold and ROC-AUC, computed here rather than by sentilens."""
    accuracy = float(np.mean((positive_probability > 0.5) == (labels == 1)))
    return accuracy, float(roc_auc_score(labels, positive_probability))


def test_shipped_model_classifies_twitter_images_and_random_heads_do_not(
    model: SentimentModel, sample: tuple[torch.Tensor, np.ndarray]
) -> None:
    images, labels = sample
    with torch.no_grad():  # the backbone runs once; both sets of heads read the same features
        features = model.backbone(model.backbone.normalize(images), blocks=model.blocks)
        assert model.companion is not None, "the shipped model has a companion network (issue 20)"
        pooled = model.companion.features(images)
        companion = model.companion.read_out(pooled)
        fused = model.fuse(model.heads_forward(features.final, features.blocks, companion))
        shipped = model.calibrate(fused)[:, 1].numpy()
        np.testing.assert_allclose(shipped[:2], model.predict_proba(images[:2])[:, 1].numpy(), atol=1e-5)
    accuracy, auc = accuracy_and_auc(shipped, labels)
    assert accuracy >= MIN_ACCURACY and auc >= MIN_ROC_AUC, f"shipped model: accuracy {accuracy:.3f}, ROC-AUC {auc:.3f}"

    # Negative control: the same networks with re-initialised heads and read-out must fail both bounds.
    fresh = copy.deepcopy(model)
    assert fresh.companion is not None
    with torch.random.fork_rng():
        torch.manual_seed(0)
        for linear in (fresh.main_head.linear, *(h.linear for h in fresh.aux_heads.values()), fresh.companion.linear):
            linear.reset_parameters()
    with torch.no_grad():
        random_logits = fresh.heads_forward(features.final, features.blocks, fresh.companion.read_out(pooled))
        random_heads = fresh.fuse(random_logits)[:, 1].numpy()
    accuracy, auc = accuracy_and_auc(random_heads, labels)
    assert accuracy < MIN_ACCURACY and auc < MIN_ROC_AUC, f"random heads: accuracy {accuracy:.3f}, ROC-AUC {auc:.3f}"
