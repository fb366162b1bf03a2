"""MPC with the true simulator: MPPI over action sequences rolled out in copies of the env's MuJoCo state.

This is the reference of what planning can reach with a perfect world model. It plans with the
MPPI update of the AMI planner (``ami.actor.mppi_update``), but scores candidates by the task's
own reward on exact simulations run with ``mujoco.rollout``.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
import torch
from mujoco import rollout

from agents.base import Agent
from agents.fixed_policy import record_fixed_policy
from agents.mujoco_rewards import SimulatedSteps, TaskReward, episode_returns, make_task_reward
from ami.actor.mppi_update import mppi_refit
from ami.config.schema import EnvConfig
from envs.make import make_env
from experiments.compare.protocol import RunSpec

logger = logging.getLogger(__name__)

NON_FINITE_COST = 1e12
"""Cost of a candidate whose simulated return is not finite, so that it gets no MPPI weight."""

STATE_SPEC = mujoco.mjtState.mjSTATE_FULLPHYSICS
"""Rollouts start from the time, positions, velocities, actuator and mocap states and plugin state of the env."""


@dataclass(frozen=True)
class TrueSimMPCConfig:
    """Settings of the true-simulator MPC. Std values are fractions of half the action range."""

    num_samples: int = 256
    """Candidate action sequences per iteration."""
    horizon: int = 30
    """Planning horizon in env steps."""
    iterations: int = 2
    """MPPI refits per action."""
    temperature: float = 0.5
    """MPPI temperature in reward units: elite weights are exp(-(cost - min cost) / temperature)."""
    noise_std: float = 0.5
    """Initial and maximal sampling std."""
    min_std: float = 0.05
    """Lower bound of the sampling std."""
    num_elites: int = 32
    num_threads: int = 1
    """Rollout threads. With 1, rollouts run on the calling thread."""

    @classmethod
    def from_options(cls, options: dict[str, Any], num_threads: int = 1) -> TrueSimMPCConfig:
        """Build the config from run options; ``num_threads`` is the default of the option of that name."""
        names = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(set(options) - set(names))
        if unknown:
            raise ValueError(f"unknown true-simulator MPC option(s) {unknown}; valid options are {names}")
        config = cls(**{"num_threads": num_threads, **options})
        config.validate()
        return config

    def validate(self) -> None:
        """Raise ValueError naming the first invalid setting."""
        checks = [
            (self.num_samples >= 1, f"num_samples must be positive, got {self.num_samples}"),
            (self.horizon >= 1, f"horizon must be positive, got {self.horizon}"),
            (self.iterations >= 1, f"iterations must be positive, got {self.iterations}"),
            (
                1 <= self.num_elites <= self.num_samples,
                f"num_elites must be between 1 and num_samples={self.num_samples}, got {self.num_elites}",
            ),
            (self.temperature > 0, f"temperature must be positive, got {self.temperature}"),
            (
                0 < self.min_std <= self.noise_std,
                f"the MPC needs 0 < min_std <= noise_std, got min_std={self.min_std}, noise_std={self.noise_std}",
            ),
            (self.num_threads >= 1, f"num_threads must be positive, got {self.num_threads}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


class SimulatorRollout:
    """Simulates action sequences from the current state of a Gymnasium MuJoCo env.

    Each env step repeats its control for the env's ``frame_skip`` physics steps, as the env's
    ``do_simulation`` does. Rollouts run in a persistent ``mujoco.rollout.Rollout`` thread pool.
    """

    def __init__(self, env: gym.Env, body_names: tuple[str, ...], num_threads: int) -> None:
        self.env = env.unwrapped
        self.frame_skip = self.env.frame_skip
        self.body_names = body_names
        self.model = self._rollout_model(body_names)
        nthread = 0 if num_threads <= 1 else num_threads  # 0 runs on the calling thread, without a pool.
        self.pool = rollout.Rollout(nthread=nthread)
        self.datas = [mujoco.MjData(self.model) for _ in range(max(nthread, 1))]
        self.state = np.empty(mujoco.mj_stateSize(self.model, STATE_SPEC))
        self.qpos_start = mujoco.mj_stateSize(self.model, mujoco.mjtState.mjSTATE_TIME)
        self.qvel_start = self.qpos_start + self.model.nq

    def _rollout_model(self, body_names: tuple[str, ...]) -> mujoco.MjModel:
        """Return the env's model, or compile a copy of its XML file with a frame-position sensor per body."""
        model = self.env.model
        if not body_names:
            return model
        spec = mujoco.MjSpec.from_file(self.env.fullpath)
        for name in body_names:
            # XBODY is the body frame, which data.xpos contains, while BODY would be the inertial frame.
            spec.add_sensor(
                name=f"mpc_{name}_position",
                type=mujoco.mjtSensor.mjSENS_FRAMEPOS,
                objtype=mujoco.mjtObj.mjOBJ_XBODY,
                objname=name,
            )
        copy = spec.compile()
        same = (copy.nq, copy.nv, copy.nu, copy.na, copy.opt.timestep) == (
            model.nq, model.nv, model.nu, model.na, model.opt.timestep
        )
        if not same:
            raise ValueError(
                f"the model compiled from {self.env.fullpath} differs from the env's model in nq, nv, nu, na "
                "or timestep, so its rollouts would not match the env; build the env from that XML file unchanged"
            )
        return copy

    def simulate(self, actions: np.ndarray) -> SimulatedSteps:
        """Simulate env actions ``(batch, horizon, action_dim)``, in the unwrapped env's bounds, from the env's state."""
        batch, horizon, _ = actions.shape
        env_model, env_data = self.env.model, self.env.data
        mujoco.mj_getState(env_model, env_data, self.state, STATE_SPEC)
        controls = np.repeat(actions, self.frame_skip, axis=1)  # (batch, horizon * frame_skip, nu)
        if self.body_names:
            # Position sensors are computed before each physics step integrates, so the sensors of
            # one extra step give the kinematics of the state after the last env step.
            controls = np.concatenate([controls, controls[:, -1:]], axis=1)
        states, sensordata = self.pool.rollout(
            self.model,
            self.datas,
            self.state[None],
            controls,
            initial_warmstart=env_data.qacc_warmstart[None],
        )

        # Row j of the states is the state after j + 1 physics steps, so the ends of env steps are these rows.
        env_step_ends = np.arange(1, horizon + 1) * self.frame_skip - 1
        qpos = np.concatenate(
            [np.broadcast_to(env_data.qpos, (batch, 1, env_model.nq)), states[:, env_step_ends, self.qpos_start : self.qvel_start]],
            axis=1,
        )
        qvel = np.concatenate(
            [
                np.broadcast_to(env_data.qvel, (batch, 1, env_model.nv)),
                states[:, env_step_ends, self.qvel_start : self.qvel_start + env_model.nv],
            ],
            axis=1,
        )
        body_positions = {
            name: sensordata[:, env_step_ends + 1, 3 * index : 3 * index + 3] for index, name in enumerate(self.body_names)
        }
        return SimulatedSteps(qpos=qpos, qvel=qvel, actions=actions, body_positions=body_positions)

    def close(self) -> None:
        self.pool.close()


