"""The fused model: loss and fusion arithmetic, weight validation, one step lowers the loss."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sentilens.models import Architecture, HeadLogits, SentimentModel, build_model, create_backbone
from sentilens.training import TrainConfig


@pytest.fixture
def model() -> SentimentModel:
    torch.manual_seed(0)
    return SentimentModel(create_backbone("googlenet", "none"), blocks=["4a", "4d"], aux_weights=[0.1, 0.3])


def test_fusion_is_weighted_mean_of_probabilities(model: SentimentModel) -> None:
    logits = HeadLogits(
        main=torch.tensor([[2.0, 0.0]]),
        aux={"4a": torch.tensor([[0.0, 1.0]]), "4d": torch.tensor([[0.0, 3.0]])},
    )
    main, a, d = (F.softmax(t, 1) for t in (logits.main, logits.aux["4a"], logits.aux["4d"]))
    expected = (main + 0.1 * a + 0.3 * d) / 1.4
    fused = model.fuse(logits)
    torch.testing.assert_close(fused, expected)
    torch.testing.assert_close(fused.sum(1), torch.ones(1))


def test_loss_is_main_plus_weighted_aux(model: SentimentModel) -> None:
    logits = HeadLogits(main=torch.randn(4, 2), aux={"4a": torch.randn(4, 2), "4d": torch.randn(4, 2)})
    targets = torch.tensor([0, 1, 1, 0])
    expected = (
        F.cross_entropy(logits.main, targets)
        + 0.1 * F.cross_entropy(logits.aux["4a"], targets)
        + 0.3 * F.cross_entropy(logits.aux["4d"], targets)
    )
    torch.testing.assert_close(model.loss(logits, targets), expected)


def test_label_smoothing_mixes_each_target_with_the_uniform_distribution() -> None:
    """Smoothing 0.2 on two classes: each target is (0.9, 0.1) instead of (1, 0), in every head."""
    smoothed = build_model(Architecture(backbone="googlenet", weights="none", blocks=("4a",), label_smoothing=0.2))
    logits = HeadLogits(main=torch.tensor([[2.0, -1.0]]), aux={"4a": torch.tensor([[0.5, 0.0]])})
    targets = torch.tensor([0])

    def soft_ce(row: torch.Tensor) -> torch.Tensor:
        log_p = F.log_softmax(row, dim=1)[0]
        return -(0.9 * log_p[0] + 0.1 * log_p[1])

    expected = soft_ce(logits.main) + 0.1 * soft_ce(logits.aux["4a"])
    torch.testing.assert_close(smoothed.loss(logits, targets), expected)
    hard = build_model(Architecture(backbone="googlenet", weights="none", blocks=("4a",)))
    assert hard.loss(logits, targets) < smoothed.loss(logits, targets)


def test_label_smoothing_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="label_smoothing"):
        TrainConfig(label_smoothing=1.0)


def test_heads_follow_table_1(model: SentimentModel) -> None:
    assert model.aux_heads["4a"].linear.in_features == 512
    assert model.aux_heads["4d"].linear.in_features == 528
    assert model.main_head.linear.out_features == 2


@pytest.mark.parametrize(
    ("blocks", "weights", "message"),
    [(["4a"], [1.5], r"\[0, 1\]"), (["4a", "4b"], [0.1], "2 blocks but 1"), (["4a", "4a"], [0.1, 0.1], "twice")],
)
def test_bad_aux_weights_are_refused(blocks, weights, message) -> None:
    with pytest.raises(ValueError, match=message):
        SentimentModel(create_backbone("googlenet", "none"), blocks=blocks, aux_weights=weights)


def test_one_training_step_lowers_the_loss(model: SentimentModel) -> None:
    torch.manual_seed(1)
    images = torch.rand(4, 3, 224, 224)
    targets = torch.tensor([0, 1, 0, 1])
    model.eval()  # fixed batch-norm statistics and no dropout: the same loss function twice
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    before = model.loss(model(images), targets)
    optimizer.zero_grad()
    before.backward()
    optimizer.step()
    with torch.no_grad():
        after = model.loss(model(images), targets)
    assert after.item() < before.item()


def test_predict_proba_gives_probabilities(model: SentimentModel) -> None:
    probabilities = model.predict_proba(torch.rand(2, 3, 224, 224))
    assert probabilities.shape == (2, 2)
    torch.testing.assert_close(probabilities.sum(1), torch.ones(2))
