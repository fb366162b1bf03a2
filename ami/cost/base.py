"""Contracts of cost terms (task, safety and intrinsic) and of the trainable critic."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import torch
from torch import nn

from ami.registry import Registry

if TYPE_CHECKING:
    from ami.cost.inputs import CostInputs


class CostTerm(nn.Module, ABC):
    """One per-step cost term; the cost module weights it and logs it under its config name.

    Built as ``cls(spec, **options)`` from a table of ``cost.terms`` or ``cost.safety`` (the
    table's keys other than ``term`` and ``weight``), or as ``cls(spec)`` from ``cost.intrinsic``.
    A term reads what it needs from ``CostInputs``: the latent, the action, the predicted
    reward, the critic ensemble, and the physical quantities it names in ``quantities``, which
    quantity heads predict from the latent.
    """

    quantities: tuple[str, ...] = ()
    """Physical quantities the term reads through ``CostInputs.quantity``, e.g. ``("x_velocity",)``."""
    planning_only: bool = False
    """True for terms that the critic's TD target leaves out, such as terms that read the critic itself."""

    @abstractmethod
    def evaluate(self, inputs: CostInputs) -> torch.Tensor:
        """Unweighted cost ``(...)`` at the steps of ``inputs``."""


class IntrinsicCost(CostTerm):
    """A fixed, untrained per-step cost of ``(latent, action)``, such as action energy.

    Built as ``cls(spec)``; the config gives each term a weight by its registered name.
    """

    @abstractmethod
    def forward(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Cost ``(...)`` of ``latent (..., latent_dim)`` and ``action (..., action_dim)``."""

    def evaluate(self, inputs: CostInputs) -> torch.Tensor:
        return self(inputs.latent, inputs.action)


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


COST_TERMS: Registry[type[CostTerm]] = Registry("cost term", CostTerm)
INTRINSIC_COSTS = COST_TERMS
"""The registry of ``cost.intrinsic`` names: the same as ``COST_TERMS``, kept for existing plugins."""
CRITICS: Registry[type[Critic]] = Registry("critic", Critic)
