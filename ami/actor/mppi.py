"""Model Predictive Path Integral control over elites (Williams et al., 2017; TD-MPC, 2022)."""

from __future__ import annotations

from ami.actor.base import PLANNERS
from ami.actor.mppi_update import mppi_refit
from ami.actor.sampling import SamplingPlanner


@PLANNERS.register("mppi")
class MPPIPlanner(SamplingPlanner):
    """Refit to the elites weighted by ``exp(-(cost - min cost) / temperature)``."""

    def refit(self, elite_actions, elite_costs, mean, std):
        return mppi_refit(elite_actions, elite_costs, self.config.temperature)
