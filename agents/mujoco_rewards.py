"""Rewards of Gymnasium MuJoCo tasks, computed in batch from simulated states.

Each formula follows the task's ``step`` and ``_get_rew`` in Gymnasium 1.4
(``gymnasium/envs/mujoco/<task>_v5.py``) and reads the task's weights and ranges from the
env instance, so tasks made with non-default keyword arguments are scored as they are built.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv
from gymnasium.envs.mujoco.hopper_v5 import HopperEnv
from gymnasium.envs.mujoco.inverted_pendulum_v5 import InvertedPendulumEnv
from gymnasium.envs.mujoco.reacher_v5 import ReacherEnv
from gymnasium.envs.mujoco.walker2d_v5 import Walker2dEnv


@dataclass(frozen=True)
class SimulatedSteps:
    """States of ``batch`` simulated trajectories of ``horizon`` env steps each.

    Index 0 of ``qpos`` and ``qvel`` is the state before the first step, index ``k`` the state
    after ``k`` env steps. ``body_positions`` maps each body that the reward reads to its
    frame position ``(batch, horizon, 3)`` in the state after each step. ``actions`` are the
    actions ``(batch, horizon, action_dim)`` in the bounds of the unwrapped env, which its reward
    uses.
    """

    qpos: np.ndarray
    """(batch, horizon + 1, nq)"""
    qvel: np.ndarray
    """(batch, horizon + 1, nv)"""
    actions: np.ndarray
    body_positions: dict[str, np.ndarray]


class TaskReward(ABC):
    """The reward and termination rule of one task, evaluated on many trajectories at once."""

    body_names: tuple[str, ...] = ()
    """Bodies whose frame positions (``data.xpos``) the reward reads."""

    def __init__(self, env: gym.Env) -> None:
        """Read the task's weights and ranges from the unwrapped ``env``; tasks without any ignore it."""

    @abstractmethod
    def step_rewards(self, steps: SimulatedSteps) -> tuple[np.ndarray, np.ndarray]:
        """Return the reward and the ``terminated`` flag of every env step, both ``(batch, horizon)``."""


def episode_returns(rewards: np.ndarray, terminated: np.ndarray) -> np.ndarray:
    """Sum ``rewards`` ``(batch, horizon)`` over each trajectory up to and including its first terminating step."""
    terminated_before = np.cumsum(terminated, axis=1) - terminated  # terminations strictly before each step
    return np.sum(np.where(terminated_before == 0, rewards, 0.0), axis=1)


class InvertedPendulumReward(TaskReward):
    """1 per step while the pole angle stays within 0.2 rad and the state is finite, then termination."""

    def step_rewards(self, steps):
        qpos, qvel = steps.qpos[:, 1:], steps.qvel[:, 1:]
        finite = np.isfinite(qpos).all(axis=-1) & np.isfinite(qvel).all(axis=-1)
        terminated = ~finite | (np.abs(qpos[..., 1]) > 0.2)
        return (~terminated).astype(np.float64), terminated


class ReacherReward(TaskReward):
    """Minus the fingertip-to-target distance, minus the squared action."""

    body_names = ("fingertip", "target")

    def __init__(self, env: ReacherEnv) -> None:
        self.distance_weight = env._reward_dist_weight
        self.control_weight = env._reward_control_weight

    def step_rewards(self, steps):
        # NOTE: Reacher-v5 integrates with RK4, and the env reads data.xpos after its step, which
        # contains the kinematics of the last RK4 stage rather than of the final state. The two differ
        # by about 1e-5 m, so this reward matches the env's to about 1e-5 per step.
        offset = steps.body_positions["fingertip"] - steps.body_positions["target"]
        distance_reward = -np.linalg.norm(offset, axis=-1) * self.distance_weight
        control_reward = -np.square(steps.actions).sum(axis=-1) * self.control_weight
        return distance_reward + control_reward, np.zeros(distance_reward.shape, dtype=bool)


