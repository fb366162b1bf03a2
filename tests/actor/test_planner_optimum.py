"""MPPI and CEM find the known optimum of a linear-quadratic problem.

The test world model has linear latent dynamics ``z' = A z + B a`` and the reward
``-(z'^T Q z' + a^T R a)``. With a critic that returns zero, the cost the planner minimizes is
``sum_t discount**t * (z_{t+1}^T Q z_{t+1} + a_t^T R a_t)`` over its horizon, a finite-horizon
LQR problem whose optimal actions follow from a backward Riccati recursion.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ami.actor import PLANNERS, PlanResult, SquashedGaussianPolicy
from ami.config import PlannerConfig, PolicyConfig
from ami.cost import CostModule, Critic
from ami.memory import TrajectoryBatch
from ami.world_model import WorldModel, WorldModelLoss
from tests.tiny import tiny_spec

A = np.array([[1.0, 0.1], [0.0, 1.0]])
B = np.array([[0.0, 0.5], [0.6, 0.2]])
Q = np.diag([1.0, 0.5])
R = np.diag([0.2, 0.3])
START_LATENTS = np.array([[0.8, -0.6], [-0.5, 0.4], [0.3, 0.9]])
"""Three start states, planned for in one batch. Every optimal action lies inside [-1, 1]."""

SPEC = tiny_spec(obs_dim=2)


class LinearQuadraticModel(WorldModel):
    """Known linear dynamics with a quadratic reward, where the latent is the observation."""

    def __init__(self) -> None:
        super().__init__()
        self.latent_dim = 2
        self.register_buffer("A", torch.tensor(A, dtype=torch.float32))
        self.register_buffer("B", torch.tensor(B, dtype=torch.float32))
        self.register_buffer("Q", torch.tensor(Q, dtype=torch.float32))
        self.register_buffer("R", torch.tensor(R, dtype=torch.float32))

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        return obs

    def encode_target(self, obs: torch.Tensor) -> torch.Tensor:
        return obs

    def predict(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return latent @ self.A.T + action @ self.B.T

    def reward(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        next_latent = self.predict(latent, action)
        state_cost = ((next_latent @ self.Q) * next_latent).sum(dim=-1)
        action_cost = ((action @ self.R) * action).sum(dim=-1)
        return -(state_cost + action_cost)

    def termination_prob(self, next_latent: torch.Tensor) -> torch.Tensor:
        return next_latent.new_zeros(next_latent.shape[:-1])

    def loss(self, batch: TrajectoryBatch) -> WorldModelLoss:
        raise NotImplementedError("the linear-quadratic model is fixed, not trained")

    def update_targets(self) -> None:
        pass


class ZeroCritic(Critic):
    """No cost beyond the horizon, so the planner faces a finite-horizon problem."""

    num_critics = 2

    def forward(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return latent.new_zeros((self.num_critics, *latent.shape[:-1]))

    def cost_to_go(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return latent.new_zeros(latent.shape[:-1])

    def target_cost_to_go(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return latent.new_zeros(latent.shape[:-1])

    def update_targets(self) -> None:
        pass


def lqr_solution(start: np.ndarray, horizon: int, discount: float) -> tuple[np.ndarray, float]:
    """Return the first optimal action and the optimal discounted cost from ``start``.

    With ``V_t(z) = z^T P_t z`` and ``P_horizon = 0``, step t minimizes
    ``(A z + B a)^T M (A z + B a) + a^T R a`` with ``M = Q + discount * P_{t+1}``.
    """
    P = np.zeros_like(Q)
    gains = []
    for _ in range(horizon):
        M = Q + discount * P
        gain = np.linalg.solve(B.T @ M @ B + R, B.T @ M @ A)
        P = A.T @ M @ A - A.T @ M @ B @ gain
        gains.append(gain)
    first_gain = gains[-1]
    return -first_gain @ start, float(start @ P @ start)


def plan(
    planner_name: str, horizon: int, discount: float, num_elites: int = 32, temperature: float = 0.3
) -> PlanResult:
    """Plan deterministically for the three start states with 512 candidates and 10 iterations."""
    torch.manual_seed(0)
    config = PlannerConfig(
        name=planner_name,
        num_samples=512,
        horizon=horizon,
        iterations=10,
        num_elites=num_elites,
        temperature=temperature,
        min_std=0.01,
        max_std=1.0,
        policy_fraction=0.0,
    )
    planner = PLANNERS.get(planner_name)(config, SPEC)
    world_model = LinearQuadraticModel()
    cost = CostModule(world_model, ZeroCritic(), intrinsic={}, task_weight=1.0, discount=discount)
    policy = SquashedGaussianPolicy(PolicyConfig(hidden_dims=(8,)), SPEC, latent_dim=2)
    start = torch.tensor(START_LATENTS, dtype=torch.float32)
    return planner.plan(start, world_model, cost, policy, deterministic=True)


def test_lqr_reference_is_interior():
    # The unconstrained LQR solution is the planner's optimum only if no action hits a bound.
    for horizon in (1, 3):
        for start in START_LATENTS:
            action, _ = lqr_solution(start, horizon, discount=0.5)
            assert np.abs(action).max() < 0.9, (horizon, start)


@pytest.mark.parametrize("planner_name", ["mppi", "cem"])
def test_planner_one_step_optimum(planner_name):
    # With one step the optimum is closed-form: a* = -(B^T Q B + R)^-1 B^T Q A z.
    expected = np.stack([-np.linalg.solve(B.T @ Q @ B + R, B.T @ Q @ A @ z) for z in START_LATENTS])

    result = plan(planner_name, horizon=1, discount=0.5)

    np.testing.assert_allclose(result.action.numpy(), expected, atol=0.01)


@pytest.mark.parametrize("planner_name", ["mppi", "cem"])
def test_planner_lqr_first_action(planner_name):
    expected = np.stack([lqr_solution(z, horizon=3, discount=0.5)[0] for z in START_LATENTS])

    result = plan(planner_name, horizon=3, discount=0.5)

    np.testing.assert_allclose(result.action.numpy(), expected, atol=0.01)


@pytest.mark.parametrize("planner_name", ["mppi", "cem"])
def test_planner_lqr_best_cost(planner_name):
    optimal = np.array([lqr_solution(z, horizon=3, discount=0.5)[1] for z in START_LATENTS])

    result = plan(planner_name, horizon=3, discount=0.5)

    best = result.cost_terms["total"].numpy()
    # No candidate can cost less than the optimum, and the best one found is close to it.
    assert np.all(best >= optimal - 1e-5)
    assert np.all(best <= optimal + 1e-3)


def test_mppi_weights_lead_to_optimum():
    # With every candidate an elite, only the exp(-cost / temperature) weights pull the mean
    # toward the optimum. The mean converges more slowly than with 32 elites, hence the wider tolerance.
    expected = np.stack([lqr_solution(z, horizon=3, discount=0.5)[0] for z in START_LATENTS])

    result = plan("mppi", horizon=3, discount=0.5, num_elites=512, temperature=0.1)

    np.testing.assert_allclose(result.action.numpy(), expected, atol=0.1)
