"""Distillation of the planner into the reactive policy: a regression onto planned actions.

NOTE: no value of ``actor.policy.distill_coef`` is shown to help yet. In runs of
``experiments/configs/debug.toml`` on InvertedPendulum-v5 (5,000 env steps, seeds 0-2, CPU),
the reactive policy's mean final evaluation return was 423 without distillation, 105 with 0.1
and 70 with 1.0. Without distillation the planner's return (404) did not beat the policy's, so
these three seeds show no deliberative gain for distillation to keep.
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
