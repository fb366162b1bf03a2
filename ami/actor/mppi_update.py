"""The MPPI refit of a diagonal Gaussian over action sequences, shared by every MPPI planner."""

from __future__ import annotations

import torch

MIN_TEMPERATURE = torch.finfo(torch.float32).tiny
"""Smallest usable temperature: the smallest normal float32, about 1.2e-38. Costs are float32, so a
smaller temperature rounds to 0 and the weights become NaN."""


def mppi_weights(elite_costs: torch.Tensor, temperature: float) -> torch.Tensor:
    """Weight the elites by ``exp(-(cost - min cost) / temperature)``, normalized over the elites.

    ``elite_costs`` is ``(num_elites, batch)`` sorted by cost, cheapest first, so that row 0
    is the minimum. Returns weights of the same shape that sum to 1 over ``num_elites``.
    """
    return torch.softmax(-(elite_costs - elite_costs[:1]) / temperature, dim=0)


def mppi_refit(
    elite_actions: torch.Tensor, elite_costs: torch.Tensor, temperature: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Refit the mean and std of the sampling Gaussian to the MPPI-weighted elites.

    ``elite_actions`` is ``(horizon, num_elites, batch, action_dim)`` and ``elite_costs`` is
    ``(num_elites, batch)``, cheapest first. Returns the mean and std ``(horizon, batch,
    action_dim)`` and the elite weights ``(num_elites, batch)``.
    """
    weights = mppi_weights(elite_costs, temperature)
    w = weights[None, :, :, None]
    mean = (w * elite_actions).sum(dim=1)
    std = torch.sqrt((w * (elite_actions - mean[:, None]).square()).sum(dim=1))
    return mean, std, weights
