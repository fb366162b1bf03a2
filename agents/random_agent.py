"""Uniformly random actions, used for seed steps and as the floor of every comparison."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from agents.base import Agent
from ami.config.schema import EnvConfig
from envs.make import make_env

if TYPE_CHECKING:
    from experiments.compare.protocol import RunSpec


class RandomAgent(Agent):
    def __init__(self, action_space: gym.spaces.Box, seed: int) -> None:
        self.action_space = action_space
        self.rng = np.random.default_rng(seed)

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        low, high = self.action_space.low, self.action_space.high
        return self.rng.uniform(low, high).astype(self.action_space.dtype)


def run_random(spec: RunSpec) -> dict[str, Any]:
    """Evaluate uniformly random actions once and record that result at every evaluation point of ``spec``."""
    # Imported here because the trainer imports RandomAgent and the comparison protocol, which
    # record_fixed_policy uses, imports the trainer, so a module-level import would be circular.
    from agents.fixed_policy import record_fixed_policy

    env = make_env(EnvConfig(task=spec.task))
    agent = RandomAgent(env.action_space, seed=spec.seed)
    try:
        return record_fixed_policy(spec, agent.act, env)
    finally:
        env.close()
