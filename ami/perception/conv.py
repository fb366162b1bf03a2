"""Convolutional encoder for stacked camera frames."""

from __future__ import annotations

import torch
from torch import nn

from ami.config.schema import PerceptionConfig
from ami.nn import mlp
from ami.perception.base import ENCODERS, Encoder
from ami.spec import TaskSpec

CONV_LAYERS = ((3, 2), (3, 1), (3, 1), (3, 1))
"""(kernel size, stride) of each convolution: one halving of the resolution, then three layers
that keep it, the layout common in pixel-based agents such as DrQ."""

PIXEL_SCALE = 255.0
"""Frames contain values in [0, 255]; the encoder maps them to [-0.5, 0.5]."""


@ENCODERS.register("conv")
class ConvEncoder(Encoder):
    """Convolutions over the stacked frames, then an MLP to a ``latent_dim`` vector.

    Input: ``(*batch, frames, height, width, 3)`` with values in [0, 255], uint8 (as stored) or
    float (as the agent passes one observation). Output: ``(*batch, latent_dim)``, unbounded,
    from the same ``ami.nn.mlp`` head as the MLP encoder. The frames of a stack are
    concatenated along the channels.

    In training updates, that is in training mode while autograd records, each image is shifted
    by a random offset of up to ``config.random_shift`` pixels, with edge pixels replicated into
    the padding: the random-shift augmentation of DrQ.
    Acting, evaluation, the EMA target encoder and other no-grad encodings see the frames as they are.
    """

    def __init__(self, config: PerceptionConfig, spec: TaskSpec) -> None:
        super().__init__()
        if not spec.pixels:
            raise ValueError(
                f"the conv encoder reads stacked camera frames, but task {spec.task!r} observes {spec.obs_dim}-dim vectors; "
                "set env.pixels = true, or use perception.name = 'mlp'"
            )
        self.latent_dim = config.latent_dim
        self.obs_shape = spec.obs_shape
        self.random_shift = config.random_shift
        frames, height, width, colors = spec.obs_shape

        layers: list[nn.Module] = []
        in_channels = frames * colors
        out_height, out_width = height, width
        for kernel, stride in CONV_LAYERS:
            layers += [nn.Conv2d(in_channels, config.conv_channels, kernel, stride), nn.ReLU()]
            in_channels = config.conv_channels
            out_height, out_width = (out_height - kernel) // stride + 1, (out_width - kernel) // stride + 1
        if out_height < 1 or out_width < 1:
            raise ValueError(
                f"frames of {height}x{width} pixels are too small for the conv encoder's {len(CONV_LAYERS)} layers; "
                "raise env.image_size to at least 15"
            )
        self.trunk = nn.Sequential(*layers)
        self.head = mlp(config.conv_channels * out_height * out_width, config.hidden_dims, config.latent_dim)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if tuple(obs.shape[-4:]) != self.obs_shape:
            raise ValueError(f"the conv encoder expects frames (*batch, {', '.join(map(str, self.obs_shape))}), got {tuple(obs.shape)}")
        *batch_shape, frames, height, width, colors = obs.shape
        # (N, frames, H, W, 3) -> (N, frames * 3, H, W): the stack becomes input channels.
        images = obs.reshape(-1, frames, height, width, colors).permute(0, 1, 4, 2, 3)
        images = images.reshape(-1, frames * colors, height, width)
        if self.training and torch.is_grad_enabled() and self.random_shift > 0:
            images = random_shift(images, self.random_shift)
        # One float copy, scaled in place: these passes over the frames cost as much as the convolutions on a CPU.
        images = images.to(torch.float32, copy=True).mul_(1.0 / PIXEL_SCALE).sub_(0.5)
        features = self.trunk(images).flatten(start_dim=1)
        return self.head(features).reshape(*batch_shape, self.latent_dim)


def random_shift(images: torch.Tensor, pad: int) -> torch.Tensor:
    """Shift each image of ``(batch, channels, height, width)`` by its own random offset in [-pad, pad] pixels.

    Pixels shifted in from outside repeat the nearest edge pixel, as replicate padding and a crop
    would give. Clamped indices do it without a padded copy and for any dtype, uint8 included,
    so the shift runs before the frames become floats, on a quarter of the bytes.
    """
    batch, _, height, width = images.shape
    offset_rows = torch.randint(-pad, pad + 1, (batch, 1), device=images.device)
    offset_cols = torch.randint(-pad, pad + 1, (batch, 1), device=images.device)
    rows = (offset_rows + torch.arange(height, device=images.device)).clamp_(0, height - 1)  # (batch, height)
    cols = (offset_cols + torch.arange(width, device=images.device)).clamp_(0, width - 1)  # (batch, width)
    samples = torch.arange(batch, device=images.device)[:, None, None]
    # Advanced indices around the channel slice put their dimensions first: (batch, height, width, channels).
    shifted = images[samples, :, rows[:, :, None], cols[:, None, :]]
    return shifted.permute(0, 3, 1, 2)
