"""The planning benchmark's record for the flat and the hierarchical planner."""

from __future__ import annotations

import json

import pytest

from experiments.benchmarks.planning import main
from tests.tiny import DEBUG_CONFIG

SMALL = ["--device", "cpu", "--budgets", "16x2x3", "--envs", "1,2", "--peak-size", "128", "--min-seconds", "0", "--max-repeats", "1"]


def run_benchmark(tmp_path, *arguments: str) -> list[dict]:
    output = tmp_path / "planning.json"
    main(["--config", str(DEBUG_CONFIG), *SMALL, "--output", str(output), *arguments])
    return json.loads(output.read_text())["devices"][0]["cells"]


def test_planning_benchmark_flat_cells(tmp_path):
    cells = run_benchmark(tmp_path)

    assert [cell["envs"] for cell in cells] == [1, 2]
    for cell in cells:
        assert cell["budget"] == "16x2x3"
        assert cell["flops_per_plan"] == sum(cell["flops_by_network"].values())
        assert cell["transitions_per_s"] == pytest.approx(2 * 3 * 16 * cell["envs"] / (cell["ms_per_plan"] / 1000))
    assert cells[1]["flops_per_plan"] == 2 * cells[0]["flops_per_plan"]


def test_planning_benchmark_hierarchical_cells(tmp_path):
    cells = run_benchmark(
        tmp_path,
        "--planner", "hierarchical",
        "--set", "world_model.name=hjepa",
        "--set", "world_model.levels=[{k = 3}]",
        "--set", "actor.planner.high_level.num_samples=8",
        "--set", "actor.planner.high_level.num_elites=4",
        "--set", "actor.planner.high_level.horizon=2",
        "--set", "actor.planner.high_level.iterations=3",
    )

    for cell in cells:
        low_level, high_level = 2 * 3 * 16, 3 * 2 * 8
        seconds = cell["ms_per_plan"] / 1000
        assert cell["transitions_per_s"] == pytest.approx((low_level + high_level) * cell["envs"] / seconds)
        assert cell["flops_by_network"] is None
        assert cell["flops_per_plan"] > 0
    assert cells[1]["flops_per_plan"] == 2 * cells[0]["flops_per_plan"]
