"""Cost terms on hand-made inputs, the cost module's safety guarantees, and invalid cost sections."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from ami.build import build_modules
from ami.config import ConfigError
from ami.config.validate import validate_config
from ami.cost import (
    COST_TERMS,
    ActionEnergy,
    CostInputs,
    CriticDisagreement,
    Heading,
    PredictedReward,
    QuantityRange,
    TargetVelocity,
)
from ami.cost.build import build_cost_module
from tests.tiny import DEVICES, LATENT_DIM, NUM_CRITICS, tiny_config, tiny_spec

CHEETAH = dataclasses.replace(tiny_spec(obs_dim=17), task="HalfCheetah-v5")
HOPPER = dataclasses.replace(tiny_spec(obs_dim=11), task="Hopper-v5")
ANT = dataclasses.replace(tiny_spec(obs_dim=27), task="Ant-v5")

SPEED_TERM = 'cost.terms={speed={term="target_velocity",target=2.0,weight=1.0}}'
ANGLE_LIMIT = 'cost.safety={torso_angle={term="quantity_range",quantity="torso_angle",low=-0.2,high=0.2,form="absolute",weight=10.0}}'


def inputs_with(modules=None, **quantities: list[float]) -> CostInputs:
    """Inputs whose quantities are the given values, for terms that read only quantities."""
    values = {name: torch.tensor(value) for name, value in quantities.items()}
    batch = len(next(iter(values.values()))) if values else 1
    latent = torch.zeros(batch, LATENT_DIM)
    action = torch.zeros(batch, 2)
    if modules is None:
        return CostInputs(latent, action, None, None, None, quantities=values)
    return CostInputs(latent, action, modules.world_model, modules.cost.critic, modules.cost.quantity_heads, quantities=values)


@pytest.mark.parametrize(
    ("form", "expected"),
    [("absolute", [2.0, 0.5, 0.0, 3.0]), ("squared", [4.0, 0.25, 0.0, 9.0])],
)
def test_target_velocity_values(form, expected):
    term = TargetVelocity(CHEETAH, target=2.0, form=form)

    cost = term.evaluate(inputs_with(x_velocity=[0.0, 1.5, 2.0, 5.0]))

    torch.testing.assert_close(cost, torch.tensor(expected))
    assert term.quantities == ("x_velocity",)


def test_target_velocity_backward_target():
    term = TargetVelocity(CHEETAH, target=-1.0)

    cost = term.evaluate(inputs_with(x_velocity=[-1.0, 1.0]))

    torch.testing.assert_close(cost, torch.tensor([0.0, 2.0]))


def test_heading_planar_forward_and_backward():
    velocities = [-2.0, 0.0, 3.0]

    forward = Heading(CHEETAH, angle=0.0).evaluate(inputs_with(x_velocity=velocities))
    backward = Heading(CHEETAH, angle=180.0).evaluate(inputs_with(x_velocity=velocities))

    torch.testing.assert_close(forward, torch.tensor([2.0, 0.0, -3.0]))
    torch.testing.assert_close(backward, torch.tensor([-2.0, 0.0, 3.0]))


def test_heading_planar_rejects_diagonal():
    with pytest.raises(ValueError, match="angle 45.0 needs a y velocity.*use angle = 0"):
        Heading(CHEETAH, angle=45.0)


def test_heading_reads_y_velocity_on_ant():
    term = Heading(ANT, angle=90.0)

    cost = term.evaluate(inputs_with(x_velocity=[5.0, 0.0], y_velocity=[1.0, -2.0]))

    assert term.quantities == ("x_velocity", "y_velocity")
    torch.testing.assert_close(cost, torch.tensor([-1.0, 2.0]), atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    ("form", "expected"),
    [("absolute", [0.3, 0.0, 0.0, 0.5]), ("squared", [0.09, 0.0, 0.0, 0.25])],
)
def test_quantity_range_values(form, expected):
    term = QuantityRange(HOPPER, quantity="torso_angle", low=-0.2, high=0.2, form=form)

    cost = term.evaluate(inputs_with(torso_angle=[-0.5, -0.2, 0.1, 0.7]))

    torch.testing.assert_close(cost, torch.tensor(expected))


def test_quantity_range_counts_violations_in_observations():
    term = QuantityRange(HOPPER, quantity="torso_height", low=0.7)
    obs = torch.zeros(3, 11)
    obs[:, 0] = torch.tensor([1.2, 0.69, 0.7])

    violated = term.observed_violation(obs)

    assert violated.tolist() == [False, True, False]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"low": 0.3, "high": 0.1}, r"invalid range \[0.3, 0.1\]"),
        ({}, "give a finite low or high limit"),
        ({"low": 0.0, "form": "cubic"}, "invalid form 'cubic'"),
    ],
)
def test_quantity_range_invalid_options(options, message):
    with pytest.raises(ValueError, match=message):
        QuantityRange(HOPPER, quantity="torso_angle", **options)


def test_critic_disagreement_is_member_std():
    torch.manual_seed(0)
    modules = build_modules(tiny_config(), tiny_spec(), torch.device("cpu"))
    inputs = inputs_with(modules)
    members = modules.cost.critic(inputs.latent, inputs.action)

    cost = CriticDisagreement(tiny_spec()).evaluate(inputs)

    assert members.shape == (NUM_CRITICS, 1)
    torch.testing.assert_close(cost, members.std(dim=0, correction=0))
    assert CriticDisagreement.planning_only


def test_predicted_reward_is_negative_reward():
    torch.manual_seed(0)
    modules = build_modules(tiny_config(), tiny_spec(), torch.device("cpu"))
    latent, action = torch.randn(4, LATENT_DIM), torch.rand(4, 2) * 2 - 1
    inputs = CostInputs(latent, action, modules.world_model, modules.cost.critic, modules.cost.quantity_heads)

    cost = PredictedReward(tiny_spec()).evaluate(inputs)

    torch.testing.assert_close(cost, -modules.world_model.reward(latent, action))


def test_action_energy_through_evaluate():
    spec = tiny_spec(action_low=(-2.0, 0.0), action_high=(2.0, 1.0))
    inputs = CostInputs(torch.zeros(1, LATENT_DIM), torch.tensor([[2.0, 0.5]]), None, None, None)

    cost = ActionEnergy(spec).evaluate(inputs)

    torch.testing.assert_close(cost, torch.tensor([0.5]))


def test_every_term_registered():
    for name in ["action_energy", "critic_disagreement", "heading", "predicted_reward", "quantity_range", "target_velocity"]:
        assert name in COST_TERMS, name


def hopper_cost_modules(*overrides: str):
    torch.manual_seed(0)
    config = tiny_config(*overrides)
    validate_config(config)
    return build_modules(config, HOPPER, torch.device("cpu"))


def test_safety_term_survives_zero_task_weights():
    modules = hopper_cost_modules("cost.task_weight=0.0", SPEED_TERM.replace("weight=1.0", "weight=0.0"), ANGLE_LIMIT)
    quantities = {"torso_angle": torch.tensor([0.5, 0.0]), "x_velocity": torch.tensor([3.0, 0.0])}

    terms = modules.cost.step_terms(torch.zeros(2, LATENT_DIM), torch.zeros(2, 2), quantities=quantities)

    assert set(terms) == {"task", "speed", "action_energy", "safety/torso_angle"}
    assert torch.equal(terms["task"], torch.zeros(2))
    assert torch.equal(terms["speed"], torch.zeros(2))
    torch.testing.assert_close(terms["safety/torso_angle"], torch.tensor([3.0, 0.0]))


def test_set_task_weight_rejects_safety_term():
    modules = hopper_cost_modules(SPEED_TERM, ANGLE_LIMIT)

    modules.cost.set_task_weight("speed", 0.0)
    modules.cost.set_task_weight("task", 0.0)

    assert modules.cost.term_weights["speed"] == 0.0
    assert modules.cost.task_weight == 0.0
    with pytest.raises(KeyError, match="'torso_angle': it is a safety term"):
        modules.cost.set_task_weight("torso_angle", 0.0)
    with pytest.raises(KeyError, match="'action_energy': it is an intrinsic term"):
        modules.cost.set_task_weight("action_energy", 0.0)
    assert modules.cost.safety_weights == {"torso_angle": 10.0}


def test_critic_target_leaves_out_planning_only_terms():
    modules = hopper_cost_modules('cost.terms={caution={term="critic_disagreement",weight=1.0}}')
    latent, action = torch.randn(3, LATENT_DIM), torch.zeros(3, 2)

    planning = modules.cost.step_terms(latent, action)
    target = modules.cost.step_terms(latent, action, critic_target=True)

    assert "caution" in planning
    assert "caution" not in target


def test_critic_weight_scales_horizon_cost():
    modules = hopper_cost_modules("cost.critic_weight=0.0")
    latents = torch.randn(4, 5, LATENT_DIM)
    actions = torch.zeros(3, 5, 2)

    scored = modules.cost.trajectory_cost(latents, actions, lambda latent: torch.zeros(*latent.shape[:-1], 2))

    assert torch.equal(scored.terms["critic"], torch.zeros(5))


def test_cost_module_builds_heads_for_terms():
    modules = hopper_cost_modules(SPEED_TERM, ANGLE_LIMIT)

    assert modules.cost.quantity_heads.names == ["torso_angle", "x_velocity"]
    assert modules.cost.required_quantities() == ["torso_angle", "x_velocity"]
    assert any(key.startswith("quantity_heads.heads.x_velocity") for key in modules.cost.state_dict())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (['cost.terms={speed={term="target_speed",target=2.0}}'], "unknown cost term 'target_speed' for cost.terms.speed.term; valid choices: action_energy"),
        (['cost.terms={speed={term="target_velocity",target=2.0,weight="high"}}'], "invalid value 'high' for 'cost.terms.speed.weight'"),
        ([ANGLE_LIMIT.replace("weight=10.0", "weight=0.0")], "invalid value 0.0 for 'cost.safety.torso_angle.weight'; a safety weight must be positive"),
        ([ANGLE_LIMIT.replace("weight=10.0", "weight=-1.0")], "a safety weight must be positive"),
        (["cost.critic_weight=-1.0"], "invalid value -1.0 for 'cost.critic_weight'"),
        (["cost.quantity_hidden_dims=[0]"], "'cost.quantity_hidden_dims'; every layer size must be positive"),
        (["configurator.deliberation_budget=1.5"], "invalid value 1.5 for 'configurator.deliberation_budget'; it must be in"),
    ],
    ids=["unknown_term", "weight_not_number", "safety_weight_zero", "safety_weight_negative", "critic_weight", "head_dims", "budget"],
)
def test_invalid_cost_config_rejected(overrides, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        validate_config(tiny_config(*overrides))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (['cost.terms={speed={term="target_velocity",speed=2.0}}'], "invalid options for cost.terms.speed \\(term 'target_velocity'\\).*Valid options: target, form"),
        (['cost.terms={speed={term="target_velocity",target=2.0,form="cubic"}}'], "invalid cost.terms.speed: target_velocity: invalid form 'cubic'"),
        (['cost.safety={limit={term="quantity_range",quantity="knee_angle",low=0.0}}'], "invalid cost.safety.limit: task 'Hopper-v5' has no quantity 'knee_angle'.*valid quantities: foot_angle"),
        (['cost.terms={critic={term="target_velocity",target=1.0}}'], "cost term name 'critic' is reserved"),
        (['cost.terms={speed={term="target_velocity",target="fast"}}'], "invalid value 'fast' for 'cost.terms.speed.target'; expected a number"),
        (['cost.terms={back={term="heading",angle=true}}'], "invalid value True for 'cost.terms.back.angle'; expected a number"),
        (['cost.safety={limit={term="quantity_range",quantity="torso_angle",low="-0.2"}}'], "invalid value '-0.2' for 'cost.safety.limit.low'; expected a number"),
    ],
    ids=["unknown_option", "bad_form", "unknown_quantity", "reserved_name", "text_target", "bool_angle", "text_low"],
)
def test_invalid_term_options_rejected_at_build(overrides, message):
    with pytest.raises(ConfigError, match=message):
        hopper_cost_modules(*overrides)


def test_term_on_task_without_table_rejected():
    config = tiny_config(SPEED_TERM)
    modules = build_modules(tiny_config(), tiny_spec(), torch.device("cpu"))

    with pytest.raises(ConfigError, match=r"^invalid cost\.terms\.speed: task 'Tiny-v0' has no quantity table.*tasks with a table: Ant-v5, HalfCheetah-v5, Hopper-v5, Walker2d-v5"):
        build_cost_module(config.cost, tiny_spec(), modules.world_model, modules.cost.critic, 0.99)


def test_old_config_keeps_task_and_intrinsic_terms():
    modules = build_modules(tiny_config(), tiny_spec(), torch.device("cpu"))
    latent, action = torch.randn(2, LATENT_DIM), torch.ones(2, 2)

    terms = modules.cost.step_terms(latent, action, reward=torch.tensor([1.0, -2.0]))

    assert set(terms) == {"task", "action_energy"}
    torch.testing.assert_close(terms["task"], torch.tensor([-1.0, 2.0]))
    torch.testing.assert_close(terms["action_energy"], torch.tensor([0.01, 0.01]))


@pytest.mark.parametrize("device", DEVICES)
def test_planner_scores_every_term_on_device(device):
    torch.manual_seed(0)
    caution = 'cost.terms={speed={term="target_velocity",target=2.0},caution={term="critic_disagreement",weight=0.1}}'
    modules = build_modules(tiny_config(caution, ANGLE_LIMIT), HOPPER, torch.device(device))
    latent = torch.randn(2, LATENT_DIM, device=device)

    result = modules.actor.planner.plan(latent, modules.world_model, modules.cost, modules.actor.policy)

    assert set(result.cost_terms) == {"task", "speed", "caution", "action_energy", "safety/torso_angle", "critic", "total"}
    for name, value in result.cost_terms.items():
        assert value.shape == (2,), name
        assert value.device.type == torch.device(device).type, name


def test_quantity_term_rejected_on_pixels():
    spec = dataclasses.replace(CHEETAH, obs_shape=(3, 16, 16, 3))
    modules = build_modules(tiny_config(), tiny_spec(), torch.device("cpu"))

    with pytest.raises(ConfigError, match="observes camera frames \\(env.pixels = true\\)"):
        build_cost_module(tiny_config(SPEED_TERM).cost, spec, modules.world_model, modules.cost.critic, 0.99)

