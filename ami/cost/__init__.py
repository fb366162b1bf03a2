"""Cost module: task terms, fixed intrinsic and safety terms, quantity heads and a trainable critic."""

from ami.cost.base import COST_TERMS, CRITICS, INTRINSIC_COSTS, CostTerm, Critic, IntrinsicCost
from ami.cost.critic import EnsembleCritic
from ami.cost.goal import GoalLatentDistance
from ami.cost.goal_distance import GoalTemporalDistance
from ami.cost.inputs import CostInputs
from ami.cost.intrinsic import ActionEnergy
from ami.cost.module import CostModule, TrajectoryCost
from ami.cost.quantities import QUANTITY_TABLE, QuantityError, read_quantity
from ami.cost.quantity_heads import QuantityHeads
from ami.cost.reward import PredictedReward
from ami.cost.safety import QuantityRange
from ami.cost.uncertainty import CriticDisagreement
from ami.cost.velocity import Heading, TargetVelocity

__all__ = [
    "ActionEnergy",
    "COST_TERMS",
    "CRITICS",
    "CostInputs",
    "CostModule",
    "CostTerm",
    "Critic",
    "CriticDisagreement",
    "EnsembleCritic",
    "GoalLatentDistance",
    "Heading",
    "INTRINSIC_COSTS",
    "IntrinsicCost",
    "PredictedReward",
    "QUANTITY_TABLE",
    "QuantityError",
    "QuantityHeads",
    "QuantityRange",
    "TargetVelocity",
    "TrajectoryCost",
    "read_quantity",
]
