"""The up-front memory estimate of one planning call, and the error for a planner that does not fit."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ami.actor.cem import CEMPlanner
from ami.actor.hierarchical import HierarchicalPlanner
from ami.actor.memory import PlanMemory, PlannerMemoryError, activation_width, check_planner_memory, rollout_floats_per_row
from ami.actor.mppi import MPPIPlanner
from ami.build import build_modules
from ami.nn import EnsembleLinear
from experiments.cli import main
from tests.tiny import DEBUG_CONFIG, HORIZON, LATENT_DIM, tiny_config, tiny_spec


def test_rollout_floats_per_row_terms():
    # 3 * 3 * 2 actions + 2 * 4 * 8 latents + 2 * 16 activations + 8 * 3 cost terms
    assert rollout_floats_per_row(3, 2, 8, 16) == 18 + 64 + 32 + 24


def test_activation_width_counts_two_ensemble_members():
    modules = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 3))
    ensemble = EnsembleLinear(5, 4, 24)

    assert activation_width(modules) == 32
    assert activation_width(modules, ensemble) == 48


@pytest.mark.parametrize("planner_class", [MPPIPlanner, CEMPlanner])
def test_sampling_estimate_scales_with_rows(planner_class):
    config = tiny_config("actor.planner.num_samples=100", "actor.planner.num_elites=10").actor.planner
    planner = planner_class(config, tiny_spec())

    single = planner.memory_estimate(1, LATENT_DIM, 16)
    batched = planner.memory_estimate(4, LATENT_DIM, 16)

    assert single == PlanMemory(100 * 4 * rollout_floats_per_row(HORIZON, 2, LATENT_DIM, 16), "actor.planner.num_samples", 100)
    assert batched.num_bytes == 4 * single.num_bytes


def test_hierarchical_estimate_names_the_larger_level():
    config = tiny_config(
        "actor.planner.name=hierarchical", "actor.planner.num_samples=16",
        "actor.planner.high_level.num_samples=4096", "actor.planner.high_level.num_elites=8",
    ).actor.planner
    planner = HierarchicalPlanner(config, tiny_spec())

    estimate = planner.memory_estimate(1, LATENT_DIM, 16)

    steps = HORIZON * config.high_level.horizon
    assert estimate.key == "actor.planner.high_level.num_samples"
    assert estimate.num_bytes == 4096 * 4 * rollout_floats_per_row(steps, 2, LATENT_DIM, 16)


def test_waypoint_estimate_is_low_level():
    config = tiny_config(
        "actor.planner.name=hierarchical", "actor.planner.num_samples=16", "actor.planner.high_level.num_samples=4096",
        "actor.planner.high_level.num_elites=8", "actor.planner.high_level.landmarks=10", "actor.planner.high_level.subgoal=waypoint",
    ).actor.planner
    planner = HierarchicalPlanner(config, tiny_spec())

    estimate = planner.memory_estimate(1, LATENT_DIM, 16)

    # No level-1 rollouts run, so the 4,096 high-level samples need no memory.
    assert estimate.key == "actor.planner.num_samples"
    assert estimate.num_bytes == 16 * 4 * rollout_floats_per_row(HORIZON, 2, LATENT_DIM, 16)


def test_check_memory_names_field_and_fit():
    too_big = PlanMemory(10**18, "actor.planner.num_samples", 10**9)

    with pytest.raises(PlannerMemoryError, match=r"num_samples = 1,000,000,000 candidates x 1 state.*lower actor\.planner\.num_samples to at most [\d,]+$"):
        check_planner_memory(too_big, 1, torch.device("cpu"))


def test_check_memory_accepts_small_and_unknown():
    check_planner_memory(PlanMemory(4096, "actor.planner.num_samples", 16), 1, torch.device("cpu"))
    check_planner_memory(None, 1, torch.device("cpu"))


def test_build_rejects_planner_that_does_not_fit():
    config = tiny_config("actor.planner.num_samples=100000000000")

    with pytest.raises(PlannerMemoryError, match="actor.planner.num_samples = 100,000,000,000"):
        build_modules(config, tiny_spec(), torch.device("cpu"))


def test_run_oversized_planner_leaves_no_folder(tmp_path, capsys):
    exit_code = main([
        "run", str(DEBUG_CONFIG), "--set", f"runs_dir={tmp_path}", "--set", "actor.planner.num_samples=100000000000", "--quiet",
    ])

    assert exit_code == 2
    assert "lower actor.planner.num_samples to at most" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
