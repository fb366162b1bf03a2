"""One real run of ``ami run experiments/configs/debug.toml`` on InvertedPendulum-v5, then ``ami eval``.

The run takes 300 env steps, 100 of them seed steps, with evaluations at steps 150 and 300.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from experiments.cli import main
from tests.tiny import DEBUG_CONFIG

WORLD_MODEL_HORIZON = 3
"""``world_model.horizon`` of the debug config (the schema default)."""

EXPECTED_SCALARS = [
    "eval/reactive/mean_reward",
    "eval/deliberative/mean_reward",
    "rollout/ep_rew_mean",
    "time/fps",
    *(f"world_model/latent_loss/step_{step}" for step in range(1, WORLD_MODEL_HORIZON + 1)),
    "world_model/reward_loss",
    "critic/loss",
    "world_model/embedding_std",
    "world_model/effective_rank",
    "plan/ms_per_action/deliberative",
    "cost/task",
    "cost/action_energy",
    "cost/critic",
]


class DebugRun:
    def __init__(self, exit_code: int, stdout: str, run_dir: Path) -> None:
        self.exit_code = exit_code
        self.stdout = stdout
        self.run_dir = run_dir
        self.events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "tensors": 0})
        self.events.Reload()


@pytest.fixture(scope="module")
def debug_run(tmp_path_factory) -> DebugRun:
    runs_dir = tmp_path_factory.mktemp("runs")
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        exit_code = main(["run", str(DEBUG_CONFIG), "--set", f"runs_dir={runs_dir}", "--quiet"])
    run_dirs = sorted((runs_dir / "InvertedPendulum-v5").iterdir())
    assert len(run_dirs) == 1
    return DebugRun(exit_code, stdout.getvalue(), run_dirs[0])


def test_run_exit_code(debug_run):
    assert debug_run.exit_code == 0


def test_run_folder_name(debug_run):
    assert debug_run.run_dir.name.startswith("debug-")
    assert debug_run.run_dir.name.endswith("-s0")


@pytest.mark.parametrize("name", ["config.toml", "version.txt", "checkpoint.pt", "summary.json"])
def test_run_writes_file(debug_run, name):
    assert (debug_run.run_dir / name).is_file()


def test_run_summary(debug_run):
    summary = json.loads((debug_run.run_dir / "summary.json").read_text())

    assert summary["env_steps"] == 300
    assert summary["task"] == "InvertedPendulum-v5"
    assert set(summary["eval"]) == {"reactive", "deliberative"}
    for mode, result in summary["eval"].items():
        assert len(result["returns"]) == 1, mode
        assert result["mean_return"] >= 1.0, mode
    # 10 pretraining updates after the 100 seed steps, then one update per env step.
    assert summary["pretrain_updates"] == 10
    assert summary["ms_per_pretrain_update"] > 0
    assert summary["ms_per_step_acting"] > 0
    assert summary["ms_per_step_updating"] > 0


def test_run_summary_without_acting_steps(tmp_path):
    arguments = ["run", str(DEBUG_CONFIG), "--quiet", "--set", f"runs_dir={tmp_path}"]
    for setting in ("train.total_steps=100", "train.eval_every=100", "train.eval_modes=['reactive']"):
        arguments += ["--set", setting]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(arguments) == 0

    (run_dir,) = (tmp_path / "InvertedPendulum-v5").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["env_steps"] == 100
    assert summary["ms_per_step_acting"] is None
    assert summary["ms_per_step_updating"] is None
    assert summary["pretrain_updates"] == 10
    assert summary["ms_per_pretrain_update"] > 0


@pytest.mark.parametrize("tag", EXPECTED_SCALARS)
def test_run_logs_scalar(debug_run, tag):
    assert tag in debug_run.events.Tags()["scalars"]


@pytest.mark.parametrize("mode", ["reactive", "deliberative"])
def test_run_eval_steps(debug_run, mode):
    steps = [event.step for event in debug_run.events.Scalars(f"eval/{mode}/mean_reward")]

    assert steps == [150, 300]


def test_run_logs_config_text(debug_run):
    assert "config/text_summary" in debug_run.events.Tags()["tensors"]

    text = debug_run.events.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()

    assert 'name = "debug"' in text
    assert "total_steps = 300" in text


def test_eval_command_on_run(debug_run, capsys):
    exit_code = main(["eval", str(debug_run.run_dir), "--episodes", "1"])

    output = json.loads(capsys.readouterr().out)
    assert exit_code == 0
    assert output["step"] == 300
    assert set(output["eval"]) == {"reactive", "deliberative"}
