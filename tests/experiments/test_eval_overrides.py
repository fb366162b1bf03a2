"""``ami eval --set``: evaluation settings that the saved modules do not depend on.

The run trains with the default fixed configurator, so the adaptive options given at
evaluation must reach the adaptive configurator without passing through the fixed one.
"""

from __future__ import annotations

import contextlib
import io
import json
import tomllib
from pathlib import Path

import pytest
import torch

from experiments.cli import main
from tests.tiny import DEBUG_CONFIG


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    runs_dir = tmp_path_factory.mktemp("runs")
    overrides = [f"runs_dir={runs_dir}", "train.total_steps=200", "train.eval_every=200"]
    with contextlib.redirect_stdout(io.StringIO()):
        exit_code = main(["run", str(DEBUG_CONFIG), "--quiet", *[arg for o in overrides for arg in ("--set", o)]])
    assert exit_code == 0
    (run,) = (runs_dir / "InvertedPendulum-v5").iterdir()
    return run


def eval_json(capsys, run_dir: Path, *args: str) -> dict:
    exit_code = main(["eval", str(run_dir), "--episodes", "2", *args])
    captured = capsys.readouterr()
    assert exit_code == 0, captured.err
    return json.loads(captured.out)


@pytest.mark.parametrize("budget", [0.0, 1.0])
def test_eval_budget_sets_share(run_dir, capsys, budget):
    output = eval_json(capsys, run_dir, "--mode", "adaptive", "--set", f"configurator.deliberation_budget={budget}")

    assert output["adaptive"]["deliberation_budget"] == budget
    assert output["eval"]["adaptive"]["deliberative_share"] == budget


def test_eval_budget_splits_modes(run_dir, capsys):
    output = eval_json(
        capsys, run_dir, "--mode", "adaptive", "--set", "configurator.deliberation_budget=0.5",
        "--set", "configurator.options.window=20", "--set", "configurator.options.min_history=5",
    )

    result = output["eval"]["adaptive"]
    assert output["adaptive"] == {"deliberation_budget": 0.5, "window": 20, "min_history": 5, "plan_margin": None}
    assert 0 < result["deliberative_share"] < 1
    assert set(result["ms_per_action"]) == {"reactive", "deliberative"}
    share = result["deliberative_share"]
    acting_ms = share * result["ms_per_action"]["deliberative"] + (1 - share) * result["ms_per_action"]["reactive"]
    # ms_per_step adds the time of choosing the mode to the time of acting.
    assert result["ms_per_step"] > acting_ms


def test_eval_num_threads_override(run_dir, capsys):
    threads = torch.get_num_threads()
    try:
        output = eval_json(capsys, run_dir, "--mode", "reactive", "--set", "num_threads=1")
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)

    assert set(output["eval"]) == {"reactive"}


def test_eval_planner_budget_override(run_dir, capsys):
    output = eval_json(
        capsys, run_dir, "--mode", "deliberative", "--set", "actor.planner.num_samples=12",
        "--set", "actor.planner.horizon=7", "--set", "actor.planner.num_elites=3",
        "--set", "actor.planner.max_std=0.3", "--set", "actor.planner.policy_fraction=0.5",
    )

    planner = output["planner"]
    assert (planner["num_samples"], planner["horizon"], planner["num_elites"]) == (12, 7, 3)
    assert (planner["max_std"], planner["policy_fraction"]) == (0.3, 0.5)
    assert set(output["eval"]) == {"deliberative"}


def test_eval_reports_trained_planner(run_dir, capsys):
    output = eval_json(capsys, run_dir, "--mode", "reactive")

    run_planner = tomllib.loads((run_dir / "config.toml").read_text())["actor"]["planner"]
    assert output["planner"]["num_samples"] == run_planner["num_samples"]
    assert output["planner"]["horizon"] == run_planner["horizon"]


