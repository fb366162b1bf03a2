"""Goals as costs: the goal observation, the goal latents of every level, and the goal term in both planners."""

from __future__ import annotations

import pytest
import torch

from ami.build import build_modules
from ami.config import ConfigError
from ami.config.schema import GoalConfig
from ami.config.validate import validate_config
from ami.configurator.goal import GoalSetter
from ami.cost.goal import GoalLatentDistance, find_goal_terms
from tests.tiny import DEVICES, tiny_config, tiny_spec

SPEC = tiny_spec(obs_dim=6)
"""Observation [pos(2), vel(2), goal(2)], as in the point maze."""
GOAL_SETTINGS = (
    "configurator.goal.goal_indices=[4, 5]",
    "configurator.goal.position_indices=[0, 1]",
    "configurator.goal.zero_indices=[2, 3]",
    "cost.intrinsic={action_energy = 0.01, goal_latent_distance = 2.0}",
)
OBS = torch.tensor([[0.1, 0.2, 0.5, -0.5, 1.5, -2.0], [3.0, 4.0, 0.0, 1.0, -1.0, 0.5]])


def build(*overrides: str, device: str = "cpu"):
    torch.manual_seed(0)
    config = tiny_config(*GOAL_SETTINGS, *overrides)
    validate_config(config)
    return build_modules(config, SPEC, torch.device(device))


HIERARCHICAL_SETTINGS = (
    "world_model.name=hjepa",
    "world_model.levels=[{k=3, latent_dim=6, hidden_dims=[16], horizon=2}]",
    "actor.planner.name=hierarchical",
    "actor.planner.high_level.num_samples=16",
    "actor.planner.high_level.num_elites=4",
    "actor.planner.high_level.iterations=2",
)


def build_hierarchical(*overrides: str, device: str = "cpu"):
    return build(*HIERARCHICAL_SETTINGS, *overrides, device=device)


def goal_term(modules) -> tuple[float, GoalLatentDistance]:
    terms = find_goal_terms(modules.cost)
    assert len(terms) == 1
    return terms[0]


def test_goal_observation_replaces_position_and_zeroes_velocity():
    setter = GoalSetter(GoalConfig(goal_indices=(4, 5), position_indices=(0, 1), zero_indices=(2, 3)), SPEC)

    goal_obs = setter.goal_observation(OBS)

    expected = torch.tensor([[1.5, -2.0, 0.0, 0.0, 1.5, -2.0], [-1.0, 0.5, 0.0, 0.0, -1.0, 0.5]])
    torch.testing.assert_close(goal_obs, expected)
    # The observation itself is left as it was.
    assert OBS[0, 0] == 0.1


@pytest.mark.parametrize("device", DEVICES)
def test_goal_latents_at_every_level(device):
    modules = build_hierarchical(device=device)
    world_model = modules.world_model
    weight, term = goal_term(modules)
    obs = OBS.to(device)

    modules.configurator.set_goal_from_observation(obs, world_model, modules.cost)

    with torch.no_grad():
        expected_level_0 = world_model.encode(modules.configurator.goal_setter.goal_observation(obs))
        expected_level_1 = world_model.level(1).abstract(expected_level_0)
    assert weight == 2.0
    torch.testing.assert_close(term.goal_latent(0), expected_level_0)
    torch.testing.assert_close(term.goal_latent(1), expected_level_1)
    assert term.goal_latent(1).device.type == torch.device(device).type
    assert term.goal_latent(2) is None


def test_new_goal_takes_effect_without_training():
    modules = build()
    _, term = goal_term(modules)
    moved = OBS.clone()
    moved[:, 4:] += 1.0

    modules.configurator.set_goal_from_observation(OBS, modules.world_model, modules.cost)
    first = term.goal_latent(0).clone()
    modules.configurator.set_goal_from_observation(moved, modules.world_model, modules.cost)

    assert (term.goal_latent(0) - first).abs().max() > 1e-4


def test_goal_distance_zero_at_goal_and_sample_major():
    term = GoalLatentDistance(SPEC)
    goals = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    term.set_goal([goals])
    # Three samples per env, stacked sample-major: rows alternate env 0, env 1.
    latents = goals.repeat(3, 1).clone()
    latents[4] += torch.tensor([1.0, 1.0])  # sample 2 of env 0

    distance = term.distance(latents[None])  # (1, 6): one horizon step

    torch.testing.assert_close(distance, torch.tensor([[0.0, 0.0, 0.0, 0.0, 1.0, 0.0]]))


def test_goal_distance_without_goal_is_zero():
    term = GoalLatentDistance(SPEC)

    cost = term(torch.randn(4, 7, 3), torch.randn(4, 7, 2))

    torch.testing.assert_close(cost, torch.zeros(4, 7))


def test_goal_distance_rejects_rows_of_other_envs():
    term = GoalLatentDistance(SPEC)
    term.set_goal([torch.zeros(2, 3)])

    with pytest.raises(ValueError, match="5 latent rows do not split into the goals of 2 envs"):
        term.distance(torch.zeros(5, 3))