class ForwardReward(TaskReward):
    """Forward velocity of ``qpos[0]`` times a weight, minus a weighted squared action.

    The velocity is the change of ``qpos[0]`` over one env step divided by the step length
    ``dt`` (timestep times frame skip), as in HalfCheetah, Hopper and Walker2d.
    """

    def __init__(self, env: HalfCheetahEnv | HopperEnv | Walker2dEnv) -> None:
        self.dt = env.dt
        self.forward_weight = env._forward_reward_weight
        self.control_weight = env._ctrl_cost_weight

    def step_rewards(self, steps):
        x_velocity = np.diff(steps.qpos[..., 0], axis=1) / self.dt
        control_cost = self.control_weight * np.square(steps.actions).sum(axis=-1)
        rewards = self.forward_weight * x_velocity - control_cost
        return rewards, np.zeros(rewards.shape, dtype=bool)


class HealthyForwardReward(ForwardReward):
    """Forward reward plus a healthy reward, ending the episode when the body is unhealthy.

    Subclasses define ``is_healthy``, the task's rule on the state after each step.
    """

    def __init__(self, env: HopperEnv | Walker2dEnv) -> None:
        super().__init__(env)
        self.healthy_reward = env._healthy_reward
        self.terminate_when_unhealthy = env._terminate_when_unhealthy
        self.healthy_z_range = env._healthy_z_range
        self.healthy_angle_range = env._healthy_angle_range

    @abstractmethod
    def is_healthy(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """Healthy flags ``(batch, horizon)`` of the states ``qpos`` ``(batch, horizon, nq)`` and ``qvel``."""

    def healthy_z_and_angle(self, qpos: np.ndarray) -> np.ndarray:
        # Open intervals, as the tasks compare with min < value < max.
        z, angle = qpos[..., 1], qpos[..., 2]
        min_z, max_z = self.healthy_z_range
        min_angle, max_angle = self.healthy_angle_range
        return (min_z < z) & (z < max_z) & (min_angle < angle) & (angle < max_angle)

    def step_rewards(self, steps):
        forward_rewards, _ = super().step_rewards(steps)
        healthy = self.is_healthy(steps.qpos[:, 1:], steps.qvel[:, 1:])
        rewards = forward_rewards + self.healthy_reward * healthy
        terminated = ~healthy if self.terminate_when_unhealthy else np.zeros(healthy.shape, dtype=bool)
        return rewards, terminated


class HopperReward(HealthyForwardReward):
    """Hopper: healthy while z and the torso angle are in range and ``state_vector()[2:]`` is inside ``healthy_state_range``."""

    def __init__(self, env: HopperEnv) -> None:
        super().__init__(env)
        self.healthy_state_range = env._healthy_state_range

    def is_healthy(self, qpos, qvel):
        state = np.concatenate([qpos, qvel], axis=-1)[..., 2:]
        min_state, max_state = self.healthy_state_range
        healthy_state = np.all((min_state < state) & (state < max_state), axis=-1)
        return healthy_state & self.healthy_z_and_angle(qpos)


class Walker2dReward(HealthyForwardReward):
    """Walker2d: healthy while z and the torso angle are in range."""

    def is_healthy(self, qpos, qvel):
        return self.healthy_z_and_angle(qpos)


REWARD_CLASSES: dict[str, tuple[type[gym.Env], type[TaskReward]]] = {
    "InvertedPendulum-v5": (InvertedPendulumEnv, InvertedPendulumReward),
    "Reacher-v5": (ReacherEnv, ReacherReward),
    "HalfCheetah-v5": (HalfCheetahEnv, ForwardReward),
    "Hopper-v5": (HopperEnv, HopperReward),
    "Walker2d-v5": (Walker2dEnv, Walker2dReward),
}
"""Supported task ids with their env class and reward class.

Ant-v5 is missing because its contact cost reads ``data.cfrc_ext``, which ``mujoco.rollout``
does not return.
"""


def make_task_reward(env: gym.Env) -> TaskReward:
    """Build the reward of the task that ``env`` wraps, or raise ValueError naming the supported tasks."""
    unwrapped = env.unwrapped
    for env_class, reward_class in REWARD_CLASSES.values():
        # The exact class, because a subclass may change the reward.
        if type(unwrapped) is env_class:
            return reward_class(unwrapped)
    task = unwrapped.spec.id if unwrapped.spec is not None else type(unwrapped).__name__
    raise ValueError(
        f"no simulator reward for task {task!r}; the true-simulator MPC supports "
        f"{', '.join(REWARD_CLASSES)}"
    )
