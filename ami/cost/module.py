"""The cost module: intrinsic terms + task cost + critic, the energy the actor minimizes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ami.cost.base import Critic, IntrinsicCost
from ami.world_model.base import WorldModel


@dataclass
class TrajectoryCost:
    """Discounted cost of a batch of latent trajectories, in total and by term."""

    total: torch.Tensor
    """``(batch,)``."""
    terms: dict[str, torch.Tensor]
    """Weighted, discounted contribution ``(batch,)`` of each term: ``task``, each intrinsic
    term by name, and ``critic``; they add up to ``total``."""


class CostModule(nn.Module):
    """``cost = sum_i w_i * intrinsic_i + task_weight * (-predicted reward) + critic``.

    The per-step cost ``c_t`` of the first two parts is what the critic learns to sum beyond
    the horizon, so planning and TD learning optimize one quantity.
    """

    def __init__(
        self,
        world_model: WorldModel,
        critic: Critic,
        intrinsic: dict[str, tuple[float, IntrinsicCost]],
        task_weight: float,
        discount: float,
    ) -> None:
        super().__init__()
        # The world model is trained and owned elsewhere; keep it out of this module's
        # parameters and state_dict.
        self._world_model = (world_model,)
        self.critic = critic
        self.intrinsic_weights = {name: weight for name, (weight, _) in intrinsic.items()}
        self.intrinsic = nn.ModuleDict({name: term for name, (_, term) in intrinsic.items()})
        self.task_weight = task_weight
        self.discount = discount

    @property
    def world_model(self) -> WorldModel:
        return self._world_model[0]

    def step_terms(self, latent: torch.Tensor, action: torch.Tensor, reward: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Weighted per-step terms ``(...)``; ``reward`` replaces the predicted reward when given."""
        if reward is None:
            reward = self.world_model.reward(latent, action)
        terms = {"task": -self.task_weight * reward}
        for name, term in self.intrinsic.items():
            terms[name] = self.intrinsic_weights[name] * term(latent, action)
        return terms

    def step_cost(self, latent: torch.Tensor, action: torch.Tensor, reward: torch.Tensor | None = None) -> torch.Tensor:
        """Total per-step cost ``c_t`` ``(...)``."""
        return torch.stack(list(self.step_terms(latent, action, reward).values())).sum(dim=0)

    def trajectory_cost(
        self,
        latents: torch.Tensor,
        actions: torch.Tensor,
        terminal_policy: Callable[[torch.Tensor], torch.Tensor],
    ) -> TrajectoryCost:
        """Score rollouts: discounted step costs plus the critic at the horizon.

        Args:
            latents: ``(horizon + 1, batch, latent_dim)``, the start latent and the predicted ones.
            actions: ``(horizon, batch, action_dim)``.
            terminal_policy: maps the last latents ``(batch, latent_dim)`` to the actions
                ``(batch, action_dim)`` that the critic scores.

        A predicted termination stops later costs: each step is weighted by the predicted
        probability that the episode is still running.
        """
        horizon = actions.shape[0]
        step_terms = self.step_terms(latents[:-1], actions)  # each (H, batch)

        # P(alive before step t): 1 for t = 0, then cumulative (1 - p_terminated).
        termination = self.world_model.termination_prob(latents[1:])  # (H, batch)
        alive = torch.cumprod(torch.cat([torch.ones_like(termination[:1]), 1 - termination]), dim=0)
        discounts = self.discount ** torch.arange(horizon + 1, device=latents.device, dtype=latents.dtype)
        step_weights = (discounts[:-1, None] * alive[:-1])  # (H, batch)

        terms = {name: (step_weights * value).sum(dim=0) for name, value in step_terms.items()}
        final_latent = latents[-1]
        critic_cost = self.critic.cost_to_go(final_latent, terminal_policy(final_latent))
        terms["critic"] = discounts[-1] * alive[-1] * critic_cost
        total = torch.stack(list(terms.values())).sum(dim=0)
        return TrajectoryCost(total=total, terms=terms)
