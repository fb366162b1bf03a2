"""Random-action runs recorded at every evaluation point."""

from __future__ import annotations

import csv
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agents.fixed_policy import evaluation_points
from agents.random_agent import run_random
from experiments.compare.protocol import EVALUATIONS_NAME, RunSpec


def read_env_steps(run_dir: Path, agent: str) -> list[int]:
    """Env steps of the CSV rows, after checking that TensorBoard has the same points."""
    events = EventAccumulator(str(run_dir / "eval" / agent))
    events.Reload()
    tensorboard_steps = [event.step for event in events.Scalars("eval/mean_reward")]
    with open(run_dir / EVALUATIONS_NAME, newline="") as file:
        csv_steps = [int(row["env_steps"]) for row in csv.DictReader(file)]
    assert tensorboard_steps == csv_steps
    return csv_steps


def test_random_records_every_point(tmp_path: Path) -> None:
    spec = RunSpec(
        task="InvertedPendulum-v5", agent="Random", kind="random", seed=0, total_steps=1000, eval_every=300,
        eval_episodes=3, run_dir=str(tmp_path),
    )

    summary = run_random(spec)

    assert summary["env_steps"] == 1000
    assert read_env_steps(tmp_path, "Random") == [300, 600, 900, 1000]
    with open(tmp_path / EVALUATIONS_NAME, newline="") as file:
        returns = {row["mean_return"] for row in csv.DictReader(file)}
    assert len(returns) == 1
    assert summary["mean_return"] < 100


def test_evaluation_points_schedule() -> None:
    assert evaluation_points(1000, 250) == [250, 500, 750, 1000]
    assert evaluation_points(1000, 300) == [300, 600, 900, 1000]
    assert evaluation_points(100, 500) == [100]
