"""Errors raised after ``ami run`` has started training, and interrupted runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ami.training.checkpoint import CHECKPOINT_NAME
from experiments.cli import main
from tests.tiny import DEBUG_CONFIG


def run_with_planner(runs_dir: Path, planner: str) -> int:
    return main([
        "run", str(DEBUG_CONFIG),
        "--set", f"runs_dir={runs_dir}",
        "--set", 'imports=["tests.plugins.failing_planner"]',
        "--set", f"actor.planner.name={planner}",
        "--quiet",
    ])


def test_training_error_keeps_traceback(tmp_path):
    # A bug inside training is not bad input: it must surface with its traceback.
    with pytest.raises(ValueError, match="bug inside a user planner"):
        run_with_planner(tmp_path, "test_raises_value_error")


def test_interrupt_saves_checkpoint_and_summary(tmp_path):
    exit_code = run_with_planner(tmp_path, "test_interrupts")

    run_dirs = list((tmp_path / "InvertedPendulum-v5").iterdir())
    assert exit_code == 130
    assert len(run_dirs) == 1
    assert (run_dirs[0] / CHECKPOINT_NAME).is_file()
    summary = json.loads((run_dirs[0] / "summary.json").read_text())
    assert summary["interrupted"] is True
    # The debug config has 100 seed steps; the first planner call comes after them.
    assert summary["env_steps"] == 100


def test_eval_of_interrupted_run(tmp_path, capsys):
    run_with_planner(tmp_path, "test_interrupts")
    run_dir = next((tmp_path / "InvertedPendulum-v5").iterdir())
    capsys.readouterr()

    exit_code = main(["eval", str(run_dir), "--mode", "reactive", "--episodes", "1"])

    assert exit_code == 0
    assert json.loads(capsys.readouterr().out)["step"] == 100


def test_eval_config_edited_after_run(tmp_path, capsys):
    main(["run", str(DEBUG_CONFIG), "--set", f"runs_dir={tmp_path}", "--set", "train.total_steps=110", "--quiet"])
    run_dir = next((tmp_path / "InvertedPendulum-v5").iterdir())
    config_path = run_dir / "config.toml"
    config_path.write_text(config_path.read_text().replace("latent_dim = 16", "latent_dim = 24"))
    capsys.readouterr()

    exit_code = main(["eval", str(run_dir), "--episodes", "1"])

    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert exit_code == 2
    assert len(lines) == 1
    assert "was written with perception.latent_dim=16 but the config gives 24" in lines[0]
