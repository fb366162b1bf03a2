"""What the modules need to know about a task, read once from its Gymnasium spaces."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np


@dataclass(frozen=True)
class TaskSpec:
    """Sizes and bounds of a task with a Box observation and a 1-D Box action space.

    The observation is a flat vector, or stacked camera frames ``(frames, height, width, 3)``
    uint8 (``envs.pixels.PixelObservation``). ``obs_dim`` is the number of values in one
    observation in both cases.
    """

    task: str
    obs_dim: int
    action_dim: int
    action_low: tuple[float, ...]
    action_high: tuple[float, ...]
    max_episode_steps: int
    obs_shape: tuple[int, ...] = ()
    """Shape of one observation; empty means ``(obs_dim,)``."""

    @property
    def pixels(self) -> bool:
        """Whether observations are stacked frames ``(frames, height, width, 3)``."""
        return len(self.obs_shape) == 4

    @classmethod
    def from_env(cls, env: gym.Env, task: str) -> "TaskSpec":
        obs_space, action_space = env.observation_space, env.action_space
        if not isinstance(action_space, gym.spaces.Box) or len(action_space.shape) != 1:
            raise ValueError(
                f"task {task!r} has action space {action_space}; the AMI agent needs a 1-D "
                "continuous Box action space"
            )
        if isinstance(obs_space, gym.spaces.Dict) and "pixels" in obs_space.spaces:
            # NOTE: no encoder reads the proprioceptive state next to the frames yet.
            raise ValueError(
                f"task {task!r} has dict observations {obs_space}; the AMI agent reads pixel observations "
                "only, so set env.include_state = false (the dict form serves other agents)"
            )
        pixels = is_frame_stack_space(obs_space)
        if not pixels and (not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1):
            raise ValueError(
                f"task {task!r} has observation space {obs_space}; the MLP encoder needs a 1-D "
                "Box observation (flatten it with gymnasium.wrappers.FlattenObservation)"
            )
        if not (np.all(np.isfinite(action_space.low)) and np.all(np.isfinite(action_space.high))):
            raise ValueError(f"task {task!r} has unbounded actions {action_space}; planning needs finite bounds")

        max_steps = env.spec.max_episode_steps if env.spec is not None else None
        return cls(
            task=task,
            obs_dim=int(np.prod(obs_space.shape)),
            action_dim=int(action_space.shape[0]),
            action_low=tuple(float(x) for x in action_space.low),
            action_high=tuple(float(x) for x in action_space.high),
            max_episode_steps=int(max_steps or 1000),
            obs_shape=tuple(int(n) for n in obs_space.shape) if pixels else (),
        )


def is_frame_stack_space(space: gym.Space) -> bool:
    """Whether ``space`` contains stacked RGB frames ``(frames, height, width, 3)`` of uint8."""
    return isinstance(space, gym.spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 4 and space.shape[-1] == 3
