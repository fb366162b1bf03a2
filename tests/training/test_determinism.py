"""Two CPU runs of the debug config with the same seed see the same env steps and train the same agent."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ami.config import load_config
from envs.make import make_env
from experiments.cli import main
from tests.tiny import DEBUG_CONFIG

# 150 steps: 100 seed steps, 10 pretraining updates, 50 steps of acting and learning, one evaluation.
SHORT_RUN = ["train.total_steps=150", "train.eval_every=150"]


def train(runs_dir: Path, seed: int) -> Path:
    overrides = [*SHORT_RUN, f"seed={seed}", f"runs_dir={runs_dir}"]
    arguments = ["run", str(DEBUG_CONFIG), "--quiet"]
    for override in overrides:
        arguments += ["--set", override]
    with contextlib.redirect_stdout(io.StringIO()):
        exit_code = main(arguments)
    assert exit_code == 0
    (run_dir,) = (runs_dir / "InvertedPendulum-v5").iterdir()
    return run_dir


def eval_returns(run_dir: Path) -> dict[str, list[float]]:
    summary = json.loads((run_dir / "summary.json").read_text())
    return {mode: result["returns"] for mode, result in summary["eval"].items()}


def flat_state(run_dir: Path) -> dict[str, torch.Tensor]:
    """Return every tensor of the checkpoint's module states by dotted name, without optimizer states."""
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)["state"]["agent"]
    return {
        f"{module}.{name}": value
        for module in ("world_model", "cost", "actor")
        for name, value in state[module].items()
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("determinism")
    return {
        "first": train(root / "first", seed=0),
        "second": train(root / "second", seed=0),
        "other_seed": train(root / "other_seed", seed=1),
    }


def test_same_seed_same_eval_returns(runs):
    first, second = eval_returns(runs["first"]), eval_returns(runs["second"])

    assert set(first) == {"reactive", "deliberative"}
    assert first == second


def test_same_seed_same_weights(runs):
    first, second = flat_state(runs["first"]), flat_state(runs["second"])

    assert first.keys() == second.keys()
    for name, value in first.items():
        assert torch.equal(value, second[name]), name


def test_other_seed_other_weights(runs):
    # Shows that the comparison above can fail: a different seed trains different weights.
    first, other = flat_state(runs["first"]), flat_state(runs["other_seed"])

    assert not torch.equal(first["actor.policy.net.0.weight"], other["actor.policy.net.0.weight"])


def replay_state(run_dir: Path) -> dict[str, torch.Tensor]:
    """Every env step the run stored: observations, actions, rewards and episode ends."""
    return torch.load(run_dir / "checkpoint.pt", weights_only=True)["state"]["memory"]["replay"]


def test_same_seed_same_env_trajectories(runs):
    first, second = replay_state(runs["first"]), replay_state(runs["second"])

    assert first["size"] == second["size"] == 150
    for field in ("obs", "actions", "rewards", "next_obs", "terminated", "truncated"):
        assert torch.equal(first[field], second[field]), field


def test_other_seed_other_env_trajectories(runs):
    first, other = replay_state(runs["first"]), replay_state(runs["other_seed"])

    assert not torch.equal(first["obs"], other["obs"])


def rollout(env, seed: int, actions) -> list:
    obs, _ = env.reset(seed=seed)
    trajectory = [obs]
    for action in actions:
        obs, reward, terminated, truncated, _ = env.step(action)
        trajectory.append((obs, reward, terminated, truncated))
        if terminated or truncated:
            break
    return trajectory


def test_reset_seed_reproduces_trajectory():
    config = load_config(DEBUG_CONFIG, ["env.task=HalfCheetah-v5"])
    env = make_env(config.env)
    actions = np.random.default_rng(0).uniform(-1, 1, size=(50, 6)).astype(np.float32)

    first = rollout(env, seed=3, actions=actions)
    rollout(env, seed=4, actions=actions)
    again = rollout(env, seed=3, actions=actions)
    other = rollout(env, seed=4, actions=actions)

    assert len(first) == len(again) == 51
    assert np.array_equal(first[0], again[0])
    for step, (expected, repeated) in enumerate(zip(first[1:], again[1:])):
        assert np.array_equal(expected[0], repeated[0]), step
        assert expected[1:] == repeated[1:], step
    assert not np.array_equal(first[0], other[0])
