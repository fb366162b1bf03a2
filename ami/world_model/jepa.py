"""Single-level JEPA world model with an EMA target encoder."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from ami.config.schema import WorldModelConfig
from ami.memory.batch import TrajectoryBatch
from ami.nn import effective_rank, ema_update
from ami.perception.base import Encoder
from ami.spec import TaskSpec
from ami.world_model.base import WORLD_MODELS, WorldModel, WorldModelLoss
from ami.world_model.heads import LatentPredictor, RewardHead, TerminationHead
from ami.world_model.regularizers import covariance_loss, variance_loss


@WORLD_MODELS.register("jepa")
class JEPAWorldModel(WorldModel):
    """Online encoder, EMA target encoder, latent predictor, reward and termination heads.

    Loss over a sub-trajectory of ``H`` steps, with ``z_0 = encode(o_0)`` and
    ``z_{t+1} = predict(z_t, a_t)``::

        sum_t rho**t * (latent_coef * ||z_{t+1} - sg(target(o_{t+1}))||^2
                        + reward_coef * (r(z_t, a_t) - r_t)^2
                        + termination_coef * BCE(term(z_{t+1}), terminated_t)) / H
        + variance_coef * var(z_0) + covariance_coef * cov(z_0)

    Steps after the end of an episode are masked out.
    """

    def __init__(self, config: WorldModelConfig, spec: TaskSpec, encoder: Encoder) -> None:
        super().__init__()
        self.config = config
        self.latent_dim = encoder.latent_dim
        self.encoder = encoder
        self.target_encoder = copy.deepcopy(encoder).requires_grad_(False)
        self.predictor = LatentPredictor(self.latent_dim, spec.action_dim, config.hidden_dims)
        self.reward_head = RewardHead(self.latent_dim, spec.action_dim, config.hidden_dims)
        self.termination_head = TerminationHead(self.latent_dim, config.hidden_dims) if config.termination_head else None

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        return self.encoder(obs)

    @torch.no_grad()
    def encode_target(self, obs: torch.Tensor) -> torch.Tensor:
        return self.target_encoder(obs)

    def predict(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.predictor(latent, action)

    def reward(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.reward_head(latent, action)

    def termination_prob(self, next_latent: torch.Tensor) -> torch.Tensor:
        if self.termination_head is None:
            return next_latent.new_zeros(next_latent.shape[:-1])
        return torch.sigmoid(self.termination_head(next_latent))

    def observe(self, obs: torch.Tensor) -> None:
        self.encoder.observe(obs)
        self.target_encoder.observe(obs)

    def update_targets(self) -> None:
        ema_update(self.target_encoder, self.encoder, self.config.target_tau)

    def loss(self, batch: TrajectoryBatch) -> WorldModelLoss:
        config = self.config
        horizon = batch.horizon
        target_latents = self.encode_target(batch.next_obs)  # (H, B, D)

        # Roll the predictor forward from the encoded first observation.
        first_latent = self.encode(batch.obs)
        latents = [first_latent]
        for t in range(horizon):
            latents.append(self.predict(latents[-1], batch.actions[t]))
        latents_tensor = torch.stack(latents)  # (H + 1, B, D)
        predicted, current = latents_tensor[1:], latents_tensor[:-1]

        # Per-step losses, averaged over the valid entries of each step.
        valid = batch.mask.sum(dim=1).clamp_min(1.0)  # (H,)
        latent_error = (predicted - target_latents).square().mean(dim=-1)  # (H, B)
        latent_per_step = (latent_error * batch.mask).sum(dim=1) / valid
        reward_error = (self.reward(current, batch.actions) - batch.rewards).square()
        reward_per_step = (reward_error * batch.mask).sum(dim=1) / valid

        weights = config.rho ** torch.arange(horizon, device=first_latent.device, dtype=first_latent.dtype)
        latent_loss = (weights * latent_per_step).sum() / horizon
        reward_loss = (weights * reward_per_step).sum() / horizon
        total = config.latent_coef * latent_loss + config.reward_coef * reward_loss

        metrics: dict[str, torch.Tensor] = {}
        if self.termination_head is not None:
            logits = self.termination_head(predicted)
            termination_error = F.binary_cross_entropy_with_logits(logits, batch.terminated, reduction="none")
            termination_loss = (weights * (termination_error * batch.mask).sum(dim=1) / valid).sum() / horizon
            total = total + config.termination_coef * termination_loss
            metrics["world_model/termination_loss"] = termination_loss.detach()

        # Collapse regularizers on the online latents of real observations.
        var_loss = variance_loss(first_latent)
        cov_loss = covariance_loss(first_latent)
        total = total + config.variance_coef * var_loss + config.covariance_coef * cov_loss

        metrics.update(self._diagnostics(first_latent, latent_per_step))
        metrics["world_model/latent_loss"] = latent_loss.detach()
        metrics["world_model/reward_loss"] = reward_loss.detach()
        metrics["world_model/variance_loss"] = var_loss.detach()
        metrics["world_model/covariance_loss"] = cov_loss.detach()
        return WorldModelLoss(total, latents_tensor, target_latents, metrics)

    @torch.no_grad()
    def _diagnostics(self, latents: torch.Tensor, latent_per_step: torch.Tensor) -> dict[str, torch.Tensor]:
        metrics = {f"world_model/latent_loss/step_{t + 1}": loss for t, loss in enumerate(latent_per_step.detach())}
        metrics["world_model/embedding_std"] = latents.std(dim=0).mean()
        metrics["world_model/effective_rank"] = effective_rank(latents)
        return metrics
