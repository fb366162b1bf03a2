"""Intrinsic cost terms: fixed costs that no training changes."""

from __future__ import annotations

import torch

from ami.cost.base import INTRINSIC_COSTS, IntrinsicCost
from ami.spec import TaskSpec


@INTRINSIC_COSTS.register("action_energy")
class ActionEnergy(IntrinsicCost):
    """Mean squared action, with actions scaled so that the action range maps to [-1, 1]."""

    def __init__(self, spec: TaskSpec) -> None:
        super().__init__()
        low = torch.tensor(spec.action_low)
        high = torch.tensor(spec.action_high)
        self.register_buffer("center", (high + low) / 2)
        self.register_buffer("half_range", (high - low) / 2)

    def forward(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        scaled = (action - self.center) / self.half_range
        return scaled.square().mean(dim=-1)
