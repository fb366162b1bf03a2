"""Task costs on the body's velocity: track a target forward speed, or move in a direction."""

from __future__ import annotations

import math
from typing import Literal

import torch

from ami.cost.base import COST_TERMS, CostTerm
from ami.cost.inputs import CostInputs
from ami.cost.quantities import has_quantity
from ami.spec import TaskSpec

ErrorForm = Literal["absolute", "squared"]


@COST_TERMS.register("target_velocity")
class TargetVelocity(CostTerm):
    """Distance of the x velocity from ``target`` (m/s): ``|v_x - target|``, or its square.

    A negative ``target`` means running backward. ``absolute`` grows linearly, so a far
    target does not swamp the other terms; ``squared`` is smooth at the target.
    """

    quantities = ("x_velocity",)

    def __init__(self, spec: TaskSpec, target: float, form: ErrorForm = "absolute") -> None:
        super().__init__()
        if not math.isfinite(target):
            raise ValueError(f"target_velocity: invalid target {target!r}; give a finite speed in m/s")
        if form not in ("absolute", "squared"):
            raise ValueError(f"target_velocity: invalid form {form!r}; valid choices: 'absolute', 'squared'")
        self.target = float(target)
        self.form = form

    def extra_repr(self) -> str:
        return f"target={self.target}, form={self.form}"

    def evaluate(self, inputs: CostInputs) -> torch.Tensor:
        error = inputs.quantity("x_velocity") - self.target
        return error.abs() if self.form == "absolute" else error.square()


@COST_TERMS.register("heading")
class Heading(CostTerm):
    """Negative speed along the heading ``angle`` (degrees from the +x axis, counterclockwise).

    The cost is ``-(v_x cos(angle) + v_y sin(angle))``, so the planner runs along the heading,
    and ``angle = 180`` runs backward. Planar tasks (HalfCheetah, Hopper, Walker2d) have no y
    velocity, so there the angle must be 0 or 180.
    """

    def __init__(self, spec: TaskSpec, angle: float = 0.0) -> None:
        super().__init__()
        if not math.isfinite(angle):
            raise ValueError(f"heading: invalid angle {angle!r}; give a finite angle in degrees")
        radians = math.radians(angle)
        self.cos, self.sin = math.cos(radians), math.sin(radians)
        if has_quantity(spec.task, "y_velocity"):
            self.quantities = ("x_velocity", "y_velocity")
        else:
            # Snap cos(0) and cos(180) to exactly 1 and -1; other angles need a y velocity.
            if not math.isclose(abs(self.cos), 1.0, abs_tol=1e-9):
                raise ValueError(
                    f"heading: angle {angle!r} needs a y velocity, but task {spec.task!r} moves in the x-z plane only; "
                    "use angle = 0 (forward) or 180 (backward)"
                )
            self.cos, self.sin = math.copysign(1.0, self.cos), 0.0
            self.quantities = ("x_velocity",)
        self.angle = float(angle)

    def extra_repr(self) -> str:
        return f"angle={self.angle}"

    def evaluate(self, inputs: CostInputs) -> torch.Tensor:
        along = self.cos * inputs.quantity("x_velocity")
        if "y_velocity" in self.quantities:
            along = along + self.sin * inputs.quantity("y_velocity")
        return -along
