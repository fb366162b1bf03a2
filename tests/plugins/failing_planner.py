"""Planners that fail while acting, to check how ``ami run`` reports errors raised in training."""

from __future__ import annotations

from ami.actor import PLANNERS, Planner, PlanResult


@PLANNERS.register("test_raises_value_error")
class ValueErrorPlanner(Planner):
    """Raises ValueError on its first call, like a buggy user planner."""

    def __init__(self, config, spec) -> None:
        self.config = config

    def plan(self, latent, world_model, cost, policy, previous_plan=None, deterministic=False) -> PlanResult:
        raise ValueError("bug inside a user planner")


@PLANNERS.register("test_interrupts")
class InterruptingPlanner(Planner):
    """Raises KeyboardInterrupt on its first call, as Ctrl-C does during planning."""

    def __init__(self, config, spec) -> None:
        self.config = config

    def plan(self, latent, world_model, cost, policy, previous_plan=None, deterministic=False) -> PlanResult:
        raise KeyboardInterrupt
