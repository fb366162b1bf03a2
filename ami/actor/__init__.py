"""Actor: a reactive policy (mode 1) and deliberative planners (mode 2)."""

from ami.actor.actor import Actor, ActorOutput
from ami.actor.base import PLANNERS, POLICIES, Planner, PlanResult, Policy
from ami.actor.cem import CEMPlanner
from ami.actor.hierarchical import HierarchicalPlanner
from ami.actor.mppi import MPPIPlanner
from ami.actor.policy import SquashedGaussianPolicy
from ami.actor.sampling import SamplingPlanner

__all__ = [
    "Actor",
    "ActorOutput",
    "CEMPlanner",
    "HierarchicalPlanner",
    "MPPIPlanner",
    "PLANNERS",
    "POLICIES",
    "PlanResult",
    "Planner",
    "Policy",
    "SamplingPlanner",
    "SquashedGaussianPolicy",
]