@pytest.mark.parametrize("planner", ["mppi", "hierarchical"])
def test_planners_report_goal_cost(planner):
    modules = build() if planner == "mppi" else build_hierarchical()
    world_model = modules.world_model
    modules.configurator.set_goal_from_observation(OBS, world_model, modules.cost)
    latent = world_model.encode(OBS)

    result = modules.actor.planner.plan(latent, world_model, modules.cost, modules.actor.policy)

    assert result.cost_terms["goal_latent_distance"].shape == (2,)
    assert torch.all(result.cost_terms["goal_latent_distance"] > 0)
    if planner == "hierarchical":
        assert torch.all(result.cost_terms["high_level/goal"] > 0)


def test_without_goal_sets_goal_entries():
    setter = GoalSetter(GoalConfig(goal_indices=(4, 5), position_indices=(0, 1), zero_indices=(2, 3)), SPEC)

    goal_free = setter.without_goal(OBS, torch.tensor([9.0, -9.0]))

    assert goal_free[:, 4:].tolist() == [[9.0, -9.0], [9.0, -9.0]]
    torch.testing.assert_close(goal_free[:, :4], OBS[:, :4])
    assert OBS[0, 4].item() == 1.5


def test_without_goal_per_row_fill():
    setter = GoalSetter(GoalConfig(goal_indices=(4, 5), position_indices=(0, 1), zero_indices=(2, 3)), SPEC)

    goal_free = setter.without_goal(OBS, torch.tensor([[1.0, 2.0], [3.0, 4.0]]))

    assert goal_free[:, 4:].tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_place_keeps_position_only():
    setter = GoalSetter(GoalConfig(goal_indices=(4, 5), position_indices=(0, 1), zero_indices=(2, 3)), SPEC)

    place = setter.place(OBS, torch.tensor([9.0, -9.0]))

    torch.testing.assert_close(place, torch.tensor([[0.1, 0.2, 0.0, 0.0, 9.0, -9.0], [3.0, 4.0, 0.0, 0.0, 9.0, -9.0]]))
    assert OBS[0, 2].item() == 0.5


def test_goal_term_is_left_out_of_critic_targets():
    assert GoalLatentDistance.planning_only


def test_agent_sets_goal_before_acting():
    from agents.ami_agent import AMIAgent

    torch.manual_seed(0)
    config = tiny_config(*GOAL_SETTINGS, "device=cpu")
    agent = AMIAgent(config, SPEC, torch.device("cpu"))
    _, term = goal_term(agent.modules)

    agent.act(OBS[0].numpy(), mode="deliberative")

    assert term.goal_latent(0).shape == (1, config.perception.latent_dim)


def test_goal_index_outside_observation_raises():
    with pytest.raises(ConfigError, match=r"'configurator.goal.goal_indices'; task 'Tiny-v0' has 6 observation entries"):
        build("configurator.goal.goal_indices=[4, 6]")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (("configurator.goal.goal_indices=[4, 5]", "configurator.goal.position_indices=[0]"), "must have the same length"),
        (("configurator.goal.zero_indices=[-1]",), r"'configurator.goal.zero_indices'; observation indices must be >= 0"),
        (("cost.intrinsic={goal_latent_distance = 1.0}",), "needs the goal's place in the observation"),
        (
            ("configurator.goal.goal_indices=[4, 5]", "configurator.goal.position_indices=[5, 0]"),
            r"share the entries \[5\], so the goal observation would copy those entries onto themselves",
        ),
        (("configurator.goal.zero_indices=[2, 3]",), r"'configurator.goal.zero_indices' is \[2, 3\] but goal_indices is empty"),
        (
            ("configurator.goal.goal_indices=[4, 5]", "configurator.goal.position_indices=[0, 1]", "configurator.goal.zero_indices=[0, 2, 3]"),
            r"'configurator.goal.zero_indices' \[0, 2, 3\] shares the entries \[0\] with goal_indices or position_indices",
        ),
        (('cost.terms.reach={term="goal_latent_distance"}',), "cost.terms.reach needs the goal's place in the observation"),
        (("cost.terms.goal_latent_distance={}",), "cost.terms.goal_latent_distance needs the goal's place"),
        (
            ('cost.safety.reach={term="goal_latent_distance",weight=1.0}', "configurator.goal.goal_indices=[4, 5]",
             "configurator.goal.position_indices=[0, 1]"),
            r"cost.safety.reach uses a goal term \(goal_latent_distance, goal_temporal_distance\), which cannot be a safety limit",
        ),
        (('cost.terms.reach={term="goal_temporal_distance"}',), "cost.terms.reach needs the goal's place in the observation"),
        (
            ('cost.safety.reach={term="goal_temporal_distance",weight=1.0}', "configurator.goal.goal_indices=[4, 5]",
             "configurator.goal.position_indices=[0, 1]"),
            "cost.safety.reach uses a goal term",
        ),
    ],
)
def test_goal_config_errors(overrides, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(tiny_config(*overrides))


def test_goal_with_pixels_raises():
    config = tiny_config(
        "env.pixels=true", 'perception.name="conv"', "configurator.goal.goal_indices=[4, 5]",
        "configurator.goal.position_indices=[0, 1]",
    )

    with pytest.raises(ConfigError, match=r"'configurator.goal' names entries of the state observation, but env.pixels = true"):
        validate_config(config)
