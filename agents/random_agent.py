"""Uniformly random actions, used for seed steps and as the floor of every comparison."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from agents.base import Agent


class RandomAgent(Agent):
    def __init__(self, action_space: gym.spaces.Box, seed: int) -> None:
        self.action_space = action_space
        self.rng = np.random.default_rng(seed)

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        low, high = self.action_space.low, self.action_space.high
        return self.rng.uniform(low, high).astype(self.action_space.dtype)
