"""Safety limits: intrinsic costs for a physical quantity that leaves its safe range."""

from __future__ import annotations

import math
from typing import Literal

import torch

from ami.cost.base import COST_TERMS, CostTerm
from ami.cost.inputs import CostInputs
from ami.cost.quantities import quantity_index, read_quantity
from ami.spec import TaskSpec


@COST_TERMS.register("quantity_range")
class QuantityRange(CostTerm):
    """Cost of ``quantity`` lying outside ``[low, high]``: zero inside, growing with the distance outside.

    ``form = "squared"`` (default) costs the squared distance, ``"absolute"`` the distance, in
    the quantity's unit. Listed under ``cost.safety``, the term is intrinsic: no task weight
    scales it and its weight must stay positive. Examples: Hopper's torso angle in
    [-0.2, 0.2] rad or torso height above 0.7 m, the ranges outside which Hopper-v5 ends an
    episode as unhealthy.
    """

    def __init__(
        self,
        spec: TaskSpec,
        quantity: str,
        low: float = -math.inf,
        high: float = math.inf,
        form: Literal["absolute", "squared"] = "squared",
    ) -> None:
        super().__init__()
        quantity_index(spec.task, quantity)
        if math.isnan(low) or math.isnan(high) or not low < high:
            raise ValueError(f"quantity_range for {quantity!r}: invalid range [{low}, {high}]; it needs low < high")
        if math.isinf(low) and math.isinf(high):
            raise ValueError(f"quantity_range for {quantity!r}: give a finite low or high limit; [{low}, {high}] never costs anything")
        if form not in ("absolute", "squared"):
            raise ValueError(f"quantity_range: invalid form {form!r}; valid choices: 'absolute', 'squared'")
        self.task = spec.task
        self.quantity = quantity
        self.quantities = (quantity,)
        self.low = float(low)
        self.high = float(high)
        self.form = form

    def extra_repr(self) -> str:
        return f"quantity={self.quantity}, low={self.low}, high={self.high}, form={self.form}"

    def violation(self, value: torch.Tensor) -> torch.Tensor:
        """Distance ``(...)`` of ``value`` outside ``[low, high]``; 0 inside."""
        return torch.relu(self.low - value) + torch.relu(value - self.high)

    def is_violated(self, value: torch.Tensor) -> torch.Tensor:
        """Boolean ``(...)``: ``value`` lies outside ``[low, high]``."""
        return (value < self.low) | (value > self.high)

    def observed_violation(self, obs: torch.Tensor) -> torch.Tensor:
        """Boolean ``(...)``: the quantity read from real observations ``(..., obs_dim)`` lies outside the range."""
        return self.is_violated(read_quantity(self.task, self.quantity, obs))

    def evaluate(self, inputs: CostInputs) -> torch.Tensor:
        distance = self.violation(inputs.quantity(self.quantity))
        return distance if self.form == "absolute" else distance.square()
