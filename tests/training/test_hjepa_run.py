"""A real run of the debug config on InvertedPendulum-v5 with ``hjepa`` and the ``hierarchical`` planner.

The run takes 300 env steps, 100 of them seed steps, with evaluations at steps 150 and 300.
Level 1 has k = 3 and a loss horizon of 2, so the replay samples sub-trajectories of 6 steps.
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

OVERRIDES = [
    "num_threads=1",
    "world_model.name=hjepa",
    "world_model.levels=[{k=3, latent_dim=8, macro_action_dim=4, hidden_dims=[32], horizon=2}]",
    "actor.planner.name=hierarchical",
    "actor.planner.high_level.num_samples=32",
    "actor.planner.high_level.num_elites=4",
    "actor.planner.high_level.iterations=2",
]
LEVEL_TAGS = ["latent_loss", "reward_loss", "variance_loss", "covariance_loss", "embedding_std", "effective_rank", "latent_loss/step_1", "latent_loss/step_2"]


class Run:
    def __init__(self, exit_code: int, run_dir: Path) -> None:
        self.exit_code = exit_code
        self.run_dir = run_dir
        self.events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "images": 0})
        self.events.Reload()

    def scalar_tags(self) -> list[str]:
        return self.events.Tags()["scalars"]


@pytest.fixture(scope="module")
def hjepa_run(tmp_path_factory) -> Run:
    runs_dir = tmp_path_factory.mktemp("runs")
    arguments = ["run", str(DEBUG_CONFIG), "--set", f"runs_dir={runs_dir}", "--quiet"]
    for override in OVERRIDES:
        arguments += ["--set", override]
    with contextlib.redirect_stdout(io.StringIO()):
        exit_code = main(arguments)
    run_dirs = sorted((runs_dir / "InvertedPendulum-v5").iterdir())
    assert len(run_dirs) == 1
    return Run(exit_code, run_dirs[0])


def test_run_exit_code(hjepa_run):
    assert hjepa_run.exit_code == 0


@pytest.mark.parametrize("tag", LEVEL_TAGS)
def test_run_logs_level_one_tag(hjepa_run, tag):
    assert f"world_model/level_1/{tag}" in hjepa_run.scalar_tags()


@pytest.mark.parametrize("tag", ["world_model/latent_loss/step_1", "world_model/effective_rank", "critic/loss"])
def test_run_keeps_level_zero_tags(hjepa_run, tag):
    assert tag in hjepa_run.scalar_tags()


def test_run_level_one_values_finite(hjepa_run):
    values = [event.value for event in hjepa_run.events.Scalars("world_model/level_1/latent_loss")]
    ranks = [event.value for event in hjepa_run.events.Scalars("world_model/level_1/effective_rank")]

    assert len(values) >= 4
    assert all(0 < value < 1e3 for value in values)
    # The debug level-1 latent has 8 dimensions; a collapsed one would have rank near 1.
    assert all(1.5 < rank <= 8.0 for rank in ranks)


@pytest.mark.parametrize("tag", ["cost/subgoal", "cost/high_level/task", "cost/high_level/total", "cost/total"])
def test_run_logs_planner_cost_term(hjepa_run, tag):
    assert tag in hjepa_run.scalar_tags()


def test_run_logs_prediction_error_by_step(hjepa_run):
    tags = hjepa_run.scalar_tags()
    for level, steps in ((0, 3), (1, 2)):
        for step in range(1, steps + 1):
            tag = f"world_model/eval/level_{level}/prediction_error/step_{step}"
            assert tag in tags
            assert [event.step for event in hjepa_run.events.Scalars(tag)] == [150, 300]
    images = hjepa_run.events.Images("world_model/eval/prediction_error")
    assert [image.step for image in images] == [150, 300]
    assert images[-1].encoded_image_string.startswith(b"\x89PNG")


def test_run_summary_has_both_modes(hjepa_run):
    summary = json.loads((hjepa_run.run_dir / "summary.json").read_text())

    assert summary["env_steps"] == 300
    assert set(summary["eval"]) == {"reactive", "deliberative"}


def test_eval_reports_high_level_planner(hjepa_run, capsys):
    exit_code = main(["eval", str(hjepa_run.run_dir), "--mode", "deliberative", "--episodes", "1"])

    planner = json.loads(capsys.readouterr().out)["planner"]
    assert exit_code == 0
    assert planner["name"] == "hierarchical"
    assert planner["high_level"]["num_samples"] == 32
    assert planner["high_level"]["iterations"] == 2
