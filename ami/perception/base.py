"""Contract of perception encoders: observation -> latent state."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

from ami.registry import Registry


class Encoder(nn.Module, ABC):
    """Maps a batch of observations ``(batch, obs_dim)`` to latents ``(batch, latent_dim)``.

    Subclasses are built as ``cls(config, spec, **config.options)`` with a
    ``PerceptionConfig`` and a ``TaskSpec``, and set ``latent_dim``. The world model keeps an
    EMA copy of the encoder as its target encoder, so all state that is not a parameter must be
    a buffer.
    """

    latent_dim: int

    @abstractmethod
    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Encode ``(batch, obs_dim)`` observations into ``(batch, latent_dim)`` latents."""

    def observe(self, obs: torch.Tensor) -> None:
        """Update statistics from newly collected observations ``(batch, obs_dim)``; no-op here."""


ENCODERS: Registry[type[Encoder]] = Registry("encoder", Encoder)
