"""A run on a sync vector env of 2 envs, killed by SIGKILL after a checkpoint and resumed, logs what an uninterrupted run logs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ami.training.checkpoint import CHECKPOINT_NAME
from tests.plugins.killable_configurator import KILL_STEP_VARIABLE
from tests.tiny import REPO_ROOT
from tests.training.test_resume import TIMING_TAGS, checkpoint_step, logged_scalars, only_run_dir, quiet_main, run_arguments

NUM_ENVS = 2
# 100 seed steps (50 vector steps), then acting and learning; checkpoints at 200 and at the end (400).
# The killed run also evaluates and flushes TensorBoard at 300, so points after its checkpoint are on disk.
VECTOR_SETTINGS = [f"env.num_envs={NUM_ENVS}", "env.vectorization=sync"]
CHECKPOINT_STEP = 200
KILL_STEP = 350


def vector_run_arguments(runs_dir: Path) -> list[str]:
    arguments = run_arguments(runs_dir)
    for setting in VECTOR_SETTINGS:
        arguments += ["--set", setting]
    return arguments


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("vector_resume")
    assert quiet_main(vector_run_arguments(root / "uninterrupted")) == 0

    killed = subprocess.run(
        [sys.executable, "-m", "experiments.cli", *vector_run_arguments(root / "killed")],
        cwd=REPO_ROOT,
        env={**os.environ, KILL_STEP_VARIABLE: str(KILL_STEP)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    killed_dir = only_run_dir(root / "killed")
    before_resume = {"returncode": killed.returncode, "checkpoint_step": checkpoint_step(killed_dir), "stderr": killed.stderr}
    resume_exit_code = quiet_main(["run", "--resume", str(killed_dir), "--quiet"])
    return {
        "uninterrupted": only_run_dir(root / "uninterrupted"),
        "resumed": killed_dir,
        "before_resume": before_resume,
        "resume_exit_code": resume_exit_code,
    }


def test_vector_killed_run_died_after_checkpoint(runs):
    before = runs["before_resume"]

    assert before["returncode"] == -signal.SIGKILL, before["stderr"][-2000:]
    assert before["checkpoint_step"] == CHECKPOINT_STEP


def test_vector_resume_exit_code(runs):
    assert runs["resume_exit_code"] == 0
    assert checkpoint_step(runs["resumed"]) == 400


def test_vector_resume_logs_same_values(runs):
    expected, resumed = logged_scalars(runs["uninterrupted"]), logged_scalars(runs["resumed"])

    assert expected.keys() == resumed.keys()
    assert "rollout/ep_rew" in expected
    for tag in expected.keys() - set(TIMING_TAGS):
        assert resumed[tag] == expected[tag], tag


def test_vector_resume_same_final_weights(runs):
    expected = torch.load(runs["uninterrupted"] / CHECKPOINT_NAME, weights_only=True)["state"]
    resumed = torch.load(runs["resumed"] / CHECKPOINT_NAME, weights_only=True)["state"]

    for module in ("world_model", "cost", "actor"):
        for name, value in expected["agent"][module].items():
            assert torch.equal(resumed["agent"][module][name], value), f"{module}.{name}"
    assert torch.equal(resumed["training"]["rollout"]["obs"], expected["training"]["rollout"]["obs"])


def test_vector_resume_same_replay(runs):
    expected = torch.load(runs["uninterrupted"] / CHECKPOINT_NAME, weights_only=True)["state"]["memory"]["replay"]
    resumed = torch.load(runs["resumed"] / CHECKPOINT_NAME, weights_only=True)["state"]["memory"]["replay"]

    assert resumed["stream_sizes"] == expected["stream_sizes"]
    assert torch.equal(resumed["obs"], expected["obs"])
    assert torch.equal(resumed["terminated"], expected["terminated"])
