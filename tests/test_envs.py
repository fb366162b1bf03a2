"""``envs.make_env`` on a real MuJoCo task, and the TaskSpec read from it."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ami.config import EnvConfig
from ami.spec import TaskSpec
from envs import UnknownTaskError, check_task, make_env


def test_make_env_normalizes_actions():
    env = make_env(EnvConfig(task="InvertedPendulum-v5"))

    assert env.action_space.dtype == np.float32
    assert np.array_equal(env.action_space.low, [-1.0])
    assert np.array_equal(env.action_space.high, [1.0])


def test_make_env_keeps_raw_actions():
    env = make_env(EnvConfig(task="InvertedPendulum-v5", normalize_actions=False))

    assert np.array_equal(env.action_space.low, [-3.0])
    assert np.array_equal(env.action_space.high, [3.0])


def test_make_env_emits_no_warnings():
    # Warnings reach the CLI's stderr, where bad input must give one error line.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make_env(EnvConfig(task="InvertedPendulum-v5"))

    assert [str(warning.message) for warning in caught] == []


def test_task_spec_from_env():
    env = make_env(EnvConfig(task="InvertedPendulum-v5"))

    spec = TaskSpec.from_env(env, "InvertedPendulum-v5")

    assert spec == TaskSpec(
        task="InvertedPendulum-v5",
        obs_dim=4,
        action_dim=1,
        action_low=(-1.0,),
        action_high=(1.0,),
        max_episode_steps=1000,
    )


def test_episode_limit_override():
    env = make_env(EnvConfig(task="InvertedPendulum-v5", max_episode_steps=5))
    env.reset(seed=0)

    truncated_at = None
    for step in range(1, 6):
        _, _, terminated, truncated, _ = env.step(np.zeros(1, dtype=np.float32))
        assert not terminated, step
        if truncated:
            truncated_at = step
            break

    assert TaskSpec.from_env(env, "InvertedPendulum-v5").max_episode_steps == 5
    assert truncated_at == 5


def test_unknown_task_suggests_ids():
    with pytest.raises(UnknownTaskError) as raised:
        check_task("HalfCheetah-v9")

    message = str(raised.value)
    assert message.startswith("unknown task 'HalfCheetah-v9' for env.task")
    assert "'HalfCheetah-v5'" in message