class TrueSimMPCAgent(Agent):
    """MPPI with the true simulator, acting in ``env``; it reads the MuJoCo state of ``env`` at every action.

    Plans live in the action space of ``env``, which is ``[-1, 1]`` with ``make_env``. The simulator
    gets them mapped linearly to the unwrapped env's bounds, as ``RescaleAction`` maps them.
    """

    def __init__(self, env: gym.Env, config: TrueSimMPCConfig, seed: int) -> None:
        config.validate()
        self.config = config
        self.env = env
        self.reward: TaskReward = make_task_reward(env)
        self.simulator = SimulatorRollout(env, self.reward.body_names, config.num_threads)
        self.rng = np.random.default_rng(seed)

        self.low = env.action_space.low.astype(np.float64)
        self.high = env.action_space.high.astype(np.float64)
        self.env_low = env.unwrapped.action_space.low.astype(np.float64)
        self.env_high = env.unwrapped.action_space.high.astype(np.float64)
        half_range = (self.high - self.low) / 2
        self.max_std = config.noise_std * half_range
        self.min_std = config.min_std * half_range
        self.plan: np.ndarray | None = None
        """Mean action sequence ``(horizon, action_dim)`` of the last action, the warm start of the next."""

    def reset(self) -> None:
        self.plan = None

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Plan from the env's current simulation state and return the first action. ``obs`` is not read."""
        config = self.config
        action_dim = self.low.shape[0]
        mean = self._initial_mean()  # (H, A)
        std = np.broadcast_to(self.max_std, mean.shape).copy()

        for _ in range(config.iterations):
            noise = self.rng.standard_normal((config.num_samples, config.horizon, action_dim))
            candidates = np.clip(mean + std * noise, self.low, self.high)  # (N, H, A)
            costs = -self._returns(candidates)
            costs = np.where(np.isfinite(costs), costs, NON_FINITE_COST)

            elite_index = np.argsort(costs)[: config.num_elites]  # cheapest first, as the MPPI weights need
            elite_actions = torch.from_numpy(candidates[elite_index]).permute(1, 0, 2)[:, :, None]  # (H, K, 1, A)
            elite_costs = torch.from_numpy(costs[elite_index])[:, None]  # (K, 1)
            new_mean, new_std, weights = mppi_refit(elite_actions, elite_costs, config.temperature)
            mean = np.clip(new_mean[:, 0].numpy(), self.low, self.high)
            std = np.clip(new_std[:, 0].numpy(), self.min_std, self.max_std)

        self.plan = mean
        if deterministic:
            return mean[0].astype(self.env.action_space.dtype)
        # Like the AMI planner: the first action of an elite drawn by weight, plus the sampling noise.
        chosen = self.rng.choice(config.num_elites, p=weights[:, 0].double().numpy())
        action = elite_actions[0, chosen, 0].numpy() + std[0] * self.rng.standard_normal(action_dim)
        return np.clip(action, self.low, self.high).astype(self.env.action_space.dtype)

    def _initial_mean(self) -> np.ndarray:
        """Return the previous plan shifted by one step with its last action repeated, or the middle of the action range."""
        if self.plan is None:
            return np.broadcast_to((self.low + self.high) / 2, (self.config.horizon, self.low.shape[0])).copy()
        return np.concatenate([self.plan[1:], self.plan[-1:]], axis=0)

    def _returns(self, candidates: np.ndarray) -> np.ndarray:
        """Task returns ``(num_samples,)`` of the candidate sequences ``(num_samples, horizon, action_dim)``."""
        fraction = (candidates - self.low) / (self.high - self.low)
        env_actions = np.clip(self.env_low + fraction * (self.env_high - self.env_low), self.env_low, self.env_high)
        steps = self.simulator.simulate(env_actions)
        rewards, terminated = self.reward.step_rewards(steps)
        return episode_returns(rewards, terminated)

    def close(self) -> None:
        self.simulator.close()


def run_true_sim_mpc(spec: RunSpec) -> dict[str, Any]:
    """Evaluate the true-simulator MPC once and record that result at every evaluation point of ``spec``.

    The MPC does not learn, so its curve is a flat reference line. ``spec.options`` are
    ``TrueSimMPCConfig`` fields; ``num_threads`` defaults to ``spec.num_threads``.
    """
    config = TrueSimMPCConfig.from_options(spec.options, num_threads=spec.num_threads)
    env = make_env(EnvConfig(task=spec.task))
    agent = TrueSimMPCAgent(env, config, seed=spec.seed)
    logger.info("true-simulator MPC on %s, seed %d: %s", spec.task, spec.seed, config)
    try:
        return record_fixed_policy(spec, lambda obs: agent.act(obs, deterministic=True), env, on_reset=agent.reset)
    finally:
        agent.close()
        env.close()
