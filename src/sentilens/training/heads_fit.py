"""Train the heads of several frozen-backbone models at once, each exactly as if it trained alone.

In frozen mode a training step is a handful of tiny matrix products on cached pooled features, and
a per-model loop spent its time elsewhere: Python and autograd overhead per step, and the random
numbers of dropout (CPU ``bernoulli_`` draws about 17 ns an element).  Here the models of a
cross-validation's folds (*jobs*) share each step: the heads of one name (the final map's, or one
block's) are stacked across the jobs that have it and run as one batched product, and a vectorised
AdamW steps them all.  Each job still has its own training images, seed, generator, batch order,
learning-rate schedule and optimizer state, so what a job learns depends on its own inputs alone:
a fold trained alone or with the others gives the same model (up to float summation order), which
keeps the fold loop's promise that a fold's model is a function of (seed, fold).

The heads' forward pass and the loss are written out here, batched over jobs, rather than called
per model: they are :class:`~sentilens.models.heads.ClassifierHead`'s (dropout, linear; the
features are already pooled) and :meth:`~sentilens.models.SentimentModel.loss`'s (main
cross-entropy plus each auxiliary one times its weight, batch means).  Each job draws an epoch's
dropout at once, as 16-bit random integers: a unit is kept with probability
``round((1 - p) * 65536) / 65536`` (exactly ``1 - p`` for the default 0.5) and scaled by its
inverse, as :class:`torch.nn.Dropout` does.  Measured in BENCHMARKS.md, "Frozen heads, trained
together".
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from sentilens.models import ClassifierHead, SentimentModel
from sentilens.training.config import TrainConfig
from sentilens.training.frozen_pass import FINAL, FrozenOutputs
from sentilens.utils.errors import InvalidArgumentError
from sentilens.utils.progress import track

#: Resolution of the dropout draw: 16-bit integers.
_DRAW_LEVELS = 1 << 16


@dataclass
class HeadsJob:
    """One model whose heads learn on the cached samples ``indices`` with ``labels``, drawing its
    batch order, views and dropout from a generator seeded with ``seed``."""

    model: SentimentModel
    indices: Sequence[int]
    labels: npt.ArrayLike
    seed: int

    def head_names(self) -> tuple[str, ...]:
        return (FINAL, *self.model.blocks)

    def head(self, name: str) -> ClassifierHead:
        head = self.model.main_head if name == FINAL else self.model.aux_heads[name]
        assert isinstance(head, ClassifierHead)
        return head


def keep_threshold(dropout: float) -> tuple[int, float]:
    """The signed 16-bit threshold below which a unit is kept, and the scale of kept units."""
    kept = round((1.0 - dropout) * _DRAW_LEVELS)
    if kept == 0:
        raise InvalidArgumentError(f"dropout {dropout} drops every unit")
    return kept - _DRAW_LEVELS // 2, _DRAW_LEVELS / kept


class _JobState:
    """One job's images, generator and schedule."""

    def __init__(self, job: HeadsJob, batch_size: int, epochs: int) -> None:
        self.job = job
        self.rows = torch.as_tensor(list(job.indices), dtype=torch.long)
        self.targets = torch.as_tensor(np.asarray(job.labels), dtype=torch.long)
        if len(self.rows) == 0 or len(self.rows) != len(self.targets):
            raise InvalidArgumentError(f"a training job needs one label per image, got {len(self.rows)} images")
        self.generator = torch.Generator().manual_seed(job.seed)
        self.steps_per_epoch = -(-len(self.rows) // batch_size)
        self.total_steps = epochs * self.steps_per_epoch


@dataclass
class _Epoch:
    """Every job's draws for one epoch, padded to ``(jobs, steps, batch)``: which cached row and
    view each sample reads, its label and loss weight (``1 / batch size``, 0 for padding), and per
    head name the dropout masks ``(jobs with that head, steps, batch, channels)``: 1 where a unit
    is kept, 0 where it is dropped."""

    rows: torch.Tensor
    views: torch.Tensor
    targets: torch.Tensor
    weights: torch.Tensor
    active: torch.Tensor
    keep: dict[str, torch.Tensor]


def _draw_epoch(
    states: Sequence[_JobState], stacks: Sequence[_HeadStack], channels: dict[str, int], n_views: int, batch: int
) -> _Epoch:
    """Each job draws its epoch from its own generator: the order, a view per sample, the dropout
    of every head (one call each, so the per-step loop does no drawing)."""
    longest = max(state.steps_per_epoch for state in states)
    shape = (len(states), longest * batch)
    rows, views, targets = (torch.zeros(shape, dtype=torch.long) for _ in range(3))
    weights = torch.zeros(shape)
    active = torch.zeros((len(states), longest), dtype=torch.bool)
    kept: list[np.ndarray] = []
    for slot, state in enumerate(states):
        count = len(state.rows)
        order = torch.randperm(count, generator=state.generator)
        rows[slot, :count] = state.rows[order]
        targets[slot, :count] = state.targets[order]
        views[slot, :count] = torch.randint(n_views, (count,), generator=state.generator)
        sizes = torch.full((state.steps_per_epoch,), batch)
        sizes[-1] = count - batch * (state.steps_per_epoch - 1)
        weights[slot, :count] = (1.0 / sizes).repeat_interleave(sizes)
        active[slot, : state.steps_per_epoch] = True
        threshold, _ = keep_threshold(state.job.model.main_head.dropout.p)
        width = sum(channels[name] for name in state.job.head_names())
        draws = _draw_int16(state.steps_per_epoch * batch * width, state.generator).numpy()
        # compared and converted in numpy: torch's CPU kernels for bool and int16 tensors are
        # several times slower than its float ones (measured: masked_fill 2.6 ms, float mul 0.1 ms)
        kept.append((draws < threshold).astype(np.float32).reshape(state.steps_per_epoch, batch, width))
    keep = {}
    for stack in stacks:
        masks = torch.zeros((len(stack.slots), longest, batch, channels[stack.name]))
        for position, slot in enumerate(stack.slots.tolist()):
            names = states[slot].job.head_names()
            start = sum(channels[name] for name in names[: names.index(stack.name)])
            part = kept[slot][..., start : start + channels[stack.name]]
            masks[position, : states[slot].steps_per_epoch] = torch.from_numpy(part)
        keep[stack.name] = masks
    split = (len(states), longest, batch)
    return _Epoch(rows.view(split), views.view(split), targets.view(split), weights.view(split), active, keep)


class _HeadStack:
    """Where the heads of one name, across the jobs that have it, live in the flat parameter."""

    def __init__(self, name: str, jobs: Sequence[HeadsJob], slots: Sequence[int], offset: int, device: torch.device):
        self.name = name
        self.slots = torch.as_tensor(list(slots), dtype=torch.long, device=device)
        self.position = {slot: position for position, slot in enumerate(slots)}
        heads = [jobs[slot].head(name) for slot in slots]
        self.classes, self.channels = heads[0].linear.weight.shape
        self.initial = torch.cat(
            [torch.stack([head.linear.weight.detach() for head in heads]).flatten()]
            + [torch.stack([head.linear.bias.detach() for head in heads]).flatten()]
        )
        self.offset = offset
        self.owner = torch.cat(
            [self.slots.repeat_interleave(self.classes * self.channels), self.slots.repeat_interleave(self.classes)]
        )
        scales = [keep_threshold(head.dropout.p)[1] for head in heads]
        self.scales = torch.tensor(scales, device=device).view(-1, 1, 1)
        votes = [
            1.0 if name == FINAL else jobs[slot].model.aux_weights[jobs[slot].model.blocks.index(name)]
            for slot in slots
        ]
        self.votes = torch.tensor(votes, device=device)
        smoothing = [jobs[slot].model.label_smoothing for slot in slots]
        self.smoothing = torch.tensor(smoothing, device=device).view(-1, 1, 1)

    def parts(self, flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Views of ``flat``: the stacked weights ``(jobs, classes, channels)`` and biases ``(jobs, classes)``."""
        jobs = len(self.slots)
        size = jobs * self.classes * self.channels
        weight = flat[self.offset : self.offset + size].view(jobs, self.classes, self.channels)
        bias = flat[self.offset + size : self.offset + size + jobs * self.classes].view(jobs, self.classes)
        return weight, bias

    def loss_and_gradient(
        self, flat: torch.Tensor, kept: torch.Tensor, targets: torch.Tensor, sample_weights: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Each job's weighted cross-entropy of these heads and its gradient for the weights and biases.

        ``kept``: ``(jobs, batch, channels)`` pooled features with dropout's zeros (not yet scaled
        up: the scale is applied to the product, the same on fewer numbers); ``sample_weights``:
        ``(jobs, batch)``, ``1 / batch size`` (0 for padding).  The targets are smoothed by each
        model's ``label_smoothing``, as :func:`torch.nn.functional.cross_entropy` smooths them.  The
        gradient is the textbook one of softmax cross-entropy after a linear layer (``softmax -
        targets``), written out because autograd's engine cost four times the arithmetic of these
        tiny products; the tests check it against autograd.
        """
        weight, bias = self.parts(flat)
        logits = torch.bmm(kept, weight.transpose(1, 2)) * self.scales + bias.unsqueeze(1)
        log_probs = logits.log_softmax(dim=2)
        hard = torch.zeros_like(log_probs).scatter_(2, targets.unsqueeze(2), 1.0)
        wanted = hard * (1.0 - self.smoothing) + self.smoothing / self.classes
        coefficient = sample_weights * self.votes.unsqueeze(1)
        loss = (-(wanted * log_probs).sum(dim=2) * coefficient).sum(dim=1)
        logit_grad = (log_probs.exp_() - wanted).mul_(coefficient.unsqueeze(2))
        weight_grad = torch.bmm(logit_grad.transpose(1, 2), kept).mul_(self.scales)
        return loss, weight_grad, logit_grad.sum(dim=1)

    @torch.no_grad()
    def write_back(self, flat: torch.Tensor, jobs: Sequence[HeadsJob]) -> None:
        weight, bias = self.parts(flat)
        for position, slot in enumerate(self.slots.tolist()):
            linear = jobs[slot].head(self.name).linear
            linear.weight.copy_(weight[position])
            linear.bias.copy_(bias[position])


class _AdamW:
    """AdamW (:class:`torch.optim.AdamW`'s update, default betas and eps) over one flat parameter
    whose elements belong to different jobs; the step's gradient is written into :attr:`grad`.

    Written out because each job has its own learning rate and step count, and a job whose epoch
    has ended must sit a step out entirely (no decay, no moment update), which one
    :class:`torch.optim.AdamW` over shared tensors cannot express.
    """

    betas = (0.9, 0.999)
    eps = 1e-8

    def __init__(self, param: torch.Tensor, owner: torch.Tensor, weight_decay: float) -> None:
        self.param, self.owner, self.weight_decay = param, owner, weight_decay
        self.grad = torch.zeros_like(param)
        self.mean = torch.zeros_like(param)
        self.square = torch.zeros_like(param)

    @torch.no_grad()
    def step(self, lr: torch.Tensor, steps: torch.Tensor, active: torch.Tensor) -> None:
        """One update of the active jobs' elements (``lr``, ``steps``, ``active``: one entry per job;
        ``steps`` counts this one)."""
        beta1, beta2 = self.betas
        grad = self.grad
        on = active.float()
        # per job: decay of the moments (1 when sitting out), weight of the new gradient (0 then),
        # the parameter's decay factor, the step size and the second moment's bias correction
        per_job = torch.stack(
            [
                1 - (1 - beta1) * on,
                (1 - beta1) * on,
                1 - (1 - beta2) * on,
                (1 - beta2) * on,
                1 - lr * self.weight_decay * on,
                lr * on / (1 - beta1**steps),
                (1 - beta2**steps).rsqrt(),
            ],
            dim=1,
        )
        keep1, take1, keep2, take2, decay, step_size, correction = per_job[self.owner].unbind(dim=1)
        self.mean.mul_(keep1).addcmul_(grad, take1)
        self.square.mul_(keep2).addcmul_(grad * grad, take2)
        denom = self.square.sqrt().mul_(correction).add_(self.eps)
        self.param.mul_(decay).sub_(step_size * self.mean / denom)


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread inside the block: the heads' operations are so small that a second
    thread only adds synchronisation, which cost ten times the work on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def fit_heads(
    jobs: Sequence[HeadsJob],
    cache: FrozenOutputs,
    config: TrainConfig,
    description: str = "training",
) -> list[list[float]]:
    """Train every job's heads on the frozen ``cache`` with ``config``'s schedule; return each
    job's mean loss per epoch.

    The schedule is :func:`~sentilens.training.trainer.fit`'s: AdamW (heads at ``config.lr``),
    cosine decay over the job's own steps, one of ``config.train_views`` drawn per sample,
    dropout in every head, ``config.epochs`` passes over the job's images in batches of
    ``config.batch_size``; the loss is :meth:`~sentilens.models.SentimentModel.loss` (the main
    head's cross-entropy plus each auxiliary one times its weight, batch means).
    """
    if cache.boundary is not None or cache.recompute:
        raise InvalidArgumentError("heads train together only on a frozen cache of pooled features")
    if not jobs:
        return []
    device = jobs[0].model.main_head.linear.weight.device
    views = config.train_views
    states = [_JobState(job, config.batch_size, config.num_epochs) for job in jobs]
    names = list(dict.fromkeys(name for job in jobs for name in job.head_names()))
    stacks: list[_HeadStack] = []
    offset = 0
    for name in names:
        slots = [slot for slot, job in enumerate(jobs) if name in job.head_names()]
        stacks.append(_HeadStack(name, jobs, slots, offset, device))
        offset += len(stacks[-1].initial)
    flat = torch.cat([stack.initial for stack in stacks])
    optimizer = _AdamW(flat, torch.cat([stack.owner for stack in stacks]), config.weight_decay)
    images = len(cache)
    tables = {name: torch.cat([cache.pooled[view][name] for view in views]).to(device).float() for name in names}
    channels = {name: table.shape[-1] for name, table in tables.items()}
    total_steps = torch.tensor([state.total_steps for state in states], dtype=torch.float32, device=device)
    steps_done = torch.zeros(len(jobs), device=device)
    losses: list[list[float]] = [[] for _ in jobs]
    with one_thread():
        for _ in track(range(config.num_epochs), total=config.num_epochs, description=description):
            epoch = _draw_epoch(states, stacks, channels, len(views), config.batch_size)
            epoch_loss = torch.zeros(len(jobs), device=device)
            for step in range(epoch.active.shape[1]):
                active = epoch.active[:, step].to(device)
                step_loss = _train_step(epoch, step, stacks, flat, optimizer.grad, tables, images, device)
                lr = config.lr * (1.0 + torch.cos(math.pi * steps_done / total_steps)) / 2.0
                steps_done += active
                optimizer.step(lr, steps_done, active)
                epoch_loss += step_loss
            for number, state in enumerate(states):
                losses[number].append(float(epoch_loss[number]) / len(state.rows))
    for stack in stacks:
        stack.write_back(flat, jobs)
    return losses


def _train_step(
    epoch: _Epoch,
    step: int,
    stacks: Sequence[_HeadStack],
    flat: torch.Tensor,
    grad: torch.Tensor,
    tables: dict[str, torch.Tensor],
    images: int,
    device: torch.device,
) -> torch.Tensor:
    """The forward pass of ``step`` for every job and its gradient (written into ``grad``, laid out
    as ``flat``); each job's summed loss over the step's samples.  ``tables`` hold each head's
    pooled features of every view, one view's ``images`` rows after the other."""
    rows, views = epoch.rows[:, step].to(device), epoch.views[:, step].to(device)
    targets, weights = epoch.targets[:, step].to(device), epoch.weights[:, step].to(device)
    per_job = torch.zeros(len(rows), device=device)
    for stack in stacks:
        table = tables[stack.name]
        features = table.index_select(0, (views[stack.slots] * images + rows[stack.slots]).flatten())
        kept = features.view(len(stack.slots), -1, table.shape[-1]) * epoch.keep[stack.name][:, step].to(device)
        loss, weight_grad, bias_grad = stack.loss_and_gradient(flat, kept, targets[stack.slots], weights[stack.slots])
        per_job.index_add_(0, stack.slots, loss)
        grad_weight, grad_bias = stack.parts(grad)
        grad_weight.copy_(weight_grad)
        grad_bias.copy_(bias_grad)
    return per_job * (weights > 0).sum(dim=1)


def _draw_int16(count: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` uniform signed 16-bit integers (drawn four to a 64-bit integer: the CPU generator's
    cost is per draw)."""
    words = torch.randint(-(2**63), 2**63 - 1, (-(-count // 4),), dtype=torch.int64, generator=generator)
    return words.view(torch.int16)[:count]
