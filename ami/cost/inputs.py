"""Inputs of cost terms at a batch of steps, each part computed once on first use."""

from __future__ import annotations

import torch

from ami.cost.base import Critic
from ami.cost.quantity_heads import QuantityHeads
from ami.world_model.base import WorldModel


class CostInputs:
    """The latent ``(..., latent_dim)`` and action ``(..., action_dim)`` of some steps, and what derives from them.

    The predicted reward, the critic members and each predicted quantity are computed on the
    first request and cached, so several terms that read one of them cost one network call.
    ``reward`` and ``quantities`` given to the constructor replace the predictions, e.g. with
    values read from real observations.
    """

    def __init__(
        self,
        latent: torch.Tensor,
        action: torch.Tensor,
        world_model: WorldModel,
        critic: Critic,
        quantity_heads: QuantityHeads,
        reward: torch.Tensor | None = None,
        quantities: dict[str, torch.Tensor] | None = None,
    ) -> None:
        self.latent = latent
        self.action = action
        self._world_model = world_model
        self._critic = critic
        self._quantity_heads = quantity_heads
        self._reward = reward
        self._critic_members: torch.Tensor | None = None
        self._quantities: dict[str, torch.Tensor] = dict(quantities or {})

    def reward(self) -> torch.Tensor:
        """Reward ``(...)``: the one given (e.g. the environment's, for TD targets), else the world model's prediction."""
        if self._reward is None:
            self._reward = self._world_model.reward(self.latent, self.action)
        return self._reward

    def critic_members(self) -> torch.Tensor:
        """Cost-to-go ``(num_critics, ...)`` of every critic member, from the online networks."""
        if self._critic_members is None:
            self._critic_members = self._critic(self.latent, self.action)
        return self._critic_members

    def quantity(self, name: str) -> torch.Tensor:
        """Physical quantity ``name`` ``(...)``: the value given to the constructor, else its quantity head's prediction."""
        if name not in self._quantities:
            self._quantities[name] = self._quantity_heads.predict(name, self.latent)
        return self._quantities[name]
