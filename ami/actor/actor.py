"""The actor: acts reactively through the policy or deliberately through the planner."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ami.actor.base import Planner, Policy
from ami.config.schema import Mode
from ami.cost.module import CostModule
from ami.memory.short_term import ShortTermMemory
from ami.world_model.base import WorldModel


@dataclass
class ActorOutput:
    action: torch.Tensor
    """``(batch, action_dim)``."""
    cost_terms: dict[str, torch.Tensor] = field(default_factory=dict)
    """Cost of the chosen plan by term ``(batch,)``; empty in reactive mode."""
    planned_action: torch.Tensor | None = None
    """``(batch, action_dim)``: the first action of the refined plan, before exploration noise; None in reactive mode."""


class Actor(nn.Module):
    """Mode 1 (reactive): one policy forward pass. Mode 2 (deliberative): a planner call."""

    def __init__(self, policy: Policy, planner: Planner) -> None:
        super().__init__()
        self.policy = policy
        self.planner = planner

    @torch.no_grad()
    def act(
        self,
        latent: torch.Tensor,
        mode: Mode,
        world_model: WorldModel,
        cost: CostModule,
        memory: ShortTermMemory,
        deterministic: bool = False,
    ) -> ActorOutput:
        """Choose actions ``(batch, action_dim)`` for latents ``(batch, latent_dim)``."""
        if mode == "reactive":
            # A stale plan must not warm-start a later deliberation.
            memory.previous_plan = None
            action, _ = self.policy(latent, deterministic=deterministic)
            return ActorOutput(action)
        if mode == "deliberative":
            result = self.planner.plan(latent, world_model, cost, self.policy, memory.previous_plan, deterministic)
            memory.previous_plan = result.plan
            return ActorOutput(result.action, result.cost_terms, result.plan[:, 0])
        raise ValueError(f"unknown actor mode {mode!r}; valid modes: 'reactive', 'deliberative'")
