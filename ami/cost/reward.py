"""Task cost from the environment's reward: the negative reward that the world model predicts."""

from __future__ import annotations

import torch

from ami.cost.base import COST_TERMS, CostTerm
from ami.cost.inputs import CostInputs
from ami.spec import TaskSpec


@COST_TERMS.register("predicted_reward")
class PredictedReward(CostTerm):
    """``-reward``: the cost whose minimization maximizes the task's own return.

    ``cost.task_weight`` weights this term under the name ``task``; listing it in ``cost.terms``
    adds another copy with its own weight.
    """

    def __init__(self, spec: TaskSpec) -> None:
        super().__init__()

    def evaluate(self, inputs: CostInputs) -> torch.Tensor:
        return -inputs.reward()
