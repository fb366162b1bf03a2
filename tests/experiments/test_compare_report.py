"""The statistics and the report of ``ami compare``, on fixed tables with hand-computed values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.compare.config import AgentEntry, CompareConfig
from experiments.compare.grid import DONE_NAME, build_specs
from experiments.compare.protocol import EVALUATIONS_NAME, append_row
from experiments.compare.report import RESULTS_NAME, write_report
from experiments.compare.stats import bootstrap_interval, iqm, mean


def test_iqm_trims_quartiles():
    # int(0.25 * 8) = 2 values are cut from each end, leaving 3, 4, 5 and 6.
    assert iqm([8, 1, 7, 2, 6, 3, 5, 4]) == 4.5
    assert iqm([1, 2, 100]) == pytest.approx(103 / 3)


def test_iqm_ignores_outliers():
    assert iqm([0, 10, 10, 10, 10, 10, 10, 1000]) == 10.0


def test_bootstrap_two_values():
    # Resamples of (0, 1) have means 0, 0.5 and 1 with probabilities 1/4, 1/2 and 1/4, so the
    # 2.5th and 97.5th percentiles are 0 and 1.
    assert bootstrap_interval([0.0, 1.0], mean) == (0.0, 1.0)


def test_bootstrap_identical_values():
    assert bootstrap_interval([7.0, 7.0, 7.0]) == (7.0, 7.0)


def test_bootstrap_single_value():
    assert bootstrap_interval([3.0]) == (3.0, 3.0)


def test_bootstrap_contains_statistic():
    values = [1.0, 4.0, 2.0, 8.0, 5.0, 7.0]

    low, high = bootstrap_interval(values)

    assert low <= iqm(values) <= high
    assert low < high


# Returns by (agent label, seed): evaluations at 100 and 200 env steps.
TABLE = {
    ("ami_reactive", 0): {100: 10.0, 200: 40.0},
    ("ami_reactive", 1): {100: 20.0, 200: 60.0},
    ("ami_deliberative", 0): {100: 30.0, 200: 90.0},
    ("ami_deliberative", 1): {100: 50.0, 200: 110.0},
    ("sac", 0): {100: 5.0, 200: 25.0},
    ("sac", 1): {100: 15.0, 200: 35.0},
}
WALL_SECONDS = {("ami", 0): 100.0, ("ami", 1): 300.0, ("sac", 0): 50.0, ("sac", 1): 70.0}


@pytest.fixture
def finished_grid(tmp_path) -> CompareConfig:
    """A comparison whose run folders hold the fixed TABLE, written as runners write them."""
    # The grid records a digest of each ami config file, so the file must exist; no run reads it.
    ami_config = tmp_path / "ami.toml"
    ami_config.write_text("")
    config = CompareConfig(
        name="fixed",
        output_dir=str(tmp_path),
        tasks={"InvertedPendulum-v5": 200},
        seeds=(0, 1),
        eval_every=100,
        eval_episodes=1,
        budgets=(100,),
        agents=(AgentEntry("ami", "ami", configs={"InvertedPendulum-v5": str(ami_config)}), AgentEntry("sac", "sac")),
    )
    for spec in build_specs(config):
        run_dir = Path(spec.run_dir)
        run_dir.mkdir(parents=True)
        labels = [f"{spec.agent}_reactive", f"{spec.agent}_deliberative"] if spec.kind == "ami" else [spec.agent]
        for label in labels:
            for step, value in TABLE[(label, spec.seed)].items():
                row = {
                    "task": spec.task, "agent": label, "seed": spec.seed, "env_steps": step, "mean_return": value,
                    "std_return": 0.0, "mean_length": value, "ms_per_action": 2.0 if label.endswith("deliberative") else 0.5,
                    "wall_seconds": step / 10,
                }
                append_row(run_dir / EVALUATIONS_NAME, row)
        (run_dir / DONE_NAME).write_text(json.dumps({"wall_seconds": WALL_SECONDS[(spec.agent, spec.seed)]}))
    return config


def summary_rows(summary: str) -> dict[str, list[str]]:
    rows = {}
    for line in summary.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if line.startswith("| ") and cells[0] not in ("agent",):
            rows[cells[0]] = cells[1:]
    return rows


def test_summary_values(finished_grid):
    summary = write_report(finished_grid, build_specs(finished_grid)).read_text()

    rows = summary_rows(summary)
    # Columns: seeds, final return, return at 100, wall time, ms per action. With two seeds the
    # IQM is the mean and the percentile bootstrap spans the two values.
    assert rows["ami_reactive"] == ["2", "50.0 [40.0, 60.0]", "15.0 [10.0, 20.0]", "200", "0.50"]
    assert rows["ami_deliberative"] == ["2", "100.0 [90.0, 110.0]", "40.0 [30.0, 50.0]", "200", "2.00"]
    assert rows["sac"] == ["2", "30.0 [25.0, 35.0]", "10.0 [5.0, 15.0]", "60", "0.50"]


def test_results_csv_rows(finished_grid):
    write_report(finished_grid, build_specs(finished_grid))

    lines = (Path(finished_grid.output_dir) / RESULTS_NAME).read_text().splitlines()
    assert lines[0] == "task,agent,seed,env_steps,mean_return,std_return,mean_length,ms_per_action,wall_seconds"
    assert len(lines) == 1 + len(TABLE) * 2
    assert lines[1].startswith("InvertedPendulum-v5,ami_deliberative,0,100,30.0,")


def test_plot_written(finished_grid):
    write_report(finished_grid, build_specs(finished_grid))

    plot = Path(finished_grid.output_dir) / "plots" / "InvertedPendulum-v5.png"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot.stat().st_size > 10_000


def test_unfinished_run_left_out(finished_grid):
    sac_seed_1 = Path(build_specs(finished_grid)[-1].run_dir)
    (sac_seed_1 / DONE_NAME).unlink()

    summary = write_report(finished_grid, build_specs(finished_grid)).read_text()

    assert summary_rows(summary)["sac"][:2] == ["1", "25.0 [25.0, 25.0]"]
