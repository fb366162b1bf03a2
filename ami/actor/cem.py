"""Cross-entropy method over elites (Rubinstein, 1999; PlaNet, Hafner et al., 2019)."""

from __future__ import annotations

import torch

from ami.actor.base import PLANNERS
from ami.actor.sampling import SamplingPlanner


@PLANNERS.register("cem")
class CEMPlanner(SamplingPlanner):
    """Refit to the unweighted mean and std of the elites, smoothed by ``momentum``."""

    ignored_config_fields = {"temperature": "refits to the elites with equal weights"}

    def refit(self, elite_actions, elite_costs, mean, std):
        momentum = self.config.momentum
        new_mean = momentum * mean + (1 - momentum) * elite_actions.mean(dim=1)
        new_std = momentum * std + (1 - momentum) * elite_actions.std(dim=1, unbiased=False)
        weights = torch.full_like(elite_costs, 1.0 / elite_costs.shape[0])
        return new_mean, new_std, weights
