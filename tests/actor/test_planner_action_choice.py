"""The action of a deterministic plan: the refit mean or one drawn elite.

The test world model rewards the actions -0.8 and +0.8 equally, so the elites split between two
modes and their weighted mean lies between them, where the reward is low.
"""

from __future__ import annotations

import pytest
import torch

from ami.actor import PLANNERS, SquashedGaussianPolicy
from ami.config import PlannerConfig, PolicyConfig, load_config
from ami.cost import CostModule
from tests.actor.test_planner_optimum import LinearQuadraticModel, ZeroCritic
from tests.tiny import tiny_spec

SPEC = tiny_spec(action_low=(-1.0,), action_high=(1.0,), obs_dim=1)
BEST_ACTION = 0.8


class TwoModeModel(LinearQuadraticModel):
    """Latent = observation, ``z' = z + a``, reward ``-(a^2 - 0.64)^2``: best at a = -0.8 and a = +0.8."""

    def __init__(self) -> None:
        super().__init__()
        self.latent_dim = 1

    def predict(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return latent + action

    def reward(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return -(action.square() - BEST_ACTION**2).square().sum(dim=-1)


def plan_action(deterministic_action: str, seed: int = 0) -> torch.Tensor:
    """Plan one step for four start states, deterministically, and return the actions ``(4, 1)``."""
    torch.manual_seed(seed)
    config = PlannerConfig(
        num_samples=512,
        horizon=1,
        iterations=1,
        num_elites=64,
        temperature=0.5,
        policy_fraction=0.0,
        deterministic_action=deterministic_action,
    )
    planner = PLANNERS.get("mppi")(config, SPEC)
    world_model = TwoModeModel()
    cost = CostModule(world_model, ZeroCritic(), intrinsic={}, task_weight=1.0, discount=0.99)
    policy = SquashedGaussianPolicy(PolicyConfig(hidden_dims=(8,)), SPEC, latent_dim=1)
    return planner.plan(torch.zeros(4, 1), world_model, cost, policy, deterministic=True).action


def action_cost(action: torch.Tensor) -> torch.Tensor:
    """Return the negative reward of the test model, ``(batch,)``."""
    return -TwoModeModel().reward(torch.zeros_like(action), action)


def test_mean_action_between_modes():
    action = plan_action("mean")

    # The elites split between -0.8 and +0.8, so their mean is near 0, where the cost is 0.41.
    assert action.abs().max() < 0.4
    assert action_cost(action).min() > 0.2


def test_elite_action_near_a_mode():
    action = plan_action("elite")

    # The drawn elite lies within 0.2 of a mode, where the cost is at most 0.13.
    torch.testing.assert_close(action.abs(), torch.full_like(action, BEST_ACTION), atol=0.2, rtol=0.0)
    assert action_cost(action).max() < 0.14


def test_elite_action_repeats_with_seed():
    torch.testing.assert_close(plan_action("elite", seed=3), plan_action("elite", seed=3), atol=0.0, rtol=0.0)


def test_unknown_deterministic_action_rejected():
    with pytest.raises(ValueError, match="deterministic_action"):
        load_config(None, ["actor.planner.deterministic_action=median"])
