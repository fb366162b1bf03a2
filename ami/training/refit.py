"""Refit the critic and the policy to a new cost from the replay buffer, on the frozen world model.

After re-tasking, the critic still predicts the cost-to-go of the training cost. The planner
then either trusts a critic of another task or, with ``critic_weight = 0``, scores no step
beyond its horizon, too short to find a gait for a new target speed. Refitting learns the
cost-to-go of the new cost by TD on the stored transitions, and trains the policy against it:
no env steps, and the world model and the quantity heads stay as they are.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import torch

from agents.ami_agent import AMIAgent
from ami.build import instantiate
from ami.cost.base import CRITICS
from ami.training.learner import Learner, TrainingDivergedError
from ami.training.retask import rollout_latents

logger = logging.getLogger(__name__)


class RefitDivergedError(ValueError):
    """The critic's TD loss stayed non-finite under the new cost, which usually means step costs too large for float32."""


@dataclass(frozen=True)
class RefitReport:
    """Length, duration and final critic figures of one refit, for logs and printed results."""

    steps: int
    seconds: float
    critic_loss: float
    """Mean TD loss of the critic over the last tenth of the steps."""
    cost_to_go: float
    """Mean predicted cost-to-go on those steps, in units of the new step cost."""


def refit_critic_and_policy(agent: AMIAgent, steps: int, batch_size: int | None = None, log_every: int = 1000) -> RefitReport:
    """Train a fresh critic and the agent's policy under ``agent``'s current cost for ``steps`` updates.

    The critic starts from new weights, because the old one predicts another cost. The policy
    starts from its trained weights, so it begins from a gait that the replay and the world
    model cover. Batches come from ``agent.modules.replay``, which must contain the run's transitions. The
    agent's learner is replaced by one that owns the new critic's optimizer.
    """
    if steps < 1:
        raise ValueError(f"invalid number of refit steps {steps!r}; give a positive number of updates")
    modules, config = agent.modules, agent.config
    horizon = config.world_model.horizon
    if len(modules.replay) < horizon:
        raise ValueError(
            f"the replay buffer holds {len(modules.replay)} steps, too few to refit the critic (it needs at least {horizon}); "
            "evaluate a run whose checkpoint kept its replay buffer"
        )
    batch_size = batch_size or config.memory.batch_size

    critic_config = config.cost.critic
    critic = instantiate(
        CRITICS, critic_config.name, "cost.critic.name",
        critic_config, modules.world_model.latent_dim, agent.spec.action_dim, **critic_config.options,
    )
    modules.cost.critic = critic.to(agent.device)
    learner = Learner(modules.world_model, modules.cost, modules.actor.policy, config.train, config.world_model.rho)
    agent.learner = learner

    logger.info("refitting a new critic and the policy to the new cost: %d updates on %d replay steps", steps, len(modules.replay))
    start = time.perf_counter()
    tail = max(1, steps // 10)
    losses, costs_to_go = [], []
    for step in range(1, steps + 1):
        batch = modules.replay.sample(batch_size, horizon)
        try:
            metrics = learner.update_critic_and_policy(batch, rollout_latents(modules.world_model, batch))
        except TrainingDivergedError:
            raise RefitDivergedError(
                f"refitting the critic to the new cost diverged at update {step}: {learner.nonfinite_updates_in_a_row} "
                "updates in a row had a non-finite loss or gradient. The new cost's step costs are probably too large; "
                "lower its weights or targets"
            ) from None
        if step > steps - tail and "critic/loss" in metrics:
            losses.append(metrics["critic/loss"])
            costs_to_go.append(metrics["critic/cost_to_go"])
        if step % log_every == 0:
            logger.info(
                "refit step %d/%d: critic loss %.4g, cost-to-go %.4g",
                step, steps, float(metrics.get("critic/loss", math.nan)), float(metrics.get("critic/cost_to_go", math.nan)),
            )
    seconds = time.perf_counter() - start

    report = RefitReport(steps, seconds, mean_or_nan(losses), mean_or_nan(costs_to_go))
    logger.info("refit done in %.1f s: critic loss %.4g, cost-to-go %.4g", seconds, report.critic_loss, report.cost_to_go)
    return report


def mean_or_nan(values: list[torch.Tensor]) -> float:
    return float(torch.stack(values).mean()) if values else math.nan
