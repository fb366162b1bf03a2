"""Distillation of the planner into the reactive policy: a regression onto planned actions.

On HalfCheetah-v5 at 10,000 env steps with deliberative data collection, a weight of 1 raised
the reactive return from 1632 to 2204 while the planner without distillation scored 2744, so
the policy kept about half of the planning gain (``experiments/RESULTS.md``).

NOTE: where the planner does not beat the policy, the term has no gain to pass on and can
hurt: on the debug config on InvertedPendulum-v5 at 5,000 env steps it lowered the mean
reactive return from 423 to 105 (weight 0.1) and 70 (weight 1.0). Tune the weight per task.
"""

from __future__ import annotations

import torch

from ami.actor.base import Policy


def distillation_loss(
    policy: Policy, latents: torch.Tensor, planned_actions: torch.Tensor, weights: torch.Tensor
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Mean squared error between the policy's deterministic actions and the planned actions.

    Args:
        latents: ``(horizon, batch, latent_dim)``, detached latents of the states the actions were taken in.
        planned_actions: ``(horizon, batch, action_dim)``, the planner's noise-free actions.
        weights: ``(horizon, batch)``, float 0/1: 1 for planned steps of the sub-trajectory's episode.

    The error is averaged over action dimensions and over the steps with weight 1, so it is 0
    when no step has weight 1. It regresses the deterministic action rather than maximizing the
    log-likelihood of the planned action, because the planner often clamps actions to the
    bounds, where the tanh-squashed Gaussian's log-likelihood is unbounded.
    """
    actions, _ = policy(latents, deterministic=True)  # (H, B, A)
    error = (actions - planned_actions).square().mean(dim=-1)  # (H, B)
    loss = (error * weights).sum() / weights.sum().clamp_min(1.0)
    metrics = {
        "actor/distill_loss": loss.detach(),
        "actor/planned_share": weights.mean().detach(),
    }
    return loss, metrics
