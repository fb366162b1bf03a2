"""Latent transitions per action of flat and hierarchical planners, and the matched flat budget."""

from __future__ import annotations

import dataclasses

import pytest

from ami.actor.budget import (
    flat_transitions_per_action,
    hierarchical_transitions_per_action,
    matched_flat_num_samples,
    transitions_per_action,
)
from ami.config import load_config
from ami.config.schema import HighLevelPlannerConfig, PlannerConfig
from experiments.maze_eval import apply_planner_overrides, flat_planner_config, hierarchical_planner_config
from tests.tiny import REPO_ROOT

HIERARCHICAL_CONFIG = REPO_ROOT / "experiments" / "configs" / "point_maze_u_hierarchical.toml"

HIERARCHICAL = PlannerConfig(
    name="hierarchical",
    num_samples=256,
    horizon=5,
    iterations=4,
    num_elites=32,
    high_level=HighLevelPlannerConfig(num_samples=256, horizon=4, iterations=4, num_elites=32),
)


def test_flat_transitions_count():
    config = PlannerConfig(name="mppi", num_samples=461, horizon=5, iterations=4)

    assert flat_transitions_per_action(config) == 461 * 4 * 5
    assert transitions_per_action(config) == 9220


def test_hierarchical_transitions_count():
    # 256 x 4 x 4 level-1 transitions plus 256 x 4 x 5 level-0 transitions.
    assert hierarchical_transitions_per_action(HIERARCHICAL) == 4096 + 5120
    assert transitions_per_action(HIERARCHICAL) == 9216


def test_matched_flat_num_samples_rounds_to_nearest():
    assert matched_flat_num_samples(9216, horizon=5, iterations=4) == 461
    assert matched_flat_num_samples(9200, horizon=5, iterations=4) == 460
    assert matched_flat_num_samples(3, horizon=5, iterations=4) == 1


@pytest.mark.parametrize("budget", [1000, 9216, 12_345, 100_000])
def test_matched_flat_budget_within_two_percent(budget):
    num_samples = matched_flat_num_samples(budget, horizon=5, iterations=4)
    flat = flat_transitions_per_action(PlannerConfig(name="mppi", num_samples=num_samples, horizon=5, iterations=4))

    assert abs(flat / budget - 1) < 0.02


@pytest.mark.parametrize("argument", ["budget", "horizon", "iterations"])
def test_matched_flat_num_samples_rejects_non_positive(argument):
    arguments = {"budget": 9216, "horizon": 5, "iterations": 4, argument: 0}

    with pytest.raises(ValueError, match=f"invalid {argument} 0"):
        matched_flat_num_samples(**arguments)


def test_flat_planner_config_matches_hierarchical_config():
    config = load_config(HIERARCHICAL_CONFIG)
    flat = flat_planner_config(config, horizon=None, iterations=None)
    budget = hierarchical_transitions_per_action(dataclasses.replace(config.actor.planner, name="hierarchical"))

    assert flat.name == "mppi"
    assert flat.horizon == config.actor.planner.horizon
    assert flat.iterations == config.actor.planner.iterations
    assert flat.num_samples == 461
    assert abs(flat_transitions_per_action(flat) / budget - 1) < 0.02
    assert flat.high_level == HighLevelPlannerConfig()


def test_flat_planner_config_with_longer_horizon():
    config = load_config(HIERARCHICAL_CONFIG)
    flat = flat_planner_config(config, horizon=20, iterations=4)

    assert flat.horizon == 20
    assert flat.num_samples == round(9216 / 80)
    assert flat.num_elites <= flat.num_samples


def test_planner_overrides_change_both_budgets():
    config = load_config(HIERARCHICAL_CONFIG)
    overrides = ["num_samples=128", "iterations=3", "high_level.num_samples=128", "high_level.iterations=3"]
    hierarchical = hierarchical_planner_config(config, overrides)
    flat = flat_planner_config(config, horizon=None, iterations=None, overrides=overrides)

    # 128 x 3 x 4 level-1 plus 128 x 3 x 5 level-0 transitions; flat MPPI: 230 x 3 x 5.
    assert hierarchical_transitions_per_action(hierarchical) == 3456
    assert flat.num_samples == 230
    assert flat_transitions_per_action(flat) == 3450


def test_waypoint_subgoal_counts_low_level_only():
    config = load_config(HIERARCHICAL_CONFIG)
    overrides = ["num_samples=58", "iterations=2", "high_level.landmarks=100", "high_level.subgoal=waypoint"]
    hierarchical = hierarchical_planner_config(config, overrides)
    flat = flat_planner_config(config, horizon=None, iterations=None, overrides=overrides)

    # The graph search rolls out no latents: 58 x 2 x 5 level-0 transitions, as many as flat MPPI with 58 samples.
    assert hierarchical.high_level.subgoal == "waypoint"
    assert hierarchical_transitions_per_action(hierarchical) == 580
    assert flat.num_samples == 58


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("num_samples", "expected KEY=VALUE"),
        ("world_model.k=3", "use a field of actor.planner"),
        ("name=cem", "valid fields are"),
        ("num_samples=many", "expected an integer"),
    ],
)
def test_planner_overrides_reject_invalid(override, message):
    config = load_config(HIERARCHICAL_CONFIG)

    with pytest.raises(ValueError, match=message):
        apply_planner_overrides(config.actor.planner, [override])
