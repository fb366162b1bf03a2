"""Ensemble critic with EMA targets for the cost beyond the planning horizon."""

from __future__ import annotations

import copy

import torch

from ami.config.schema import CriticConfig
from ami.cost.base import CRITICS, Critic
from ami.nn import EnsembleMLP, ema_update


@CRITICS.register("ensemble")
class EnsembleCritic(Critic):
    """``num_critics`` Q-networks (in cost form) evaluated in one batched call.

    As in REDQ (Chen et al., 2021) and TD-MPC2, planning and the policy use the mean of two
    randomly chosen members, and TD targets use the pessimistic one of two random target
    members: the max, since these networks predict costs.
    """

    def __init__(self, config: CriticConfig, latent_dim: int, action_dim: int) -> None:
        super().__init__()
        if config.num_critics < 2:
            raise ValueError(f"cost.critic.num_critics must be at least 2, got {config.num_critics}")
        self.config = config
        self.num_critics = config.num_critics
        self.net = EnsembleMLP(config.num_critics, latent_dim + action_dim, config.hidden_dims, 1)
        self.target_net = copy.deepcopy(self.net).requires_grad_(False)

    def _evaluate(
        self, net: EnsembleMLP, latent: torch.Tensor, action: torch.Tensor, members: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Cost-to-go ``(members, ...)`` of the chosen members (all when ``members`` is None)."""
        inputs = torch.cat([latent, action], dim=-1)
        leading = inputs.shape[:-1]
        num_members = self.num_critics if members is None else members.shape[0]
        flat = inputs.reshape(1, -1, inputs.shape[-1]).expand(num_members, -1, -1)
        return net(flat, members).reshape(num_members, *leading)

    def forward(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self._evaluate(self.net, latent, action)

    def _two_random(self, device: torch.device) -> torch.Tensor:
        return torch.randperm(self.num_critics, device=device)[:2]

    def cost_to_go(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self._evaluate(self.net, latent, action, self._two_random(latent.device)).mean(dim=0)

    @torch.no_grad()
    def target_cost_to_go(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self._evaluate(self.target_net, latent, action, self._two_random(latent.device)).max(dim=0).values

    def update_targets(self) -> None:
        ema_update(self.target_net, self.net, self.config.target_tau)
