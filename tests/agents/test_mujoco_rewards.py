"""Rewards computed from simulated states against the env's own rewards on real steps."""

from __future__ import annotations

import numpy as np
import pytest

from agents.mujoco_rewards import REWARD_CLASSES, episode_returns
from agents.true_sim_mpc import TrueSimMPCAgent, TrueSimMPCConfig
from ami.config.schema import EnvConfig
from envs.make import make_env

NUM_STEPS = 15

# Reacher-v5 reads body positions of the last RK4 stage, about 1e-5 m from the final state's.
TOLERANCE = {"Reacher-v5": 1e-4}


@pytest.mark.parametrize("task", sorted(REWARD_CLASSES))
def test_reward_matches_env_steps(task: str) -> None:
    env = make_env(EnvConfig(task=task))
    agent = TrueSimMPCAgent(env, TrueSimMPCConfig(num_samples=4, num_elites=2, horizon=NUM_STEPS), seed=0)
    env.reset(seed=3)
    env.action_space.seed(3)
    for _ in range(3):
        env.step(env.action_space.sample())
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (NUM_STEPS, env.action_space.shape[0])).astype(np.float32)

    # The simulated rewards of the action sequence, from the env's current state.
    unwrapped = env.unwrapped
    low, high = unwrapped.action_space.low, unwrapped.action_space.high
    env_actions = low + (actions.astype(np.float64) + 1) / 2 * (high - low)
    steps = agent.simulator.simulate(env_actions[None])
    rewards, terminated = agent.reward.step_rewards(steps)

    # The env's own rewards for the same actions; a terminated episode stops the comparison.
    env_rewards, env_terminated, env_qpos = [], [], []
    for action in actions:
        _, reward, done, _, _ = env.step(action)
        env_rewards.append(reward)
        env_terminated.append(done)
        env_qpos.append(unwrapped.data.qpos.copy())
        if done:
            break
    count = len(env_rewards)

    # The env rescales float32 actions in float32, the simulation here in float64, hence 1e-6.
    np.testing.assert_allclose(steps.qpos[0, 1 : count + 1], env_qpos, rtol=0, atol=1e-6)
    np.testing.assert_allclose(rewards[0, :count], env_rewards, rtol=0, atol=TOLERANCE.get(task, 1e-5))
    assert list(terminated[0, :count]) == env_terminated
    agent.close()


def test_unsupported_task_names_supported() -> None:
    env = make_env(EnvConfig(task="Swimmer-v5"))

    with pytest.raises(ValueError, match="no simulator reward for task 'Swimmer-v5'") as error:
        TrueSimMPCAgent(env, TrueSimMPCConfig(), seed=0)

    for task in REWARD_CLASSES:
        assert task in str(error.value)


def test_episode_returns_stop_at_termination() -> None:
    rewards = np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0]])
    terminated = np.array([[False, True, False, True], [False, False, False, False]])

    returns = episode_returns(rewards, terminated)

    # The terminating step's reward counts; later steps do not.
    assert returns.tolist() == [3.0, 4.0]
