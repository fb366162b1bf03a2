"""One level above level 0 of a hierarchical JEPA world model."""

from __future__ import annotations

import copy

import torch
from torch import nn

from ami.config.schema import LevelConfig
from ami.nn import ema_update, mlp
from ami.world_model.chunk_encoder import ActionChunkEncoder
from ami.world_model.heads import LatentPredictor, RewardHead


class WorldModelLevel(nn.Module):
    """Abstraction encoder, its EMA target, action-chunk encoder, predictor and reward head of one level.

    One step of this level spans ``span`` env steps. Its latent ``(..., latent_dim)`` is the
    abstraction of the latent of the level below, ``(..., lower_latent_dim)``. Its
    macro-action ``(..., macro_action_dim)`` encodes the ``span`` env actions of one step. The
    predictor maps ``(latent, macro-action)`` to the latent ``span`` env steps later. The
    reward head predicts the sum of the rewards of those env steps, discounted by
    ``config.reward_discount`` per env step.
    """

    def __init__(self, config: LevelConfig, lower_latent_dim: int, action_dim: int, span: int) -> None:
        super().__init__()
        self.config = config
        self.span = span
        self.latent_dim = config.latent_dim
        self.abstraction = mlp(lower_latent_dim, config.hidden_dims, config.latent_dim)
        self.target_abstraction = copy.deepcopy(self.abstraction).requires_grad_(False)
        self.chunk_encoder = ActionChunkEncoder(span, action_dim, config.hidden_dims, config.macro_action_dim)
        self.predictor = LatentPredictor(config.latent_dim, config.macro_action_dim, config.hidden_dims)
        self.reward_head = RewardHead(config.latent_dim, config.macro_action_dim, config.hidden_dims)

    def abstract(self, lower_latent: torch.Tensor) -> torch.Tensor:
        """Online latent of this level ``(..., latent_dim)`` from the latent of the level below."""
        return self.abstraction(lower_latent)

    @torch.no_grad()
    def abstract_target(self, lower_target_latent: torch.Tensor) -> torch.Tensor:
        """Stop-gradient EMA-target latent of this level from the EMA-target latent of the level below."""
        return self.target_abstraction(lower_target_latent)

    def encode_actions(self, actions: torch.Tensor) -> torch.Tensor:
        """Macro-action ``(..., macro_action_dim)`` of env actions ``(..., span, action_dim)``."""
        return self.chunk_encoder(actions)

    def predict(self, latent: torch.Tensor, macro_action: torch.Tensor) -> torch.Tensor:
        """Latent ``(..., latent_dim)`` one step of this level (``span`` env steps) later."""
        return self.predictor(latent, macro_action)

    def reward(self, latent: torch.Tensor, macro_action: torch.Tensor) -> torch.Tensor:
        """Predicted discounted reward sum ``(...)`` over the env steps of ``macro_action``."""
        return self.reward_head(latent, macro_action)

    def update_target(self, tau: float) -> None:
        ema_update(self.target_abstraction, self.abstraction, tau)
