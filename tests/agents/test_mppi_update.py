"""The shared MPPI refit."""

from __future__ import annotations

import torch

from ami.actor.mppi_update import mppi_refit, mppi_weights


def test_weights_favor_cheap_elites() -> None:
    costs = torch.tensor([[0.0], [0.5], [3.0]])

    weights = mppi_weights(costs, temperature=0.5)

    assert torch.allclose(weights.sum(dim=0), torch.ones(1))
    assert weights[0, 0] > weights[1, 0] > weights[2, 0]
    assert torch.allclose(weights[1, 0] / weights[0, 0], torch.exp(torch.tensor(-1.0)))


def test_refit_shapes_and_mean() -> None:
    horizon, num_elites, batch, action_dim = 4, 3, 2, 5
    actions = torch.randn(horizon, num_elites, batch, action_dim)
    costs = torch.zeros(num_elites, batch)

    mean, std, weights = mppi_refit(actions, costs, temperature=1.0)

    assert mean.shape == std.shape == (horizon, batch, action_dim)
    assert weights.shape == (num_elites, batch)
    # Equal costs give equal weights, so the refit is the plain mean and std.
    assert torch.allclose(mean, actions.mean(dim=1), atol=1e-6)
    assert torch.allclose(std, actions.std(dim=1, unbiased=False), atol=1e-6)
