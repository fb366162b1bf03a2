"""MPC with the true simulator on a real InvertedPendulum-v5 env, without any learning."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.true_sim_mpc import TrueSimMPCAgent, TrueSimMPCConfig, run_true_sim_mpc
from ami.config.schema import EnvConfig
from ami.training.evaluate import run_episodes
from envs.make import make_env
from experiments.compare.protocol import RunSpec
from tests.agents.test_run_random import read_env_steps


def balance(config: TrueSimMPCConfig, max_episode_steps: int) -> tuple[float, int]:
    env = make_env(EnvConfig(task="InvertedPendulum-v5", max_episode_steps=max_episode_steps))
    agent = TrueSimMPCAgent(env, config, seed=0)
    result = run_episodes(lambda obs: agent.act(obs, deterministic=True), env, "mpc", 1, 10_000, on_reset=agent.reset)
    agent.close()
    return result.returns[0], result.lengths[0]


def test_mpc_balances_pendulum_briefly() -> None:
    # Small sizes keep this to a few seconds on one core. The reward only pays for survival, so
    # nothing keeps the cart centred until its rail limit enters the horizon, and plans this small
    # lose the pole there after a few hundred steps.
    config = TrueSimMPCConfig(num_samples=64, horizon=20, iterations=1, num_elites=8, temperature=0.1)

    episode_return, length = balance(config, max_episode_steps=200)

    assert length == 200
    assert episode_return == 200


@pytest.mark.slow
def test_mpc_balances_pendulum_full_episode() -> None:
    episode_return, length = balance(TrueSimMPCConfig(num_threads=2), max_episode_steps=0)

    assert length == 1000
    assert episode_return == 1000


def test_mpc_run_records_every_point(tmp_path: Path) -> None:
    spec = RunSpec(
        task="InvertedPendulum-v5", agent="MPC", kind="mpc_true", seed=0, total_steps=250, eval_every=100,
        eval_episodes=1, run_dir=str(tmp_path),
        options={"num_samples": 16, "horizon": 5, "iterations": 1, "num_elites": 4},
    )

    summary = run_true_sim_mpc(spec)

    assert summary["env_steps"] == 250
    assert read_env_steps(tmp_path, spec.agent) == [100, 200, 250]


def test_mpc_unknown_option_names_valid() -> None:
    with pytest.raises(ValueError, match=r"unknown true-simulator MPC option\(s\) \['samples'\]") as error:
        TrueSimMPCConfig.from_options({"samples": 8})

    assert "num_samples" in str(error.value)
