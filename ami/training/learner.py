"""One gradient update of the world model, the critic and the policy."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from ami.actor.base import Policy
from ami.actor.distillation import distillation_loss
from ami.config.schema import TrainConfig
from ami.configurator.goal import latents_by_level
from ami.cost.goal import find_goal_terms
from ami.cost.goal_distance import GoalTemporalDistance
from ami.cost.module import CostModule
from ami.cost.quantity_heads import quantity_loss
from ami.cost.safety import QuantityRange
from ami.memory.batch import TrajectoryBatch
from ami.world_model.base import WorldModel

logger = logging.getLogger(__name__)


class TrainingDivergedError(RuntimeError):
    """Too many updates in a row had a non-finite loss or gradient."""


@contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Turn off gradients of ``module``'s parameters, restoring each one's flag on exit."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


class Learner:
    """Owns the optimizers; ``update`` returns detached metrics by TensorBoard tag.

    The critic learns on detached world-model latents with its own optimizer, so the large
    scale of TD errors early in training never swamps the prediction loss of the encoder.

    Each optimizer step is guarded: a non-finite loss or gradient norm skips that step, so the
    parameters and optimizer state stay as they were, and drops that module's metrics from the
    update. After ``config.max_nonfinite_updates`` updates in a row with a skipped step,
    ``update`` raises TrainingDivergedError. The check costs one device-to-host copy per step.

    With ``distill_coef > 0`` the policy loss adds ``distill_coef`` times the distillation
    term (``ami.actor.distillation``), which pulls the policy toward the planner's actions at
    the replay steps that the planner chose.
    """

    def __init__(
        self, world_model: WorldModel, cost: CostModule, policy: Policy, config: TrainConfig, rho: float, distill_coef: float = 0.0
    ) -> None:
        if not (math.isfinite(distill_coef) and distill_coef >= 0):
            raise ValueError(f"invalid distill_coef {distill_coef!r}; it must be finite and >= 0 (0 turns distillation off)")
        self.world_model = world_model
        self.cost = cost
        self.policy = policy
        self.config = config
        self.rho = rho
        self.distill_coef = distill_coef

        encoder_params = list(world_model.encoder.parameters())
        encoder_ids = {id(p) for p in encoder_params}
        other_params = [p for p in world_model.parameters() if p.requires_grad and id(p) not in encoder_ids]
        lr = config.learning_rate
        groups = [{"params": other_params}, {"params": encoder_params, "lr": lr * config.encoder_lr_scale}]
        self.model_optimizer = torch.optim.Adam(groups, lr=lr)
        # Only trainable parameters: the critic's EMA targets never get gradients.
        critic_params = [p for p in cost.critic.parameters() if p.requires_grad]
        self.critic_optimizer = torch.optim.Adam(critic_params, lr=lr)
        self.policy_optimizer = torch.optim.Adam(policy.parameters(), lr=lr, eps=1e-5)
        self.skipped_steps = {"world_model": 0, "critic": 0, "actor": 0}
        # Heads exist only for the quantities that the configured cost terms read.
        quantity_params = list(cost.quantity_heads.parameters())
        self.quantity_optimizer = torch.optim.Adam(quantity_params, lr=lr) if quantity_params else None
        if self.quantity_optimizer is not None:
            self.skipped_steps["quantity"] = 0
        # Learned goal distances train on replay windows of their own, reward-free.
        self.goal_distance_terms = [term for _, term in find_goal_terms(cost) if isinstance(term, GoalTemporalDistance)]
        self.goal_distance_heads = nn.ModuleList([term.heads for term in self.goal_distance_terms])
        goal_params = list(self.goal_distance_heads.parameters())
        self.goal_distance_optimizer = torch.optim.Adam(goal_params, lr=lr) if goal_params else None
        if self.goal_distance_optimizer is not None:
            self.skipped_steps["goal_distance"] = 0
        self.nonfinite_updates_in_a_row = 0

    def update(self, batch: TrajectoryBatch, goal_windows: list[TrajectoryBatch] | None = None) -> dict[str, torch.Tensor]:
        """Take one step of every trained module; return detached metrics by tag.

        ``goal_windows`` contains one replay batch of ``term.window`` steps for each term in
        ``goal_distance_terms``. Without it, this update leaves the goal distances as they are.
        """
        # World model: multi-step latent prediction with grounding heads.
        prediction = self.world_model.loss(batch)
        metrics = dict(prediction.metrics)
        metrics["world_model/loss"] = prediction.loss.detach()
        metrics["world_model/grad_norm"] = self._step("world_model", self.model_optimizer, prediction.loss, self.world_model)

        # Quantity heads: regress the quantities that cost terms read on the detached latents, so
        # that the heads never change the world model and a new cost can reuse it unchanged.
        latents = prediction.latents.detach()
        if self.quantity_optimizer is not None:
            heads_loss, heads_metrics = quantity_loss(self.cost.quantity_heads, latents, batch)
            metrics.update(heads_metrics)
            metrics["quantity/grad_norm"] = self._step("quantity", self.quantity_optimizer, heads_loss, self.cost.quantity_heads)
        metrics.update(self._safety_metrics(batch))

        # A hierarchical model samples longer sub-trajectories than its level-0 rollout, whose
        # steps the critic and the policy use.
        metrics.update(self._update_critic_and_policy(batch.prefix(latents.shape[0] - 1), latents))

        if goal_windows is not None and self.goal_distance_terms:
            metrics.update(self._goal_distance_step(goal_windows))

        # Targets follow the online networks.
        self.world_model.update_targets()
        return self._guard(metrics)

    def _goal_distance_step(self, goal_windows: list[TrajectoryBatch]) -> dict[str, torch.Tensor | None]:
        """Take one step of the learned goal distances on detached online latents of every level."""
        if len(goal_windows) != len(self.goal_distance_terms):
            raise ValueError(
                f"invalid goal_windows: {len(goal_windows)} batches for {len(self.goal_distance_terms)} goal distance terms; "
                "pass one replay batch per term"
            )
        loss = 0.0
        metrics: dict[str, torch.Tensor | None] = {}
        for term, window in zip(self.goal_distance_terms, goal_windows):
            with torch.no_grad():
                obs = torch.cat([window.obs[None], window.next_obs])  # (W + 1, B, obs_dim)
                latents = latents_by_level(self.world_model, obs)
            term_loss, term_metrics = term.loss(latents, window.mask)
            loss = loss + term_loss
            metrics.update(term_metrics)
        metrics["goal_distance/grad_norm"] = self._step("goal_distance", self.goal_distance_optimizer, loss, self.goal_distance_heads)
        for term in self.goal_distance_terms:
            term.update_targets()
        return metrics

    def update_critic_and_policy(self, batch: TrajectoryBatch, latents: torch.Tensor) -> dict[str, torch.Tensor]:
        """Take one critic step and one policy step on a frozen world model; return detached metrics by tag.

        Args:
            batch: ``H`` transitions per sub-trajectory.
            latents: ``(H + 1, B, latent_dim)``, detached: the encoded first observation, then
                the world model's predictions, as ``update`` feeds them.

        Refits the critic and the policy to a new cost without changing the world model. Skipped
        steps count toward ``config.max_nonfinite_updates`` as in ``update``.
        """
        return self._guard(self._update_critic_and_policy(batch, latents))

    def _update_critic_and_policy(self, batch: TrajectoryBatch, latents: torch.Tensor) -> dict[str, torch.Tensor | None]:
        """Take the critic and policy steps of ``update_critic_and_policy``; skipped steps get ``None`` gradient norms."""
        # Critic: TD regression of the cost-to-go on the detached latents.
        critic_loss, metrics = self._critic_loss(batch, latents)
        metrics["critic/grad_norm"] = self._step("critic", self.critic_optimizer, critic_loss, self.cost.critic)

        # Policy: minimize the critic's cost; the critic is frozen so that only the policy learns.
        with frozen(self.cost.critic):
            policy_loss, policy_metrics = self.policy.loss(latents, self.cost)
            metrics.update(policy_metrics)
            if self.distill_coef > 0:
                distill_loss, distill_metrics = self._distillation_loss(batch, latents)
                policy_loss = policy_loss + self.distill_coef * distill_loss
                metrics.update(distill_metrics)
            metrics["actor/grad_norm"] = self._step("actor", self.policy_optimizer, policy_loss, self.policy)

        self.cost.critic.update_targets()
        return metrics

    def _step(self, name: str, optimizer: torch.optim.Optimizer, loss: torch.Tensor, module: nn.Module) -> torch.Tensor | None:
        """Take one optimizer step; return the gradient norm, or None when the step was skipped."""
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(module.parameters(), self.config.grad_clip_norm)
        if not bool(torch.isfinite(loss.detach()) & torch.isfinite(grad_norm)):
            optimizer.zero_grad(set_to_none=True)
            self.skipped_steps[name] += 1
            logger.warning(
                "skipped the %s step: loss %s, gradient norm %s (%d %s steps skipped so far)",
                name, float(loss.detach()), float(grad_norm), self.skipped_steps[name], name,
            )
            return None
        optimizer.step()
        return grad_norm.detach()

    def _guard(self, metrics: dict[str, torch.Tensor | None]) -> dict[str, torch.Tensor]:
        """Drop the metrics of skipped steps and stop the run after too many bad updates in a row."""
        # Only the modules that this update stepped have a gradient norm in ``metrics``.
        skipped = [name for name in self.skipped_steps if f"{name}/grad_norm" in metrics and metrics[f"{name}/grad_norm"] is None]
        if not skipped:
            self.nonfinite_updates_in_a_row = 0
            return metrics

        self.nonfinite_updates_in_a_row += 1
        if self.nonfinite_updates_in_a_row >= self.config.max_nonfinite_updates:
            raise TrainingDivergedError(
                f"{self.nonfinite_updates_in_a_row} updates in a row had a non-finite loss or gradient "
                f"(skipped steps: {self.skipped_steps}); training diverged. Lower train.learning_rate or "
                "train.grad_clip_norm, or raise train.max_nonfinite_updates to tolerate longer bursts"
            )
        return {tag: value for tag, value in metrics.items() if tag.split("/", 1)[0] not in skipped}

    def _distillation_loss(self, batch: TrajectoryBatch, latents: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Compute the distillation term on the steps of ``batch`` whose action the planner chose, from ``latents (H + 1, B, D)``."""
        if batch.planned is None or batch.planned_actions is None:
            raise ValueError(
                "actor.policy.distill_coef > 0 needs a replay that records planned actions, but the sampled batch has none; "
                "use the 'trajectory' replay or set actor.policy.distill_coef = 0"
            )
        # Latent t is the state in which action t was taken: the encoded first observation at t = 0,
        # the world model's prediction after it, as in the policy and critic losses. Steps after an
        # episode end do not count.
        weights = batch.planned * batch.mask
        return distillation_loss(self.policy, latents[:-1], batch.planned_actions, weights)

    def _critic_loss(self, batch: TrajectoryBatch, latents: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        latents = latents[:-1]  # (H, B, D): the latent in which a_t was taken.
        with torch.no_grad():
            next_latents = self.world_model.encode(batch.next_obs)
            next_actions, _ = self.policy(next_latents)
            step_cost = self.cost.step_cost(latents, batch.actions, reward=batch.rewards, critic_target=True)
            bootstrap = self.cost.critic.target_cost_to_go(next_latents, next_actions)
            td_target = step_cost + self.cost.discount * (1 - batch.terminated) * bootstrap  # (H, B)

        predicted = self.cost.critic(latents, batch.actions)  # (num_critics, H, B)
        error = (predicted - td_target[None]).square().mean(dim=0)  # (H, B)
        valid = batch.mask.sum(dim=1).clamp_min(1.0)
        per_step = (error * batch.mask).sum(dim=1) / valid
        weights = self.rho ** torch.arange(batch.horizon, device=per_step.device, dtype=per_step.dtype)
        loss = (weights * per_step).sum() / batch.horizon
        metrics = {
            "critic/loss": loss.detach(),
            "critic/cost_to_go": predicted.mean().detach(),
            "critic/td_target": td_target.mean(),
        }
        return loss, metrics

    @torch.no_grad()
    def _safety_metrics(self, batch: TrajectoryBatch) -> dict[str, torch.Tensor]:
        """Share of the sampled next observations that violate each safety limit, read from the observations."""
        metrics = {}
        for name, term in self.cost.safety.items():
            if isinstance(term, QuantityRange):
                violated = term.observed_violation(batch.next_obs).float()  # (H, B)
                rate = (violated * batch.mask).sum() / batch.mask.sum().clamp_min(1.0)
                metrics[f"safety/{name}/violation_rate"] = rate
        return metrics

    def state_dict(self) -> dict:
        state = {
            "model_optimizer": self.model_optimizer.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
            "policy_optimizer": self.policy_optimizer.state_dict(),
            "skipped_steps": dict(self.skipped_steps),
            "nonfinite_updates_in_a_row": self.nonfinite_updates_in_a_row,
        }
        if self.quantity_optimizer is not None:
            state["quantity_optimizer"] = self.quantity_optimizer.state_dict()
        if self.goal_distance_optimizer is not None:
            state["goal_distance_optimizer"] = self.goal_distance_optimizer.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.model_optimizer.load_state_dict(state["model_optimizer"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        self.policy_optimizer.load_state_dict(state["policy_optimizer"])
        if self.quantity_optimizer is not None and "quantity_optimizer" in state:
            self.quantity_optimizer.load_state_dict(state["quantity_optimizer"])
        if self.goal_distance_optimizer is not None and "goal_distance_optimizer" in state:
            self.goal_distance_optimizer.load_state_dict(state["goal_distance_optimizer"])
        self.skipped_steps = dict(state.get("skipped_steps", self.skipped_steps))
        self.nonfinite_updates_in_a_row = state.get("nonfinite_updates_in_a_row", 0)
