"""Grounding heads that tie latents to what the environment reports."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ami.nn import mlp


class LatentPredictor(nn.Module):
    """Latent dynamics ``(latent, action) -> next latent``."""

    def __init__(self, latent_dim: int, action_dim: int, hidden_dims: Sequence[int]) -> None:
        super().__init__()
        self.net = mlp(latent_dim + action_dim, hidden_dims, latent_dim)

    def forward(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([latent, action], dim=-1))


class RewardHead(nn.Module):
    """Predicted reward ``(...)`` of ``(latent, action)``."""

    def __init__(self, latent_dim: int, action_dim: int, hidden_dims: Sequence[int]) -> None:
        super().__init__()
        self.net = mlp(latent_dim + action_dim, hidden_dims, 1)

    def forward(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([latent, action], dim=-1)).squeeze(-1)


class TerminationHead(nn.Module):
    """Logit ``(...)`` that the episode terminated on reaching a latent."""

    def __init__(self, latent_dim: int, hidden_dims: Sequence[int]) -> None:
        super().__init__()
        self.net = mlp(latent_dim, hidden_dims, 1)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.net(latent).squeeze(-1)
