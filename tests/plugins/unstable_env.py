"""A MuJoCo pendulum whose simulation blows up on chosen steps of each episode."""

from __future__ import annotations

import gymnasium as gym
from gymnasium.envs.mujoco.inverted_pendulum_v5 import InvertedPendulumEnv

UNSTABLE_TASK = "test/UnstablePendulum-v0"
UNSTABLE_STEP = 4
"""Step of each episode, counted from 1, on which the velocities become 1e30."""


class UnstablePendulumEnv(InvertedPendulumEnv):
    """InvertedPendulum-v5 whose joint velocities are set to 1e30 before step ``UNSTABLE_STEP``.

    MuJoCo then warns about a bad velocity and resets the simulation, as it does when a real
    model diverges.
    """

    def reset_model(self):
        self.episode_steps = 0
        return super().reset_model()

    def step(self, action):
        self.episode_steps += 1
        if self.episode_steps == UNSTABLE_STEP:
            self.data.qvel[:] = 1e30
        return super().step(action)


if UNSTABLE_TASK not in gym.registry:
    gym.register(UNSTABLE_TASK, entry_point=UnstablePendulumEnv, max_episode_steps=1000)
