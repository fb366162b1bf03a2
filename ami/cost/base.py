"""Contracts of cost terms: fixed intrinsic costs and the trainable critic."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

from ami.registry import Registry


class IntrinsicCost(nn.Module, ABC):
    """A fixed, untrained per-step cost of ``(latent, action)``, such as action energy.

    Built as ``cls(spec)``; the config gives each term a weight by its registered name.
    """

    @abstractmethod
    def forward(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Cost ``(...)`` of ``latent (..., latent_dim)`` and ``action (..., action_dim)``."""


class Critic(nn.Module, ABC):
    """Predicts the discounted cost-to-go of taking ``action`` in ``latent``.

    The cost-to-go is the cost the planner cannot see beyond its horizon. Built as
    ``cls(config, latent_dim, action_dim, **config.options)`` with a ``CriticConfig``.
    """

    @abstractmethod
    def forward(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Cost-to-go of each member, ``(num_critics, ...)``, from the online networks."""

    @abstractmethod
    def cost_to_go(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Cost-to-go ``(...)`` used for planning and for the policy (online networks)."""

    @abstractmethod
    def target_cost_to_go(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Pessimistic cost-to-go ``(...)`` from the EMA target networks, for TD targets."""

    @abstractmethod
    def update_targets(self) -> None:
        """Move the EMA target networks toward the online networks."""


INTRINSIC_COSTS: Registry[type[IntrinsicCost]] = Registry("intrinsic cost", IntrinsicCost)
CRITICS: Registry[type[Critic]] = Registry("critic", Critic)
