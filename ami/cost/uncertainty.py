"""Uncertainty cost: disagreement of the critic ensemble about the cost-to-go."""

from __future__ import annotations

import torch

from ami.cost.base import COST_TERMS, CostTerm
from ami.cost.inputs import CostInputs
from ami.spec import TaskSpec


@COST_TERMS.register("critic_disagreement")
class CriticDisagreement(CostTerm):
    """Standard deviation over the critic members of their cost-to-go at ``(latent, action)``.

    The members agree where replay covered the state and action and disagree away from it, so
    a positive weight keeps plans near known states. The term reads the critic, so the
    critic's TD target leaves it out.
    """

    planning_only = True

    def __init__(self, spec: TaskSpec) -> None:
        super().__init__()

    def evaluate(self, inputs: CostInputs) -> torch.Tensor:
        return inputs.critic_members().std(dim=0, correction=0)
