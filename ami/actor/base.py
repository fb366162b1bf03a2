"""Contracts of the actor's two modes: a reactive policy and a deliberative planner."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import torch
from torch import nn

from ami.actor.memory import PlanMemory
from ami.cost.module import CostModule
from ami.registry import Registry
from ami.world_model.base import WorldModel


class Policy(nn.Module, ABC):
    """Mode 1: maps latents to actions in one forward pass.

    Built as ``cls(config, spec, latent_dim, **config.options)`` with a ``PolicyConfig``.
    Actions lie inside the task's action bounds.
    """

    @abstractmethod
    def forward(self, latent: torch.Tensor, deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``action (..., action_dim)`` and its log-probability ``(...)``."""

    @abstractmethod
    def loss(self, latents: torch.Tensor, cost: CostModule) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Policy loss on detached latents ``(horizon + 1, batch, latent_dim)``, and metrics."""


@dataclass
class PlanResult:
    """Output of one planner call for a batch of states."""

    action: torch.Tensor
    """``(batch, action_dim)``: the action to execute now."""
    plan: torch.Tensor
    """``(batch, horizon, action_dim)``: the refined mean sequence, kept to warm-start the next call."""
    cost_terms: dict[str, torch.Tensor] = field(default_factory=dict)
    """Cost of the best candidate ``(batch,)`` by term, for logging."""
    subgoal: torch.Tensor | None = None
    """``(batch, level-1 latent_dim)``: the subgoal that the low level steered to, from a hierarchical planner; None from flat planners."""


class Planner(ABC):
    """Mode 2: model-predictive control in the learned world model.

    Built as ``cls(config, spec, **config.options)`` with a ``PlannerConfig``. A planner rolls
    candidate action sequences out in the world model, scores them with the cost module and
    returns the first action of the best sequence it found.
    """

    ignored_config_fields: dict[str, str] = {}
    """``actor.planner`` fields that this planner never reads, each with the reason, so that overriding one is rejected."""

    @abstractmethod
    def plan(
        self,
        latent: torch.Tensor,
        world_model: WorldModel,
        cost: CostModule,
        policy: Policy,
        previous_plan: torch.Tensor | None = None,
        deterministic: bool = False,
    ) -> PlanResult:
        """Plan from ``latent (batch, latent_dim)``; ``previous_plan`` is ``(batch, horizon, action_dim)``."""

    def prepare(self, world_model: WorldModel, cost: CostModule, replay, goal_setter=None) -> None:
        """Refresh what the planner derives from the trained modules and the replay buffer. Most planners derive nothing.

        The agent calls it before its first plan, after a checkpoint loads, when another planner
        is swapped in, and every ``agents.ami_agent.PREPARE_EVERY_UPDATES`` updates.
        """

    def condition(self, obs: torch.Tensor, world_model: WorldModel, goal_setter=None) -> None:
        """Read what the next plan needs from the observations ``(batch, obs_dim)`` themselves. Most planners need nothing."""

    def check_world_model(self, world_model: WorldModel) -> None:
        """Raise ValueError or TypeError if this planner cannot plan in ``world_model``; planners that fit any model pass."""

    def memory_estimate(self, batch: int, latent_dim: int, activation_width: int) -> PlanMemory | None:
        """Estimate the peak memory of one ``plan`` call on ``batch`` states, or return None when unknown.

        ``latent_dim`` is the widest latent the planner rolls out and ``activation_width`` the
        widest hidden layer of the modules it calls (``ami.actor.memory.activation_width``).
        Building the modules checks the estimate against the device's free memory.
        """
        return None


POLICIES: Registry[type[Policy]] = Registry("policy", Policy)
PLANNERS: Registry[type[Planner]] = Registry("planner", Planner)
