"""Observation indices of physical quantities (x velocity, torso height, ...) per task, and their reader.

Cost terms name quantities such as ``x_velocity``; quantity heads learn to predict them from
the latent, trained on the values read here from stored observations.

Indices are those of the default Gymnasium 1.x v5 observations, with
``exclude_current_positions_from_observation=True``, as listed in the "Observation Space"
tables of the docstrings in ``gymnasium/envs/mujoco/{half_cheetah,hopper,walker2d,ant}_v5.py``
(Gymnasium 1.4.0). Velocities are ``qvel`` entries in m/s; Hopper and Walker2d clip ``qvel``
to [-10, 10] before writing the observation. The ``x_velocity`` in these tasks' ``info`` is a
finite difference of the x position over one control step, so it differs slightly from the
``qvel`` entry read here.
"""

from __future__ import annotations

import torch

QUANTITY_TABLE: dict[str, dict[str, int]] = {
    "HalfCheetah-v5": {
        "tip_height": 0,  # rootz of the front tip, m
        "tip_angle": 1,  # rooty of the front tip, rad
        "x_velocity": 8,
    },
    "Hopper-v5": {
        "torso_height": 0,
        "torso_angle": 1,
        "thigh_angle": 2,
        "leg_angle": 3,
        "foot_angle": 4,
        "x_velocity": 5,
    },
    "Walker2d-v5": {
        "torso_height": 0,
        "torso_angle": 1,
        "thigh_angle": 2,
        "leg_angle": 3,
        "foot_angle": 4,
        "thigh_left_angle": 5,
        "leg_left_angle": 6,
        "foot_left_angle": 7,
        "x_velocity": 8,
    },
    "Ant-v5": {
        "torso_height": 0,
        "x_velocity": 13,
        "y_velocity": 14,
    },
}
"""Task id -> quantity name -> index in the observation vector."""


class QuantityError(ValueError):
    """A task or quantity that the observation table does not list."""


def quantity_index(task: str, quantity: str) -> int:
    """Return the observation index of ``quantity`` in ``task``; raise QuantityError naming the valid choices."""
    table = QUANTITY_TABLE.get(task)
    if table is None:
        raise QuantityError(
            f"task {task!r} has no quantity table, so cost terms that read physical quantities cannot be used on it; "
            f"tasks with a table: {', '.join(sorted(QUANTITY_TABLE))}. Add the task's observation indices to "
            "ami.cost.quantities.QUANTITY_TABLE"
        )
    if quantity not in table:
        raise QuantityError(
            f"task {task!r} has no quantity {quantity!r} in its observation; valid quantities: {', '.join(sorted(table))}"
        )
    return table[quantity]


def has_quantity(task: str, quantity: str) -> bool:
    return quantity in QUANTITY_TABLE.get(task, {})


def read_quantity(task: str, quantity: str, obs: torch.Tensor) -> torch.Tensor:
    """Read ``quantity`` ``(...)`` from observations ``(..., obs_dim)`` of ``task``."""
    index = quantity_index(task, quantity)
    if obs.shape[-1] <= index:
        raise QuantityError(
            f"observations of {task!r} have {obs.shape[-1]} entries, but {quantity!r} is entry {index}; "
            "the table assumes the default v5 observation (x position excluded)"
        )
    return obs[..., index]
