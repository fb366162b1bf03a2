"""Model Predictive Path Integral control over elites (Williams et al., 2017; TD-MPC, 2022)."""

from __future__ import annotations

import torch

from ami.actor.base import PLANNERS
from ami.actor.sampling import SamplingPlanner


@PLANNERS.register("mppi")
class MPPIPlanner(SamplingPlanner):
    """Refit to the elites weighted by ``exp(-(cost - min cost) / temperature)``."""

    def refit(self, elite_actions, elite_costs, mean, std):
        weights = torch.softmax(-(elite_costs - elite_costs[:1]) / self.config.temperature, dim=0)  # (K, batch)
        w = weights[None, :, :, None]
        new_mean = (w * elite_actions).sum(dim=1)
        new_std = torch.sqrt((w * (elite_actions - new_mean[:, None]).square()).sum(dim=1))
        return new_mean, new_std, weights
