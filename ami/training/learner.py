"""One gradient update of the world model, the critic and the policy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from ami.actor.base import Policy
from ami.config.schema import TrainConfig
from ami.cost.module import CostModule
from ami.memory.batch import TrajectoryBatch
from ami.world_model.base import WorldModel, WorldModelLoss


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
    """

    def __init__(self, world_model: WorldModel, cost: CostModule, policy: Policy, config: TrainConfig, rho: float) -> None:
        self.world_model = world_model
        self.cost = cost
        self.policy = policy
        self.config = config
        self.rho = rho

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

    def update(self, batch: TrajectoryBatch) -> dict[str, torch.Tensor]:
        # World model: multi-step latent prediction with grounding heads.
        prediction = self.world_model.loss(batch)
        metrics = dict(prediction.metrics)
        metrics["world_model/loss"] = prediction.loss.detach()
        metrics["world_model/grad_norm"] = self._step(self.model_optimizer, prediction.loss, self.world_model)

        # Critic: TD regression of the cost-to-go on the detached latents.
        critic_loss, critic_metrics = self._critic_loss(batch, prediction)
        metrics.update(critic_metrics)
        metrics["critic/grad_norm"] = self._step(self.critic_optimizer, critic_loss, self.cost.critic)

        # Policy: minimize the critic's cost; the critic is frozen so that only the policy learns.
        with frozen(self.cost.critic):
            policy_loss, policy_metrics = self.policy.loss(prediction.latents.detach(), self.cost)
            metrics.update(policy_metrics)
            metrics["actor/grad_norm"] = self._step(self.policy_optimizer, policy_loss, self.policy)

        # Targets follow the online networks.
        self.world_model.update_targets()
        self.cost.critic.update_targets()
        return metrics

    def _step(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor, module: nn.Module) -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(module.parameters(), self.config.grad_clip_norm)
        optimizer.step()
        return grad_norm.detach()

    def _critic_loss(self, batch: TrajectoryBatch, prediction: WorldModelLoss) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        latents = prediction.latents[:-1].detach()  # (H, B, D): the latent in which a_t was taken.
        with torch.no_grad():
            next_latents = self.world_model.encode(batch.next_obs)
            next_actions, _ = self.policy(next_latents)
            step_cost = self.cost.step_cost(latents, batch.actions, reward=batch.rewards)
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

    def state_dict(self) -> dict:
        return {
            "model_optimizer": self.model_optimizer.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
            "policy_optimizer": self.policy_optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.model_optimizer.load_state_dict(state["model_optimizer"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        self.policy_optimizer.load_state_dict(state["policy_optimizer"])
