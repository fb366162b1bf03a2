"""What the modules need to know about a task, read once from its Gymnasium spaces."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np


@dataclass(frozen=True)
class TaskSpec:
    """Sizes and bounds of a task with a flat vector observation and a Box action space."""

    task: str
    obs_dim: int
    action_dim: int
    action_low: tuple[float, ...]
    action_high: tuple[float, ...]
    max_episode_steps: int

    @classmethod
    def from_env(cls, env: gym.Env, task: str) -> "TaskSpec":
        obs_space, action_space = env.observation_space, env.action_space
        if not isinstance(action_space, gym.spaces.Box) or len(action_space.shape) != 1:
            raise ValueError(
                f"task {task!r} has action space {action_space}; the AMI agent needs a 1-D "
                "continuous Box action space"
            )
        if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
            raise ValueError(
                f"task {task!r} has observation space {obs_space}; the MLP encoder needs a 1-D "
                "Box observation (flatten it with gymnasium.wrappers.FlattenObservation)"
            )
        if not (np.all(np.isfinite(action_space.low)) and np.all(np.isfinite(action_space.high))):
            raise ValueError(f"task {task!r} has unbounded actions {action_space}; planning needs finite bounds")

        max_steps = env.spec.max_episode_steps if env.spec is not None else None
        return cls(
            task=task,
            obs_dim=int(obs_space.shape[0]),
            action_dim=int(action_space.shape[0]),
            action_low=tuple(float(x) for x in action_space.low),
            action_high=tuple(float(x) for x in action_space.high),
            max_episode_steps=int(max_steps or 1000),
        )