BAD_EVAL_OVERRIDES = {
    "module_field": (
        ["--mode", "adaptive", "--set", "world_model.hidden_dims=[64]"],
        "cannot override 'world_model.hidden_dims' in `ami eval`: only configurator.deliberation_budget,",
    ),
    "planner_samples_not_positive": (
        ["--mode", "deliberative", "--set", "actor.planner.num_samples=0"],
        "actor.planner.num_samples",
    ),
    "planner_temperature_infinite": (
        ["--mode", "deliberative", "--set", "actor.planner.temperature=inf"],
        "actor.planner.temperature must be finite and at least 1.18e-38 (the smallest normal float32), got inf",
    ),
    "planner_temperature_below_float32": (
        ["--mode", "deliberative", "--set", "actor.planner.temperature=1e-300"],
        "actor.planner.temperature must be finite and at least 1.18e-38 (the smallest normal float32), got 1e-300",
    ),
    "planner_in_reactive_mode": (
        ["--mode", "reactive", "--set", "actor.planner.num_samples=64"],
        "--set actor.planner.num_samples has no effect with --mode reactive",
    ),
    "needs_adaptive_mode": (
        ["--mode", "deliberative", "--set", "configurator.deliberation_budget=0.3"],
        "--set configurator.deliberation_budget takes effect only with --mode adaptive",
    ),
    "budget_out_of_range": (
        ["--mode", "adaptive", "--set", "configurator.deliberation_budget=1.5"],
        "invalid value 1.5 for 'configurator.deliberation_budget'",
    ),
    "window_not_integer": (
        ["--mode", "adaptive", "--set", "configurator.options.window=abc"],
        "invalid value 'abc' for 'configurator.options.window'; it must be an integer",
    ),
    "plan_margin_not_number": (
        ["--mode", "adaptive", "--set", "configurator.options.plan_margin=true"],
        "invalid value True for 'configurator.options.plan_margin'; it must be a number",
    ),
    "cost_set_missing_term": (
        ["--cost-set", "terms.speed.target=3.0"],
        "--cost-set terms.speed.target: the cost has no term 'speed' (its terms: none); add it with "
        "--cost-set terms.speed.term=CLASS before its fields",
    ),
    "fit_steps_without_cost": (
        ["--fit-steps", "10"],
        "--fit-steps 10 needs a new cost (--cost or --cost-set)",
    ),
    "seed_past_range": (
        ["--seed", "4294967295", "--episodes", "2"],
        "invalid --seed 4294967295: episode seeds run from it to seed + episodes - 1",
    ),
    "seed_beyond_64_bits": (
        ["--seed", "18446744073709551616"],
        "invalid --seed 18446744073709551616",
    ),
    "min_history_above_window": (
        ["--mode", "adaptive", "--set", "configurator.options.window=5", "--set", "configurator.options.min_history=10"],
        "configurator.options.min_history must be between 1 and window=5, got 10",
    ),
}


@pytest.mark.parametrize(("args", "fragment"), BAD_EVAL_OVERRIDES.values(), ids=BAD_EVAL_OVERRIDES.keys())
def test_eval_bad_override(run_dir, capsys, args, fragment):
    exit_code = main(["eval", str(run_dir), "--episodes", "1", *args])

    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert exit_code == 2
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("ami eval: error: ")
    assert fragment in lines[0]
    assert captured.out == ""


def test_eval_rejects_temperature_for_cem(tmp_path, capsys):
    overrides = [f"runs_dir={tmp_path}", "train.total_steps=120", "train.seed_steps=100", "train.eval_every=120", "actor.planner.name=cem"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["run", str(DEBUG_CONFIG), "--quiet", *[arg for o in overrides for arg in ("--set", o)]]) == 0
    (run,) = (tmp_path / "InvertedPendulum-v5").iterdir()
    capsys.readouterr()

    exit_code = main(["eval", str(run), "--episodes", "1", "--set", "actor.planner.temperature=2.0"])

    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert exit_code == 2
    assert lines == [
        "ami eval: error: --set actor.planner.temperature has no effect: the run plans with 'cem', which refits to the elites "
        "with equal weights; drop it, or evaluate a run that plans with 'mppi'"
    ]


def test_eval_reactive_new_cost_warns(run_dir, caplog):
    with contextlib.redirect_stdout(io.StringIO()):
        exit_code = main(["eval", str(run_dir), "--episodes", "1", "--mode", "reactive", "--cost-set", "task_weight=0.5"])

    assert exit_code == 0
    assert "--mode reactive evaluates the policy, which follows the training cost" in caplog.text
