"""Config errors of the hierarchical world model and planner name the key and the fix."""

from __future__ import annotations

import logging

import pytest
import torch

from ami.build import build_modules
from ami.config import ConfigError, load_config
from ami.config.validate import validate_config
from tests.tiny import tiny_config, tiny_spec

HIERARCHICAL = ("world_model.name=hjepa", "actor.planner.name=hierarchical")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (("world_model.levels=[{k=0}]", "world_model.name=hjepa"), r"'world_model.levels\[0\].k'; it must be a positive integer"),
        (("world_model.levels=[{k=3}, {latent_dim=-2}]", "world_model.name=hjepa"), r"'world_model.levels\[1\].latent_dim'"),
        (("world_model.levels=[{hidden_dims=[0]}]", "world_model.name=hjepa"), r"'world_model.levels\[0\].hidden_dims'"),
        (("world_model.levels=[{reward_discount=1.5}]", "world_model.name=hjepa"), r"'world_model.levels\[0\].reward_discount'; it must be in \(0, 1\]"),
        (("world_model.levels=[{loss_coef=-1.0}]", "world_model.name=hjepa"), r"'world_model.levels\[0\].loss_coef'"),
        (("world_model.levels=[{k=3}]",), "world_model.name = 'jepa' has one level"),
        (("actor.planner.name=hierarchical",), "needs a hierarchical world model, but world_model.name = 'jepa'"),
        ((*HIERARCHICAL, "actor.planner.horizon=5"), r"'actor.planner.horizon'; .* must equal world_model.levels\[0\].k = 3"),
        ((*HIERARCHICAL, "world_model.levels=[{k=4}]"), r"must equal world_model.levels\[0\].k = 4"),
        (
            (*HIERARCHICAL, "actor.planner.horizon=3", "actor.planner.high_level.landmarks=20", "env.pixels=true"),
            r"'actor.planner.high_level.landmarks' = 20 needs stored state observations .* set actor.planner.high_level.landmarks = 0",
        ),
        (
            (*HIERARCHICAL, "actor.planner.horizon=3", "actor.planner.high_level.landmarks=20", "actor.planner.high_level.subgoal=waypoint"),
            r"subgoal = \"waypoint\" steers toward waypoints on the way to a goal, but the cost has no goal term",
        ),
    ],
)
def test_invalid_hierarchy_raises(overrides, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(tiny_config(*overrides))


def test_high_level_fields_with_flat_planner_warn(caplog):
    with caplog.at_level(logging.WARNING, logger="ami.config.hierarchy"):
        validate_config(tiny_config("actor.planner.high_level.landmarks=20", "actor.planner.high_level.subgoal=waypoint"))

    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert "fields changed from their defaults have no effect with actor.planner.name = 'mppi'" in message
    assert message.endswith('reads them: landmarks, subgoal; set actor.planner.name = "hierarchical" or remove them')


def test_default_high_level_with_flat_planner_is_silent(caplog):
    with caplog.at_level(logging.WARNING, logger="ami.config.hierarchy"):
        validate_config(tiny_config())

    assert caplog.records == []


def test_unknown_level_key_raises():
    with pytest.raises(ConfigError, match=r"unknown config key 'world_model.levels\[0\].kk'.*Did you mean 'k'"):
        load_config(None, ["world_model.levels=[{kk=3}]"])


def test_valid_hierarchy_passes():
    config = tiny_config(*HIERARCHICAL, "world_model.levels=[{k=3, horizon=2}]")

    validate_config(config)

    assert config.world_model.levels[0].k == 3
    assert config.actor.planner.high_level.horizon == 4


def test_replay_too_small_for_level_loss_raises():
    # k 4 * horizon 5 = 20 steps, but the replay keeps 16.
    config = tiny_config("world_model.name=hjepa", "world_model.levels=[{k=4, horizon=5}]", "memory.capacity=16")

    with pytest.raises(ConfigError, match=r"'memory.capacity'; the world model 'hjepa' trains on sub-trajectories of 20 steps"):
        build_modules(config, tiny_spec(), torch.device("cpu"))


def test_seed_steps_too_few_for_level_loss_raises():
    config = tiny_config("world_model.name=hjepa", "world_model.levels=[{k=4, horizon=5}]", "train.seed_steps=10")

    with pytest.raises(ConfigError, match=r"'train.seed_steps'; .* at least 20 seed steps"):
        build_modules(config, tiny_spec(), torch.device("cpu"))
