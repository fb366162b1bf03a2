"""A short real ``ami run`` of ``point_maze_u.toml`` with debug-sized networks, and a build of ``point_maze_large.toml``."""

from __future__ import annotations

import contextlib
import io
import json

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from ami.config import load_config
from ami.training.trainer import Trainer
from experiments.cli import main
from tests.tiny import REPO_ROOT

POINT_MAZE_U_CONFIG = REPO_ROOT / "experiments" / "configs" / "point_maze_u.toml"

DEBUG_OVERRIDES = [
    "device=cpu",
    "num_threads=1",
    "perception.latent_dim=16",
    "perception.hidden_dims=[32]",
    "world_model.hidden_dims=[32]",
    "cost.critic.num_critics=2",
    "cost.critic.hidden_dims=[32]",
    "actor.policy.hidden_dims=[32]",
    "actor.planner.num_samples=32",
    "actor.planner.iterations=2",
    "actor.planner.num_elites=4",
    "memory.batch_size=32",
    "train.total_steps=300",
    "train.seed_steps=100",
    "train.pretrain_updates=10",
    "train.eval_every=300",
    "train.eval_episodes=1",
    "train.log_every=100",
    # Short episodes keep the two evaluation episodes short.
    "env.max_episode_steps=60",
]
"""Shrink the networks, planner and budgets of the config so that the run takes seconds."""


@pytest.fixture(scope="module")
def maze_run(tmp_path_factory):
    runs_dir = tmp_path_factory.mktemp("runs")
    arguments = ["run", str(POINT_MAZE_U_CONFIG), "--quiet", "--set", f"runs_dir={runs_dir}"]
    for override in DEBUG_OVERRIDES:
        arguments += ["--set", override]
    with contextlib.redirect_stdout(io.StringIO()):
        exit_code = main(arguments)
    run_dirs = sorted((runs_dir / "ami_PointMazeU-v0").iterdir())
    assert len(run_dirs) == 1
    return exit_code, run_dirs[0]


def test_maze_run_exit_code(maze_run):
    exit_code, _ = maze_run

    assert exit_code == 0


def test_maze_run_summary(maze_run):
    _, run_dir = maze_run

    summary = json.loads((run_dir / "summary.json").read_text())

    assert summary["task"] == "ami/PointMazeU-v0"
    assert summary["env_steps"] == 300
    assert summary["unstable_episodes"] == 0
    assert set(summary["eval"]) == {"reactive", "deliberative"}
    for mode, result in summary["eval"].items():
        assert len(result["returns"]) == 1, mode
        # A sparse reward of 1 that ends the episode gives a return of 0 or 1.
        assert result["mean_return"] in (0.0, 1.0), mode


def test_maze_run_logs_training_episodes(maze_run):
    _, run_dir = maze_run
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()

    assert "rollout/ep_rew_mean" in events.Tags()["scalars"]
    assert "world_model/termination_loss" in events.Tags()["scalars"]


@pytest.mark.parametrize("planners", [[], ["--planners", "hierarchical"]], ids=["default", "hierarchical"])
def test_maze_eval_of_flat_run_rejects_hierarchical(maze_run, tmp_path, capsys, planners):
    _, run_dir = maze_run
    output = tmp_path / "maze_eval.json"

    exit_code = main(["maze-eval", str(run_dir), "--held-out", "1", "--output", str(output), *planners])

    assert exit_code == 2
    assert "the hierarchical planner needs a run trained with world_model.name = \"hjepa\"" in capsys.readouterr().err
    assert not output.exists()


def test_large_config_builds():
    config = load_config(REPO_ROOT / "experiments" / "configs" / "point_maze_large.toml", ["device=cpu"])

    trainer = Trainer(config, show_progress=False)

    assert trainer.spec.task == "ami/PointMazeLarge-v0"
    assert trainer.spec.obs_dim == 6
    assert trainer.spec.action_dim == 2
    assert trainer.spec.max_episode_steps == 800


def test_large_hierarchical_config_builds():
    config = load_config(REPO_ROOT / "experiments" / "configs" / "point_maze_large_hierarchical.toml", ["device=cpu"])

    trainer = Trainer(config, show_progress=False)

    assert trainer.spec.task == "ami/PointMazeLarge-v0"
    # Every training step is a random step, and the updates all run once, after them.
    assert config.train.seed_steps == config.train.total_steps
    (term,) = trainer.agent.learner.goal_distance_terms
    assert [head.latent_dim for head in term.heads] == [64, 32]
