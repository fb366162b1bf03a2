"""Cost module: fixed intrinsic costs, task cost and a trainable critic."""

from ami.cost.base import CRITICS, INTRINSIC_COSTS, Critic, IntrinsicCost
from ami.cost.critic import EnsembleCritic
from ami.cost.goal import GoalLatentDistance
from ami.cost.intrinsic import ActionEnergy
from ami.cost.module import CostModule, TrajectoryCost

__all__ = [
    "ActionEnergy",
    "CRITICS",
    "CostModule",
    "Critic",
    "EnsembleCritic",
    "GoalLatentDistance",
    "INTRINSIC_COSTS",
    "IntrinsicCost",
    "TrajectoryCost",
]
