"""End episodes whose physics became unstable, before bad values reach an agent's memory."""

from __future__ import annotations

import logging
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

logger = logging.getLogger(__name__)

INSTABILITY_KEY = "instability"
"""``info`` key of a guarded step that went wrong; its value names the cause."""

MUJOCO_INSTABILITY_WARNINGS = (
    mujoco.mjtWarning.mjWARN_BADQPOS,
    mujoco.mjtWarning.mjWARN_BADQVEL,
    mujoco.mjtWarning.mjWARN_BADQACC,
)
"""MuJoCo raises these when positions, velocities or accelerations blow up, then resets the state."""


class StabilityGuard(gym.Wrapper):
    """Truncate the episode at a step with non-finite values or a MuJoCo instability warning.

    Such a step returns ``truncated=True`` and names the cause in ``info["instability"]``; its
    observation and reward are not usable, so callers must not store that transition. The
    guard counts the unstable steps in ``num_unstable_steps``.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.num_unstable_steps = 0

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        self._clear_mujoco_warnings()
        obs, reward, terminated, truncated, info = self.env.step(action)
        cause = self._instability(obs, reward)
        if cause is None:
            return obs, reward, terminated, truncated, info

        self.num_unstable_steps += 1
        logger.warning("%s: %s; ending the episode without storing this step", self.spec.id if self.spec else self.env, cause)
        return obs, reward, terminated, True, {**info, INSTABILITY_KEY: cause}

    def _instability(self, obs: Any, reward: float) -> str | None:
        """Name what went wrong in a step, or return None for a sound step."""
        data = self._mujoco_data()
        if data is not None:
            for warning in MUJOCO_INSTABILITY_WARNINGS:
                if data.warning[warning].number > 0:
                    return f"MuJoCo warning {warning.name}"
        if not np.all(np.isfinite(obs)):
            return "non-finite observation"
        if not np.isfinite(reward):
            return f"non-finite reward {reward}"
        return None

    def _clear_mujoco_warnings(self) -> None:
        # MuJoCo resets the simulation on a bad state and then counts the warning, so the count
        # after a reset is 1 however many resets came before. Clearing it before each step makes
        # a positive count mean "this step".
        data = self._mujoco_data()
        if data is not None:
            for warning in MUJOCO_INSTABILITY_WARNINGS:
                data.warning[warning].number = 0

    def _mujoco_data(self) -> mujoco.MjData | None:
        """Return the simulation data of a MuJoCo task, or None for other tasks."""
        data = getattr(self.env.unwrapped, "data", None)
        return data if isinstance(data, mujoco.MjData) else None
