"""Per-block evidence of how well a block separates the sentiments, a ranking and a suggested set.

The paper's person compares neuron-group pictures of positive and negative images block by block
and picks the blocks where they differ most.  Two numbers stand in for that judgement here, both
computed on the frozen backbone (centre view, no training of the backbone):

* **probe accuracy**: the cross-validated accuracy of a linear probe (standardised features,
  scikit-learn ``LogisticRegression``) on the block's globally average-pooled map, which is exactly
  what an auxiliary head reads.  The folds are :func:`~sentilens.data.make_folds`' (grouped
  by content, stratified), so the numbers line up with ``sentilens cv`` and the experiments.
* **NMF separation**: every image's block map is factorised with ``r = 1`` (paper eq. 4); the
  group's channel weights ``v`` are scaled to sum to 1,
  so ``v`` says *which* channels make up the image's neuron group (what eq. 5 draws).  The score
  is the squared distance between the positive and the negative class mean of ``v``, minus its
  sampling bias ``tr S+ / n+ + tr S- / n-``, divided by the pooled within-class variance
  ``(tr S+ + tr S-) / 2`` (``S`` the class covariance).  It is about 0 when the two classes'
  groups are drawn from the same distribution and grows as their pictures differ.

The **ranking** orders blocks by the mean of their rank under each number (a Borda count; ties go
to the higher probe accuracy).  The **suggested set** is the ``k`` best-ranked blocks (the paper
chose three), leaving out the backbone's last block: its pooled map is already what the main
classifier reads, so a head there adds no new evidence.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from scipy.stats import rankdata
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sentilens.data import ImageDecodeError, LabelledImages, make_folds
from sentilens.data.choices import OnError
from sentilens.data.decoding import DecodeFailure
from sentilens.models import DEFAULT_AUX_WEIGHT
from sentilens.models.backbones import Backbone
from sentilens.training import TrainConfig
from sentilens.training.feature_store import POOLED, MapSummary, block_features
from sentilens.utils.errors import SentilensError
from sentilens.utils.progress import Say, quiet


class SelectionError(SentilensError, ValueError):
    """A block selection that cannot become a training config (e.g. nothing selected)."""


@dataclass
class BlockFeatures:
    """What the frozen backbone gives per block for the probe images (centre view).

    Attributes:
        pooled: block -> ``(N, C)`` globally average-pooled maps.
        factors: block -> ``(N, C)`` rank-1 NMF channel weights, each row summing to 1 (or all 0
            for an image whose map is all zero).
        where: block -> ``(N, m, n)`` where that group fires (:func:`rank_one_where`), when asked
            for (empty otherwise).
    """

    pooled: dict[str, np.ndarray]
    factors: dict[str, np.ndarray]
    where: dict[str, np.ndarray] = field(default_factory=dict)


#: The name under which the block-feature store keeps :func:`rank_one_channel_weights`.
NMF_WEIGHTS = "nmf-rank1"
#: The name under which the block-feature store keeps :func:`rank_one_where`.
NMF_WHERE = "nmf-rank1-where"


def evidence_features(
    backbone: Backbone,
    dataset: LabelledImages,
    blocks: Sequence[str] | None = None,
    store_dir: str | Path | None = None,
    chunk: int = 128,
    say: Say = quiet,
    where: bool = False,
) -> tuple[LabelledImages, BlockFeatures, tuple[DecodeFailure, ...]]:
    """Pooled maps and rank-1 NMF weights of ``blocks`` (default all), centre view, for the images
    of ``dataset`` that decode, from the block-feature store
    (:func:`~sentilens.training.feature_store.block_features`; stored images are not decoded again);
    with ``where``, also where each image's rank-1 group fires (for reference profiles).

    Returns the images that decoded (as a dataset, in the original order), their features and the
    decoding failures (indices into ``dataset``).
    """
    blocks = tuple(blocks) if blocks is not None else backbone.block_names
    backbone.check_blocks(blocks)
    summaries: dict[str, MapSummary] = {NMF_WEIGHTS: rank_one_channel_weights}
    grids = backbone.block_grids() if where else {}
    if where:
        summaries[NMF_WHERE] = rank_one_where
    stored = block_features(
        backbone,
        dataset.paths,
        views=("centre",),
        summaries=summaries,
        on_error=OnError.skip,
        chunk=chunk,
        store_dir=store_dir,
        say=say,
        widths={NMF_WHERE: {block: m * n for block, (m, n) in grids.items()}},
    )
    if not stored.kept:
        first = stored.failures[0].reason if stored.failures else "no images"
        raise ImageDecodeError(f"{dataset.name}: none of the {len(dataset)} images could be decoded (first: {first})")
    centre = stored.values["centre"]
    features = BlockFeatures(
        pooled={t: centre[POOLED][t].numpy() for t in blocks},
        factors={t: centre[NMF_WEIGHTS][t].numpy() for t in blocks},
        where={t: centre[NMF_WHERE][t].numpy().reshape(-1, *grids[t]) for t in blocks} if where else {},
    )
    usable = dataset if len(stored.kept) == len(dataset) else dataset.subset(list(stored.kept))
    return usable, features, stored.failures


def _leading_vectors(matrices: torch.Tensor, iterations: int, tolerance: float) -> torch.Tensor:
    """Unit right singular vectors ``(N, t)`` of non-negative matrices ``(N, m n, t)`` (power iteration)."""
    start = matrices.mean(dim=1)
    vectors: torch.Tensor = start / start.norm(dim=1, keepdim=True).clamp_min(1e-30)
    for _ in range(iterations):
        updated = torch.bmm(matrices.transpose(1, 2), torch.bmm(matrices, vectors.unsqueeze(-1))).squeeze(-1)
        updated = updated / updated.norm(dim=1, keepdim=True).clamp_min(1e-30)
        change = float((updated - vectors).abs().max())
        vectors = updated
        if change < tolerance:
            break
    return vectors


def rank_one_channel_weights(maps: torch.Tensor, iterations: int = 200, tolerance: float = 1e-6) -> np.ndarray:
    """Channel weights ``v`` of the rank-1 NMF of each map ``(N, t, m, n)``, scaled to sum to 1.

    For a non-negative matrix the leading singular vectors can be taken non-negative
    (Perron-Frobenius), so the best rank-1 approximation is itself a non-negative factorisation:
    the rank-1 NMF *is* the leading singular pair (what :func:`sentilens.explain.factorise`
    converges to, starting from that very pair with ``nndsvda``).  The right singular vector
    comes from power iteration on ``B^T B`` (two matrix-vector products per step, batched over
    images, in float32), started from the mean row, which is already close: on Inception maps it
    converges in a few steps and costs a small fraction of forming the Gram matrix and
    decomposing it.  An all-zero map gives all-zero weights.
    """
    matrices = maps.detach().flatten(2).transpose(1, 2).float().clamp_min(0)  # (N, m n, t)
    vectors = _leading_vectors(matrices, iterations, tolerance)
    totals = vectors.sum(dim=1, keepdim=True)
    weights = torch.where(totals > 0, vectors / totals.clamp_min(1e-30), torch.zeros_like(vectors))
    weights[matrices.flatten(1).amax(dim=1) == 0] = 0
    result: np.ndarray = weights.numpy()
    return result


def rank_one_where(maps: torch.Tensor, iterations: int = 200, tolerance: float = 1e-6) -> np.ndarray:
    """Where the rank-1 NMF group of each map ``(N, t, m, n)`` fires: ``U = B v`` as ``(N, m n)``,
    each scaled by its maximum (the statistics of a reference profile rescale them to mean 1).

    ``v`` is the leading right singular vector of :func:`rank_one_channel_weights`; for it the
    best non-negative ``U`` is ``B v`` (up to the scale that the maximum removes).  An all-zero map
    gives an all-zero row.
    """
    matrices = maps.detach().flatten(2).transpose(1, 2).float().clamp_min(0)  # (N, m n, t)
    vectors = _leading_vectors(matrices, iterations, tolerance)
    spatial = torch.bmm(matrices, vectors.unsqueeze(-1)).squeeze(-1).clamp_min(0)
    peaks = spatial.amax(dim=1, keepdim=True)
    scaled = torch.where(peaks > 0, spatial / peaks.clamp_min(1e-30), torch.zeros_like(spatial))
    result: np.ndarray = scaled.numpy()
    return result


def probe_accuracy(features: np.ndarray, labels: Sequence[int], folds: Sequence[Any], c: float = 1.0) -> np.ndarray:
    """Held-out accuracy of a standardised logistic-regression probe on each fold."""
    labels_array = np.asarray(labels)
    scores = []
    for fold in folds:
        train, test = list(fold.train), list(fold.test)
        probe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
        probe.fit(features[train], labels_array[train])
        scores.append(float((probe.predict(features[test]) == labels_array[test]).mean()))
    return np.asarray(scores)


@dataclass
class LinearProbe:
    """A fitted probe (standardised logistic regression on a block's pooled map) as one linear map
    over the raw channels: ``logit = weights . pooled + bias``.

    Because pooling is a mean over positions, the logit is the mean over positions of
    :meth:`cam`: a class activation map (Zhou et al. 2016) of the probe's own decision.
    """

    weights: np.ndarray
    bias: float

    def probability(self, pooled: np.ndarray) -> np.ndarray:
        """P(label 1) for pooled maps ``(N, C)``."""
        logits = np.asarray(pooled, dtype=np.float64) @ self.weights + self.bias
        probabilities: np.ndarray = 1.0 / (1.0 + np.exp(-logits))
        return probabilities

    def cam(self, maps: np.ndarray | torch.Tensor) -> np.ndarray:
        """Per-position logits ``(N, m, n)`` of block maps ``(N, C, m, n)``: positive where the
        position pushes toward label 1, negative toward label 0; their mean is the logit."""
        array = maps.detach().cpu().numpy() if isinstance(maps, torch.Tensor) else np.asarray(maps)
        cams: np.ndarray = np.einsum("nchw,c->nhw", array.astype(np.float64), self.weights) + self.bias
        return cams


def fit_probe(features: np.ndarray, labels: Sequence[int], c: float = 1.0) -> LinearProbe:
    """Fit the probe of :func:`probe_accuracy` on all of ``features`` and unfold the scaler into
    its weights."""
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    probe.fit(features, np.asarray(labels))
    scaler, model = probe[0], probe[1]
    weights = model.coef_[0] / scaler.scale_
    return LinearProbe(weights.astype(np.float64), float(model.intercept_[0] - weights @ scaler.mean_))


def separation_score(factors: np.ndarray, labels: Sequence[int]) -> float:
    """Bias-corrected squared distance of the class means of ``factors`` over the within-class variance.

    ``labels`` are 0 (negative) and 1 (positive); each class needs at least two rows.
    """
    labels_array = np.asarray(labels)
    classes = [factors[labels_array == value] for value in (0, 1)]
    if min(len(c) for c in classes) < 2:
        raise SelectionError("the separation score needs at least two images of each class")
    means = [c.mean(axis=0) for c in classes]
    spreads = [float(c.var(axis=0, ddof=1).sum()) for c in classes]
    between = float(((means[1] - means[0]) ** 2).sum()) - sum(s / len(c) for s, c in zip(spreads, classes))
    within = (spreads[0] + spreads[1]) / 2
    return between / within if within > 0 else 0.0


class ImportanceResult(Protocol):
    """What :meth:`Ranking.attach_importance` reads of a block's group importance
    (:class:`sentilens.explain.GroupImportance`; not imported: evaluation, which uses selection,
    stays apart from explanation)."""

    @property
    def mean_change(self) -> float: ...
    @property
    def random_mean_change(self) -> float: ...
    @property
    def p_value(self) -> float: ...
    @property
    def group_change(self) -> np.ndarray: ...
    @property
    def random_change(self) -> np.ndarray: ...


@dataclass
class BlockEvidence:
    """The evidence for one block and its place in the ranking (1 = best).

    The group importance (:func:`sentilens.explain.group_importance`; None: not measured) is shown
    beside the ranking, not part of it: ``group_change`` is the mean change of the fused
    probability when each image's neuron group is removed at the block, ``random_change`` the same
    for random directions of the group's norm, ``group_p`` the block's p-value (the chance that random
    directions rank as high over these images; :attr:`sentilens.explain.GroupImportance.p_value`).
    """

    block: str
    probe_accuracy: float
    probe_std: float
    separation: float
    rank: int = 0
    suggested: bool = False
    group_change: float | None = None
    random_change: float | None = None
    group_p: float | None = None


@dataclass
class Ranking:
    """Blocks ordered best first, the suggested set and what it took to compute them."""

    backbone: str
    weights: str
    dataset: str
    n_images: int
    n_splits: int
    blocks: list[BlockEvidence]
    suggested: tuple[str, ...]
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def config(self, blocks: Sequence[str] | None = None, aux_weights: Sequence[float] | None = None) -> TrainConfig:
        """A training config with heads on ``blocks`` (default: the suggested set)."""
        chosen = tuple(self.suggested if blocks is None else blocks)
        return selection_config(self.backbone, self.weights, chosen, aux_weights)

    def to_dict(self) -> dict[str, Any]:
        return {
            **{k: v for k, v in asdict(self).items() if k != "blocks"},
            "suggested": list(self.suggested),
            "blocks": [asdict(t) for t in self.blocks],
        }

    def attach_importance(self, importance: Mapping[str, ImportanceResult]) -> None:
        """Record each measured block's group importance beside its evidence (and a note of how)."""
        for evidence in self.blocks:
            found = importance.get(evidence.block)
            if found is not None:
                evidence.group_change = found.mean_change
                evidence.random_change = found.random_mean_change
                evidence.group_p = found.p_value
        if importance:
            first = next(iter(importance.values()))
            self.notes.append(
                f"group importance: mean change of the fused probability (measured) when each of "
                f"{len(first.group_change)} images' neuron group is removed at the block, against "
                f"{first.random_change.shape[1]} random directions of the same norm (p: the chance that random "
                "directions rank as high over these images)"
            )

    @property
    def has_importance(self) -> bool:
        """Whether any block has a measured group importance."""
        return any(t.group_change is not None for t in self.blocks)

    def markdown(self) -> str:
        """The ranking as a Markdown table; suggested blocks are marked; the group importance, when
        measured, beside it."""
        extra = self.has_importance
        lines = [
            f"Block ranking ({self.dataset}, {self.n_images} images, {self.backbone} {self.weights}, "
            f"{self.n_splits}-fold probe)",
            "",
            "| rank | block | probe accuracy | NMF separation | suggested |"
            + (" group removal Δp (random) | p |" if extra else ""),
            "|---|---|---|---|---|" + ("---|---|" if extra else ""),
        ]
        for t in self.blocks:
            lines.append(
                f"| {t.rank} | {t.block} | {t.probe_accuracy:.3f} ± {t.probe_std:.3f} | {t.separation:.3f} | "
                f"{'yes' if t.suggested else ''} |" + (f" {importance_cells(t)} |" if extra else "")
            )
        lines += ["", f"Suggested set: {', '.join(self.suggested)} ({self.seconds:.0f} s)"]
        lines += [f"Note: {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


def importance_cells(evidence: BlockEvidence) -> str:
    """``"0.123 (0.045) | 0.048"``: a block's group importance as two table cells (blank: not measured)."""
    if evidence.group_change is None or evidence.random_change is None or evidence.group_p is None:
        return " | "
    return f"{evidence.group_change:.3f} ({evidence.random_change:.3f}) | {evidence.group_p:.2g}"


def selection_config(
    backbone: str, weights: str, blocks: Sequence[str], aux_weights: Sequence[float] | None = None
) -> TrainConfig:
    """A :class:`TrainConfig` for a selection; refuses an empty one (unknown blocks and weights
    outside [0, 1] are refused when the model is built)."""
    blocks = tuple(blocks)
    if not blocks:
        raise SelectionError("no blocks selected; choose at least one block for an auxiliary head")
    weights_list = tuple(aux_weights) if aux_weights is not None else (DEFAULT_AUX_WEIGHT,) * len(blocks)
    if len(weights_list) != len(blocks):
        raise SelectionError(f"{len(blocks)} blocks but {len(weights_list)} weights")
    bad = [w for w in weights_list if not 0.0 <= w <= 1.0]
    if bad:
        raise SelectionError(f"auxiliary weights must lie in [0, 1], got {bad}")
    return TrainConfig(backbone=backbone, weights=weights, blocks=blocks, aux_weights=weights_list)


def rank_blocks(
    backbone: Backbone,
    weights: str,
    dataset: LabelledImages,
    features: BlockFeatures,
    blocks: Sequence[str] | None = None,
    k: int = 3,
    n_splits: int = 5,
    seed: int = 0,
) -> Ranking:
    """Evidence, ranking and suggested set for ``blocks`` (default: all) from their features.

    Args:
        backbone: the frozen backbone (ImageNet or fine-tuned weights).
        weights: how a training config names those weights (``imagenet``, ``none`` or a file).
        dataset: the labelled images the features belong to, in the same order.
        features: their pooled maps and NMF factors (:func:`evidence_features`), holding at
            least ``blocks``.
        k: size of the suggested set.
    """
    began = time.perf_counter()
    dataset.require_all_classes()
    blocks = tuple(blocks) if blocks is not None else backbone.block_names
    backbone.check_blocks(blocks)
    if not blocks:
        raise SelectionError("no blocks to rank")
    if k < 1:
        raise SelectionError(f"the suggested set needs at least one block, got k = {k}")
    folds = make_folds(dataset, n_splits, seed)
    evidence = []
    for block in blocks:
        scores = probe_accuracy(features.pooled[block], dataset.labels, folds)
        evidence.append(
            BlockEvidence(
                block,
                float(scores.mean()),
                float(scores.std()),
                separation_score(features.factors[block], dataset.labels),
            )
        )
    borda = (rankdata([-e.probe_accuracy for e in evidence]) + rankdata([-e.separation for e in evidence])) / 2
    order = sorted(range(len(evidence)), key=lambda i: (borda[i], -evidence[i].probe_accuracy))
    ranked = [evidence[i] for i in order]
    eligible = [e for e in ranked if e.block != backbone.block_names[-1]] or ranked
    suggested = {e.block for e in eligible[:k]}
    for position, e in enumerate(ranked, start=1):
        e.rank, e.suggested = position, e.block in suggested
    in_depth_order = tuple(t for t in blocks if t in suggested)
    return Ranking(
        backbone.name,
        weights,
        dataset.name,
        len(dataset),
        n_splits,
        ranked,
        in_depth_order,
        time.perf_counter() - began,
    )
