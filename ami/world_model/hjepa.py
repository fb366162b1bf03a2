"""Hierarchical JEPA world model: level 0 is the JEPA model, higher levels predict further ahead."""

from __future__ import annotations

import torch
from torch import nn

from ami.config.schema import LevelConfig, WorldModelConfig
from ami.memory.batch import TrajectoryBatch
from ami.nn import effective_rank
from ami.perception.base import Encoder
from ami.spec import TaskSpec
from ami.world_model.base import WORLD_MODELS, WorldModelLoss
from ami.world_model.jepa import JEPAWorldModel
from ami.world_model.level import WorldModelLevel
from ami.world_model.regularizers import covariance_loss, variance_loss

DEFAULT_LEVELS = (LevelConfig(),)
"""Levels of ``hjepa`` when ``world_model.levels`` is empty: one level with the defaults."""


@WORLD_MODELS.register("hjepa")
class HJEPAWorldModel(JEPAWorldModel):
    """JEPA world model (level 0) plus the levels of ``world_model.levels`` above it.

    Level ``l`` abstracts the latent of level ``l - 1``, and one of its steps spans
    ``span_l = k_1 * ... * k_l`` env steps. Its macro-action encodes the ``span_l`` env actions
    of that step. Its loss over ``H_l = levels[l - 1].horizon`` steps, with
    ``u_0 = abstract_l(z_0)`` (the online chain from the encoded first observation) and
    ``u_{h+1} = predict_l(u_h, m_h)``, is::

        loss_coef * (sum_h rho**h * (latent_coef * ||u_{h+1} - sg(target_l(o_{span_l * (h + 1)}))||^2
                                     + reward_coef * (r_l(u_h, m_h) - sum_j gamma**j r_{span_l * h + j})^2) / H_l
                     + variance_coef * var(u_0) + covariance_coef * cov(u_0))

    ``target_l`` is the EMA target encoder followed by the EMA targets of the abstractions up
    to level ``l``. A latent step counts only when its whole chunk lies in the episode of the
    first step. A reward step also counts when the episode terminated inside the chunk, so the
    reward head learns that termination ends the rewards. A truncated chunk does not count.

    The level-0 methods (``encode``, ``predict``, ``reward``, ...) and the level-0 part of
    ``loss`` are those of ``JEPAWorldModel``, so callers of the flat model work unchanged. Level
    ``l >= 1`` is ``self.level(l)``. Gradients of the level losses reach the level-0 encoder
    through the abstraction encoders.
    """

    def __init__(self, config: WorldModelConfig, spec: TaskSpec, encoder: Encoder) -> None:
        super().__init__(config, spec, encoder=encoder)
        levels = []
        lower_latent_dim, span = self.latent_dim, 1
        for level_config in config.levels or DEFAULT_LEVELS:
            span *= level_config.k
            levels.append(WorldModelLevel(level_config, lower_latent_dim, spec.action_dim, span))
            lower_latent_dim = level_config.latent_dim
        self.levels = nn.ModuleList(levels)

    @property
    def num_levels(self) -> int:
        """Number of levels, level 0 included."""
        return 1 + len(self.levels)

    @property
    def level_spans(self) -> tuple[int, ...]:
        return (1, *(level.span for level in self.levels))

    @property
    def required_sequence_length(self) -> int:
        return max(self.config.horizon, *(level.span * level.config.horizon for level in self.levels))

    def level(self, index: int) -> WorldModelLevel:
        """Return the modules of level ``index``, counted from 1 (level 0 is this model itself)."""
        if not 1 <= index < self.num_levels:
            raise IndexError(f"level {index} does not exist; this model has levels 1 to {self.num_levels - 1} above level 0")
        return self.levels[index - 1]

    def abstract(self, latent: torch.Tensor, level: int = 1) -> torch.Tensor:
        """Online latent of ``level`` from a level-0 latent ``(..., latent_dim)``, through every level in between."""
        for index in range(1, level + 1):
            latent = self.level(index).abstract(latent)
        return latent

    @torch.no_grad()
    def abstract_target(self, target_latent: torch.Tensor, level: int = 1) -> torch.Tensor:
        """EMA-target latent of ``level`` from a level-0 EMA-target latent, through every level in between."""
        for index in range(1, level + 1):
            target_latent = self.level(index).abstract_target(target_latent)
        return target_latent

    def update_targets(self) -> None:
        super().update_targets()
        for level in self.levels:
            level.update_target(self.config.target_tau)

    def loss(self, batch: TrajectoryBatch) -> WorldModelLoss:
        required = self.required_sequence_length
        if batch.horizon < required:
            raise ValueError(
                f"hjepa needs sub-trajectories of {required} steps (max of world_model.horizon and k * horizon of each level), "
                f"got {batch.horizon}; sample them with length world_model.required_sequence_length"
            )
        flat = super().loss(batch.prefix(self.config.horizon))
        total = flat.loss
        metrics = dict(flat.metrics)

        # All levels share one pass of the target encoder over every next observation.
        target_latents = self.encode_target(batch.next_obs)  # (L, B, D0)
        lower_latent = flat.latents[0]  # (B, D0): online latent of the first observation
        for index in range(1, self.num_levels):
            level_loss, level_latent, level_metrics = self._level_loss(index, lower_latent, target_latents, batch)
            total = total + self.level(index).config.loss_coef * level_loss
            metrics.update(level_metrics)
            lower_latent = level_latent
        return WorldModelLoss(total, flat.latents, flat.target_latents, metrics)

    def _level_loss(
        self, index: int, lower_latent: torch.Tensor, target_latents: torch.Tensor, batch: TrajectoryBatch
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Loss of level ``index``, its online first latent ``(B, D_l)`` and its metrics.

        ``lower_latent`` is the online first latent of the level below, ``target_latents`` the
        level-0 EMA-target latents ``(L, B, D0)`` of every next observation.
        """
        level = self.level(index)
        config, span, horizon = level.config, level.span, level.config.horizon
        _, batch_size, action_dim = batch.actions.shape
        device, dtype = lower_latent.device, lower_latent.dtype

        # Macro-actions of the first ``horizon`` chunks: (span * H, B, A) -> (H, B, span, A).
        chunks = batch.actions[: span * horizon].reshape(horizon, span, batch_size, action_dim).transpose(1, 2)
        macro_actions = level.encode_actions(chunks)  # (H, B, M)

        # Targets: the observation after the last env step of each chunk, through the target chain.
        chunk_ends = torch.arange(1, horizon + 1, device=device) * span - 1  # (H,)
        targets = self.abstract_target(target_latents[chunk_ends], level=index)  # (H, B, D_l)

        # Roll the level's predictor forward from the abstraction of the first latent.
        first_latent = level.abstract(lower_latent)
        latents = [first_latent]
        for h in range(horizon):
            latents.append(level.predict(latents[-1], macro_actions[h]))
        latents_tensor = torch.stack(latents)  # (H + 1, B, D_l)
        predicted, current = latents_tensor[1:], latents_tensor[:-1]

        # Discounted reward sum of each chunk and the steps that count.
        mask = batch.mask[: span * horizon].reshape(horizon, span, batch_size)
        rewards = batch.rewards[: span * horizon].reshape(horizon, span, batch_size)
        terminated = batch.terminated[: span * horizon].reshape(horizon, span, batch_size)
        # NOTE: reward_discount is a field of its own. The planner discounts between level-1 steps
        # with the resolved cost.discount, so the two agree only when the config sets them equal.
        discounts = config.reward_discount ** torch.arange(span, device=device, dtype=dtype)
        reward_targets = (discounts[None, :, None] * rewards * mask).sum(dim=1)  # (H, B)
        latent_valid = mask[:, -1]  # (H, B): the whole chunk is in the first step's episode
        terminated_inside = ((terminated * mask).sum(dim=1) > 0).to(dtype)
        reward_valid = mask[:, 0] * torch.clamp(latent_valid + terminated_inside, max=1.0)

        latent_error = (predicted - targets).square().mean(dim=-1)  # (H, B)
        latent_per_step = (latent_error * latent_valid).sum(dim=1) / latent_valid.sum(dim=1).clamp_min(1.0)
        reward_error = (level.reward(current, macro_actions) - reward_targets).square()
        reward_per_step = (reward_error * reward_valid).sum(dim=1) / reward_valid.sum(dim=1).clamp_min(1.0)

        weights = self.config.rho ** torch.arange(horizon, device=device, dtype=dtype)
        latent_loss = (weights * latent_per_step).sum() / horizon
        reward_loss = (weights * reward_per_step).sum() / horizon
        var_loss = variance_loss(first_latent)
        cov_loss = covariance_loss(first_latent)
        loss = (
            config.latent_coef * latent_loss
            + config.reward_coef * reward_loss
            + config.variance_coef * var_loss
            + config.covariance_coef * cov_loss
        )

        prefix = f"world_model/level_{index}"
        metrics = {f"{prefix}/latent_loss/step_{h + 1}": value for h, value in enumerate(latent_per_step.detach())}
        metrics.update(
            {
                f"{prefix}/loss": loss.detach(),
                f"{prefix}/latent_loss": latent_loss.detach(),
                f"{prefix}/reward_loss": reward_loss.detach(),
                f"{prefix}/variance_loss": var_loss.detach(),
                f"{prefix}/covariance_loss": cov_loss.detach(),
            }
        )
        with torch.no_grad():
            metrics[f"{prefix}/embedding_std"] = first_latent.std(dim=0).mean()
            metrics[f"{prefix}/effective_rank"] = effective_rank(first_latent)
        return loss, first_latent, metrics
