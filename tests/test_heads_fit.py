"""The frozen-mode trainer that trains several models' heads at once (training/heads_fit.py)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from sentilens.models import Architecture, build_model
from sentilens.training import FrozenOutputs, HeadsJob, TrainConfig, fit_heads, predict_cached
from sentilens.training.heads_fit import _AdamW, _HeadStack, keep_threshold

N = 40
CONFIG = TrainConfig(backbone="googlenet", weights="none", blocks=("4b",), epochs=4, lr=1e-2, device="cpu")
LABELS = np.arange(N) % 2


@pytest.fixture(scope="module")
def cache() -> FrozenOutputs:
    """GoogLeNet-shaped pooled features of block 4b and the final map, a few channels carrying the label."""
    rng = np.random.default_rng(0)
    channels = build_model(CONFIG.architecture).backbone.block_channels
    pooled = {}
    for view in ("centre", "mirror"):
        features = {}
        for name, count in {"4b": channels["4b"], "final": channels["5b"]}.items():
            values = rng.normal(size=(N, count)).astype(np.float32)
            values[:, :8] += 1.5 * (LABELS[:, None] * 2 - 1)
            features[name] = torch.from_numpy(values)
        pooled[view] = features
    return FrozenOutputs(None, {}, pooled)


def fresh_model(seed: int, architecture: Architecture = CONFIG.architecture) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model(architecture)


def head_tensors(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for name, p in model.named_parameters() if "head" in name]


def test_a_model_trained_with_others_is_the_model_trained_alone(cache: FrozenOutputs) -> None:
    """Fold independence: the jobs differ in images (and so in steps per epoch: 33 vs 20 images in
    batches of 8 sit out different steps) and in blocks; each gives what it gives alone."""
    config = replace(CONFIG, batch_size=8)
    two_blocks = replace(CONFIG, blocks=("4b", "4c"), aux_weights=(0.1, 0.3)).architecture
    channels = build_model(two_blocks).backbone.block_channels
    rng = np.random.default_rng(3)
    cache.pooled["centre"]["4c"] = torch.from_numpy(rng.normal(size=(N, channels["4c"])).astype(np.float32))
    cache.pooled["mirror"]["4c"] = torch.from_numpy(rng.normal(size=(N, channels["4c"])).astype(np.float32))
    first, second = list(range(33)), list(range(20, 40))

    def jobs() -> list[HeadsJob]:
        return [
            HeadsJob(fresh_model(1), first, LABELS[first], seed=11),
            HeadsJob(fresh_model(2, two_blocks), second, LABELS[second], seed=12),
        ]

    together = jobs()
    losses = fit_heads(together, cache, config)
    for number, job in enumerate(jobs()):
        alone = fit_heads([job], cache, config)
        assert np.allclose(alone[0], losses[number], atol=1e-6)
        for mine, theirs in zip(head_tensors(job.model), head_tensors(together[number].model)):
            assert torch.allclose(mine, theirs, atol=1e-6)
    assert not torch.allclose(head_tensors(together[0].model)[0], head_tensors(fresh_model(1))[0])


def test_heads_learn_the_label_and_the_seed_matters(cache: FrozenOutputs) -> None:
    rows = list(range(N))
    models = [fresh_model(0), fresh_model(0)]
    losses = fit_heads([HeadsJob(models[0], rows, LABELS, 1), HeadsJob(models[1], rows, LABELS, 2)], cache, CONFIG)
    assert losses[0][-1] < losses[0][0]
    accuracy = (predict_cached(models[0], cache, rows).argmax(axis=1) == LABELS).mean()
    assert accuracy > 0.9
    assert not torch.allclose(head_tensors(models[0])[0], head_tensors(models[1])[0])


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_the_written_out_gradient_is_autograds(smoothing: float) -> None:
    torch.manual_seed(0)
    architecture = replace(CONFIG, label_smoothing=smoothing).architecture
    jobs = [HeadsJob(fresh_model(seed, architecture), [0], [0], seed) for seed in (0, 1)]
    stack = _HeadStack("final", jobs, [0, 1], 0, torch.device("cpu"))
    flat = stack.initial.clone().requires_grad_()
    kept = torch.randn(2, 5, stack.channels) * (torch.rand(2, 5, stack.channels) > 0.5)
    targets = torch.randint(2, (2, 5))
    sample_weights = torch.tensor([[0.25] * 4 + [0.0], [0.2] * 5])
    loss, weight_grad, bias_grad = stack.loss_and_gradient(flat.detach(), kept, targets, sample_weights)
    weight, bias = stack.parts(flat)
    logits = torch.bmm(kept, weight.transpose(1, 2)) * stack.scales + bias.unsqueeze(1)
    entropy = torch.nn.functional.cross_entropy(
        logits.flatten(0, 1), targets.flatten(), reduction="none", label_smoothing=smoothing
    )
    expected = (entropy.view(2, 5) * sample_weights).sum(dim=1)
    expected.sum().backward()
    assert flat.grad is not None
    expected_weight, expected_bias = stack.parts(flat.grad)
    assert torch.allclose(loss, expected.detach(), atol=1e-6)
    assert torch.allclose(weight_grad, expected_weight, atol=1e-6)
    assert torch.allclose(bias_grad, expected_bias, atol=1e-6)


def test_the_vectorised_adamw_is_torchs_and_a_job_sitting_out_is_left_alone() -> None:
    torch.manual_seed(0)
    start = torch.randn(6)
    owner = torch.tensor([0, 0, 0, 1, 1, 1])
    ours = _AdamW(start.clone(), owner, weight_decay=0.01)
    reference = start.clone().requires_grad_()
    torch_adamw = torch.optim.AdamW([reference], lr=0.1, weight_decay=0.01)
    for step in range(1, 4):
        gradient = torch.randn(6)
        ours.grad.copy_(gradient)
        active = torch.tensor([True, step != 2])
        frozen = ours.param[3:].clone()
        ours.step(torch.tensor([0.1, 0.1]), torch.tensor([float(step), float(step - (step > 2))]), active)
        reference.grad = gradient.clone()
        torch_adamw.step()
        assert torch.allclose(ours.param[:3], reference.detach()[:3], atol=1e-6)
        if step == 2:
            assert torch.equal(ours.param[3:], frozen)


def test_dropout_keeps_units_at_the_asked_rate() -> None:
    threshold, scale = keep_threshold(0.5)
    assert (threshold, scale) == (0, 2.0)
    threshold, scale = keep_threshold(0.2)
    assert abs((threshold + 32768) / 65536 - 0.8) < 1e-4 and abs(scale - 1.25) < 1e-3
