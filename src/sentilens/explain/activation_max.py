"""Channel visualisation by activation maximisation (paper eq. 1-2), lucent-style pieces.

Three small pieces compose: a *parametrisation* (a module whose forward returns a batch of
images in [0, 1]), *transforms* (random jitter and scale applied before every step, which keep
the optimiser from exploiting pixel-exact high-frequency patterns), and an *objective* (the mean
activation of one channel of one block, a different channel for each image of the batch).  One
batch optimises many channels at once, and only the backbone stages up to the block run.

Two modes:

* ``plain`` follows the paper: pixels start as random normal noise at the backbone's input size
  and take gradient-ascent steps of size ``lr`` (0.05); after each step the image is projected
  back onto the sphere ``||X|| = rho`` of eq. (1), ``rho`` being the norm of the starting noise.
  The step is Adam's rather than the raw gradient's: raw gradient magnitudes differ by orders of
  magnitude between blocks and channels, and Adam's normalised step keeps ``lr = 0.05`` meaningful
  everywhere (lucid and lucent make the same choice).
* ``regularised`` follows Olah et al. (2017): the image is parametrised in a decorrelated colour
  space and in the Fourier domain with a 1/f spectrum, squashed to [0, 1] by a sigmoid, and
  jittered and rescaled at every step.  It starts from a faint (nearly grey) noise and, for the
  first quarter of the steps, lets gradient through ReLUs that block all of it (Lucid's
  "redirected ReLU"), so channels that the faint start leaves at zero still get a direction.
  It gives cleaner, more readable pictures.  Its default canvas is 96 px instead of the input
  size: each step costs roughly the square of the side, and 96 px is what makes a whole
  768-channel block take minutes rather than hours on a CPU.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sentilens.explain.choices import AscentMode
from sentilens.explain.errors import AscentSizeError
from sentilens.models.backbones import Backbone
from sentilens.utils.errors import InvalidArgumentError
from sentilens.utils.progress import track

MODES = tuple(AscentMode)
REGULARISED_SIZE = 96

Transform = Callable[[torch.Tensor], torch.Tensor]

#: Square root of the colour correlation of natural (ImageNet) images (Olah et al. 2017):
#: decorrelated parameters times this matrix give RGB values with natural colour statistics.
COLOUR_CORRELATION_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])


@dataclass(frozen=True)
class AscentSettings:
    """How channel pictures are optimised; part of the channel-cache key.

    Attributes:
        mode: ``plain`` (the paper) or ``regularised`` (Olah et al.).
        size: canvas side in pixels; None means the backbone's input size for ``plain`` and
            96 px for ``regularised``.
        steps: optimisation steps.
        lr: step size (paper: 0.05).
        batch_size: channels optimised together in one batch.
        seed: seeds the starting noise and the random transforms.
        jitter: largest random shift in pixels (``regularised``).
        scales: random rescaling factors (``regularised``).
        spectrum_gain: scale of the 1/f Fourier parametrisation (``regularised``): 1 is Lucid's,
            under which 64 steps barely leave grey; much more saturates the pictures.
        spectrum_start_std: standard deviation of the starting Fourier coefficients
            (``regularised``); small, so that the start is faint noise that drives no channel hard.
        redirect_relu: redirect the gradient of blocking ReLUs during the first quarter of the
            steps, so that channels the start leaves at zero are not left blank; None means on
            for ``regularised`` and off for ``plain`` (the paper's plain gradient).
    """

    mode: str = "regularised"
    size: int | None = None
    steps: int = 64
    lr: float = 0.05
    batch_size: int = 64
    seed: int = 0
    jitter: int = 4
    scales: tuple[float, ...] = (0.9, 0.95, 1.0, 1.05, 1.1)
    spectrum_gain: float = 3.0
    spectrum_start_std: float = 0.01
    redirect_relu: bool | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InvalidArgumentError(f"mode must be one of {', '.join(AscentMode)}, got {self.mode!r}")
        for name in ("steps", "batch_size"):
            if getattr(self, name) < 1:
                raise InvalidArgumentError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.size is not None and self.size < 16:
            raise InvalidArgumentError(f"size must be at least 16 pixels, got {self.size}")
        for name in ("lr", "spectrum_gain", "spectrum_start_std"):
            if getattr(self, name) <= 0:
                raise InvalidArgumentError(f"{name} must be positive, got {getattr(self, name)}")
        object.__setattr__(self, "scales", tuple(float(s) for s in self.scales))

    def resolved(self, backbone: Backbone | type[Backbone]) -> AscentSettings:
        """The same settings with ``size`` and ``redirect_relu`` filled in for ``backbone``."""
        plain = self.mode == "plain"
        size = self.size if self.size is not None else backbone.input_size if plain else REGULARISED_SIZE
        redirect = self.redirect_relu if self.redirect_relu is not None else not plain
        return replace(self, size=size, redirect_relu=redirect)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["scales"] = list(self.scales)
        return data


def smallest_view(settings: AscentSettings, size: int) -> int:
    """The smallest side the network sees for a canvas of ``size`` px (random rescaling shrinks it)."""
    if settings.mode == "plain":
        return size
    return min(size, max(16, round(size * min(settings.scales))))


def check_ascent_size(backbone: Backbone | type[Backbone], settings: AscentSettings, blocks: Sequence[str]) -> None:
    """Raise :class:`AscentSizeError` (naming the smallest size that works) when the canvas of
    ``settings`` is too small for the backbone to reach every block; needs only the backbone's
    class (its metadata), so it runs before any model is loaded."""
    backbone.check_blocks(blocks)
    size = settings.resolved(backbone).size
    assert size is not None
    need = max(backbone.smallest_input(block) for block in blocks)
    if smallest_view(settings, size) >= need:
        return
    deepest = max(blocks, key=backbone.block_names.index)
    smallest = need
    while smallest_view(settings, smallest) < need:
        smallest += 1
    shrink = "" if settings.mode == "plain" else f" (random rescaling down to {min(settings.scales):g}x)"
    raise AscentSizeError(
        f"ascent size {size} px is too small for {backbone.name} up to block {deepest}{shrink}: "
        f"the smallest size that works is {smallest} px"
    )


# --- parametrisations -------------------------------------------------------------------------


class PixelImage(nn.Module):
    """Raw pixels in the backbone's input space, started from N(0, 1) noise and kept at its norm.

    ``forward`` returns images in [0, 1] *coordinates* (``x / 2 + 0.5``), which may leave that
    range: eq. (1) bounds the norm, not each pixel.
    """

    def __init__(self, batch: int, size: int, generator: torch.Generator, shared_start: bool = False) -> None:
        super().__init__()
        start = torch.randn((1 if shared_start else batch, 3, size, size), generator=generator)
        self.pixels = nn.Parameter(start.expand(batch, -1, -1, -1).clone())
        self.rho = float(self.pixels.detach()[0].norm())

    def forward(self) -> torch.Tensor:
        return self.pixels / 2.0 + 0.5

    @torch.no_grad()
    def project(self) -> None:
        """Scale each image back onto the sphere ``||X|| = rho`` (eq. 1)."""
        norms = self.pixels.flatten(1).norm(dim=1).clamp_min(1e-12)
        self.pixels.mul_((self.rho / norms).view(-1, 1, 1, 1))

    @staticmethod
    def to_picture(images: torch.Tensor) -> torch.Tensor:
        """Display version in [0, 1]: each image centred and scaled by four standard deviations."""
        flat = images.flatten(1)
        mean = flat.mean(dim=1).view(-1, 1, 1, 1)
        std = flat.std(dim=1).clamp_min(1e-8).view(-1, 1, 1, 1)
        return ((images - mean) / (4 * std) + 0.5).clamp(0, 1)


class FourierImage(nn.Module):
    """Decorrelated-colour Fourier parametrisation with a 1/f spectrum, squashed by a sigmoid.

    The spectrum starts as random normal noise of standard deviation ``start_std``; scaling
    coefficients by ``gain``/frequency makes every frequency learn at a rate proportional to its
    share in natural images, so optimisation favours smooth structure over pixel noise.
    """

    def __init__(
        self,
        batch: int,
        size: int,
        generator: torch.Generator,
        gain: float = 1.0,
        start_std: float = 0.01,
        decay: float = 1.0,
        shared_start: bool = False,
    ) -> None:
        super().__init__()
        fy = torch.fft.fftfreq(size).view(-1, 1)
        fx = torch.fft.rfftfreq(size).view(1, -1)
        frequency = torch.sqrt(fx**2 + fy**2).clamp_min(1.0 / size)
        self.register_buffer("scale", gain / frequency**decay, persistent=False)
        self.size = size
        start = start_std * torch.randn((1 if shared_start else batch, 3, *frequency.shape, 2), generator=generator)
        self.spectrum = nn.Parameter(start.expand(batch, -1, -1, -1, -1).clone())

    def forward(self) -> torch.Tensor:
        coefficients = torch.view_as_complex(self.spectrum) * self.get_buffer("scale")
        decorrelated = torch.fft.irfft2(coefficients, s=(self.size, self.size), norm="ortho") / 4.0
        colour = COLOUR_CORRELATION_SQRT / COLOUR_CORRELATION_SQRT.norm(dim=0).max()
        rgb = torch.einsum("bchw,dc->bdhw", decorrelated, colour.to(decorrelated))
        return torch.sigmoid(rgb)

    def project(self) -> None:
        """Nothing to project: the sigmoid already bounds the image."""

    @staticmethod
    def to_picture(images: torch.Tensor) -> torch.Tensor:
        return images


# --- transforms ---------------------------------------------------------------------------------


def jitter(pixels: int, generator: torch.Generator) -> Transform:
    """Shift the whole batch by a random offset of up to ``pixels`` (circular roll)."""

    def apply(images: torch.Tensor) -> torch.Tensor:
        if pixels == 0:
            return images
        dy, dx = (int(v) for v in torch.randint(-pixels, pixels + 1, (2,), generator=generator))
        return images.roll((dy, dx), dims=(2, 3))

    return apply


def random_scale(scales: Sequence[float], generator: torch.Generator) -> Transform:
    """Resize the batch by a factor drawn from ``scales`` (bilinear)."""

    def apply(images: torch.Tensor) -> torch.Tensor:
        factor = scales[int(torch.randint(len(scales), (1,), generator=generator))]
        if factor == 1.0:
            return images
        side = max(16, round(images.shape[-1] * factor))
        return nn.functional.interpolate(images, size=(side, side), mode="bilinear", align_corners=False)

    return apply


def compose(*transforms: Transform) -> Transform:
    """Apply ``transforms`` left to right."""

    def apply(images: torch.Tensor) -> torch.Tensor:
        for transform in transforms:
            images = transform(images)
        return images

    return apply


# --- gradient through dead ReLUs -----------------------------------------------------------------


class _RedirectedReLU(torch.autograd.Function):
    """ReLU whose backward pass, for an image whose gradient the ReLU blocks entirely, lets
    through every component that would raise its input (Olah et al.'s "redirected ReLU").

    Images with any gradient passing get the exact ReLU gradient, so the redirection only
    supplies a direction where there is none.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x.clamp_min(0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        exact = grad * (x > 0)
        raising = grad * ((x > 0) | (grad < 0))  # descent on the loss moves x against grad
        blocked = exact.flatten(1).abs().amax(dim=1) == 0
        return torch.where(blocked.view(-1, *[1] * (grad.dim() - 1)), raising, exact)


@contextlib.contextmanager
def redirected_relu() -> Iterator[None]:
    """Within the block, ``torch.nn.functional.relu`` (which the backbones call) redirects its
    gradient like :class:`_RedirectedReLU`.  Not thread-safe: it swaps a module attribute."""
    original = F.relu

    def relu(x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
        return _RedirectedReLU.apply(x)  # type: ignore[no-any-return]

    F.relu = relu  # type: ignore[assignment]
    try:
        yield
    finally:
        F.relu = original


# --- objective ----------------------------------------------------------------------------------


def channel_means(block_output: torch.Tensor, channels: torch.Tensor) -> torch.Tensor:
    """Mean activation of channel ``channels[b]`` in image ``b`` of a block's output ``(B, C, h, w)``."""
    rows = torch.arange(len(channels), device=block_output.device)
    means: torch.Tensor = block_output[rows, channels].mean(dim=(1, 2))
    return means


def block_activations(backbone: Backbone, images01: torch.Tensor, block: str) -> torch.Tensor:
    """The block's output map for images in [0, 1], running only the stages up to the block."""
    backbone.check_blocks([block])
    activations: torch.Tensor = backbone(backbone.normalize(images01), stop=block).final
    return activations


# --- the optimisation ---------------------------------------------------------------------------


@dataclass
class ChannelPictures:
    """Pictures of channels of one block, and how strongly each drives its channel.

    Attributes:
        block: the block (block) name.
        channels: channel index of each picture.
        pictures: ``(K, 3, S, S)`` float32 display images in [0, 1].
        start_activation: each channel's mean activation on its starting image.
        final_activation: each channel's mean activation on its optimised image.
        settings: the settings that made them (size resolved).
    """

    block: str
    channels: torch.Tensor
    pictures: torch.Tensor
    start_activation: torch.Tensor
    final_activation: torch.Tensor
    settings: AscentSettings


Objective = Callable[[torch.Tensor], torch.Tensor]
"""Maps a block's output ``(B, C, h, w)`` to one value per image ``(B,)``, to be maximised."""


def channel_objective(channels: torch.Tensor) -> Objective:
    """Image ``b`` maximises the mean activation of channel ``channels[b]``."""
    return lambda block_output: channel_means(block_output, channels)


def direction_objective(directions: torch.Tensor) -> Objective:
    """Image ``b`` maximises ``sum_k d_bk * mean_ij a_kij``: its direction in channel space
    (the neuron-group objective of Olah et al., "The Building Blocks of Interpretability")."""
    return lambda block_output: (block_output.mean(dim=(2, 3)) * directions.to(block_output)).sum(dim=1)


def optimise(
    backbone: Backbone,
    block: str,
    objective: Objective,
    batch: int,
    settings: AscentSettings,
    generator: torch.Generator,
    shared_start: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Optimise ``batch`` images for ``objective``; return display pictures, start and final values.

    ``shared_start`` starts every image of the batch from the same noise, so that two pictures
    differ only because their objectives do (and a picture does not depend on its batch-mates).
    """
    size = settings.size
    assert size is not None
    redirected_steps = settings.steps // 4 if settings.redirect_relu else 0
    if settings.mode == "plain":
        image: PixelImage | FourierImage = PixelImage(batch, size, generator, shared_start)
        transform: Transform = compose()
    else:
        image = FourierImage(
            batch, size, generator, settings.spectrum_gain, settings.spectrum_start_std, shared_start=shared_start
        )
        transform = compose(
            jitter(settings.jitter, generator),
            random_scale(settings.scales, generator),
            jitter(max(1, settings.jitter // 2), generator),
        )
    with torch.no_grad():
        start = objective(block_activations(backbone, image(), block))
    optimiser = torch.optim.Adam(image.parameters(), lr=settings.lr)
    for step in range(settings.steps):
        optimiser.zero_grad(set_to_none=True)
        with redirected_relu() if step < redirected_steps else contextlib.nullcontext():
            values = objective(block_activations(backbone, transform(image()), block))
            (-values.sum()).backward()
        optimiser.step()
        image.project()
    with torch.no_grad():
        final_images = image()
        final = objective(block_activations(backbone, final_images, block))
    return image.to_picture(final_images).float(), start, final


@contextlib.contextmanager
def frozen(backbone: Backbone) -> Iterator[None]:
    """Eval mode and no parameter gradients inside the block; both restored afterwards."""
    was_training = backbone.training
    backbone.eval()
    needs_grad = [p.requires_grad for p in backbone.parameters()]
    backbone.requires_grad_(False)
    try:
        yield
    finally:
        for parameter, flag in zip(backbone.parameters(), needs_grad):
            parameter.requires_grad_(flag)
        backbone.train(was_training)


def visualise_channels(
    backbone: Backbone,
    block: str,
    channels: Sequence[int] | None = None,
    settings: AscentSettings | None = None,
) -> ChannelPictures:
    """Optimise one picture per channel of ``block`` (all channels when ``channels`` is None).

    The backbone's weights are not changed (gradients flow to the images only); batch norm runs
    in inference mode.
    """
    backbone.check_blocks([block])
    settings = (settings or AscentSettings()).resolved(backbone)
    count = backbone.block_channels[block]
    chosen = torch.arange(count) if channels is None else torch.as_tensor(list(channels), dtype=torch.long)
    bad = chosen[(chosen < 0) | (chosen >= count)]
    if len(bad):
        raise InvalidArgumentError(f"channel(s) {bad.tolist()} out of range for block {block!r}; valid: 0..{count - 1}")
    check_ascent_size(backbone, settings, [block])
    generator = torch.Generator().manual_seed(settings.seed)
    pictures, starts, finals = [], [], []
    with frozen(backbone):
        batches = [chosen[i : i + settings.batch_size] for i in range(0, len(chosen), settings.batch_size)]
        for batch in track(batches, total=len(batches), description=f"visualising {block} channels"):
            picture, start, final = optimise(backbone, block, channel_objective(batch), len(batch), settings, generator)
            pictures.append(picture)
            starts.append(start)
            finals.append(final)
    return ChannelPictures(block, chosen, torch.cat(pictures), torch.cat(starts), torch.cat(finals), settings)
