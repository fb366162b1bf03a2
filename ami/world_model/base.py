"""Contract of world models: latent encoding, latent prediction and grounding heads."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import nn

from ami.memory.batch import TrajectoryBatch
from ami.perception.base import Encoder
from ami.registry import Registry


@dataclass
class WorldModelLoss:
    """Result of one world-model loss evaluation on a batch of sub-trajectories."""

    loss: torch.Tensor
    """Scalar total loss, differentiable."""
    latents: torch.Tensor
    """``(horizon + 1, batch, latent_dim)``: the encoded first latent, then the predicted ones."""
    target_latents: torch.Tensor
    """``(horizon, batch, latent_dim)``: target-encoder latents of the next observations."""
    metrics: dict[str, torch.Tensor]
    """Detached scalars by TensorBoard tag."""


class WorldModel(nn.Module, ABC):
    """A joint-embedding predictive architecture over latent states.

    It predicts the latent of the next observation from the current latent and action, never
    the observation itself. Shapes: ``obs (batch, obs_dim)``, ``latent (batch, latent_dim)``,
    ``action (batch, action_dim)``; any leading batch shape is accepted where noted.

    Subclasses are built as ``cls(config, spec, encoder=encoder, **config.options)``.

    The methods below act on the finest level (level 0), the one that planners and policies of
    single-step actions use. A hierarchical model adds coarser levels behind extra methods or
    a ``level`` keyword that defaults to 0, so callers of this contract keep working.
    """

    latent_dim: int
    encoder: Encoder
    """The online encoder; the learner gives it its own learning rate."""

    @abstractmethod
    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        """Online latent ``(batch, latent_dim)`` of observations ``(batch, obs_dim)``."""

    @abstractmethod
    def encode_target(self, obs: torch.Tensor) -> torch.Tensor:
        """Stop-gradient target-encoder latent of ``obs`` (any leading shape)."""

    @abstractmethod
    def predict(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Next latent ``(..., latent_dim)`` from ``latent (..., latent_dim)`` and ``action (..., action_dim)``."""

    @abstractmethod
    def reward(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Predicted reward ``(...)`` of taking ``action`` in ``latent``."""

    @abstractmethod
    def termination_prob(self, next_latent: torch.Tensor) -> torch.Tensor:
        """Probability ``(...)`` that the episode terminated on reaching ``next_latent``."""

    @abstractmethod
    def loss(self, batch: TrajectoryBatch) -> WorldModelLoss:
        """Multi-step prediction loss with grounding heads and collapse regularizers."""

    @abstractmethod
    def update_targets(self) -> None:
        """Move the EMA target encoder toward the online encoder."""

    def observe(self, obs: torch.Tensor) -> None:
        """Update statistics from newly collected observations ``(batch, obs_dim)``."""

    @property
    def required_sequence_length(self) -> int:
        """Steps per sampled sub-trajectory that ``loss`` needs: ``world_model.horizon``, unless a subclass needs more."""
        config = getattr(self, "config", None)
        if config is None:
            raise NotImplementedError(
                f"{type(self).__name__} stores no `config`, so the sub-trajectory length of its loss is unknown; "
                "keep the WorldModelConfig as self.config or override required_sequence_length"
            )
        return config.horizon

    @property
    def level_spans(self) -> tuple[int, ...]:
        """Env steps per prediction step of each level, level 0 first: ``(1,)`` for a single-level model."""
        return (1,)


WORLD_MODELS: Registry[type[WorldModel]] = Registry("world model", WorldModel)
