"""Two CPU runs of the debug config with the same seed train the same agent."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
import torch

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
