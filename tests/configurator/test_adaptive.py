"""The adaptive configurator: budget on streams of uncertainties, switch logging, real modules."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from ami.build import build_modules
from ami.config import ConfigError
from ami.config.validate import validate_config
from ami.configurator import AdaptiveConfigurator
from tests.tiny import tiny_config, tiny_spec

LOGGER = "ami.configurator"


def adaptive(budget: float, **options) -> AdaptiveConfigurator:
    config = tiny_config("configurator.name=adaptive", f"configurator.deliberation_budget={budget}")
    return AdaptiveConfigurator(config, tiny_spec(), **options)


def share(modes: list[str]) -> float:
    return modes.count("deliberative") / len(modes)


@pytest.mark.parametrize("budget", [0.1, 0.25, 0.5, 0.9])
def test_budget_respected_on_stationary_stream(budget):
    configurator = adaptive(budget)
    uncertainties = np.random.default_rng(0).lognormal(size=4000)

    modes = [configurator.decide(float(u)) for u in uncertainties]

    assert share(modes) == pytest.approx(budget, abs=0.03)


@pytest.mark.parametrize("budget", [0.1, 0.25, 0.5])
def test_budget_respected_on_drifting_stream(budget):
    configurator = adaptive(budget)
    steps = np.arange(4000)
    # The scale grows tenfold over the stream, as the critic's scale can during training.
    uncertainties = (1 + 9 * steps / steps[-1]) * np.random.default_rng(1).lognormal(size=steps.size)

    modes = [configurator.decide(float(u)) for u in uncertainties]

    assert share(modes) == pytest.approx(budget, abs=0.05)


@pytest.mark.parametrize(("budget", "expected"), [(0.0, "reactive"), (1.0, "deliberative")])
def test_budget_bounds_fix_the_mode(budget, expected):
    configurator = adaptive(budget)

    modes = {configurator.decide(float(u)) for u in np.linspace(0, 5, 100)}

    assert modes == {expected}


def test_deliberates_while_history_short():
    configurator = adaptive(0.2, min_history=5)

    modes = [configurator.decide(0.0) for _ in range(5)]

    assert modes == ["deliberative"] * 5
    assert np.isnan(configurator.last_threshold)


def test_plan_margin_triggers_deliberation():
    configurator = adaptive(0.0, plan_margin=0.5)

    modes = [configurator.decide(1.0, plan_advantage=advantage) for advantage in (None, 0.2, 0.8)]

    assert modes == ["reactive", "reactive", "deliberative"]
    assert configurator.plan_triggers == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"window": 0}, "window must be positive"),
        ({"min_history": 0}, "min_history must be between 1"),
        ({"plan_margin": -1.0}, "plan_margin must be >= 0"),
        ({"window": "200"}, r"invalid value '200' for 'configurator.options.window'; it must be an integer"),
        ({"min_history": 2.5}, r"invalid value 2.5 for 'configurator.options.min_history'; it must be an integer"),
        ({"plan_margin": "abc"}, r"invalid value 'abc' for 'configurator.options.plan_margin'; it must be a number"),
        ({"plan_margin": True}, r"invalid value True for 'configurator.options.plan_margin'"),
    ],
)
def test_invalid_options_rejected(options, message):
    with pytest.raises(ValueError, match=message):
        adaptive(0.5, **options)


def test_invalid_budget_rejected():
    with pytest.raises(ConfigError, match="invalid value -0.1 for 'configurator.deliberation_budget'"):
        validate_config(tiny_config("configurator.deliberation_budget=-0.1"))


@pytest.fixture
def attached():
    torch.manual_seed(0)
    config = tiny_config("configurator.name=adaptive", "configurator.deliberation_budget=0.3")
    modules = build_modules(config, tiny_spec(), torch.device("cpu"))
    return modules


def test_modules_attached_by_build(attached):
    assert isinstance(attached.configurator, AdaptiveConfigurator)
    assert attached.configurator.modules is attached


def test_switches_counted_and_logged(attached, caplog):
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    configurator = attached.configurator
    observations = np.random.default_rng(0).normal(size=(300, tiny_spec().obs_dim))

    modes = [configurator.select_mode(step, obs) for step, obs in enumerate(observations)]

    changes = sum(a != b for a, b in zip(modes[:-1], modes[1:]))
    switch_lines = [r for r in caplog.records if "switches to" in r.getMessage()]
    assert changes > 0
    assert configurator.switch_count == changes
    assert len(switch_lines) == changes + 1
    assert all(record.levelno == logging.DEBUG for record in switch_lines)
    assert configurator.mode_counts["deliberative"] == modes.count("deliberative")
    assert share(modes) == pytest.approx(0.3, abs=0.1)


def test_metrics_report_share_and_threshold(attached):
    configurator = attached.configurator
    for step, obs in enumerate(np.random.default_rng(0).normal(size=(50, tiny_spec().obs_dim))):
        configurator.select_mode(step, obs)

    metrics = configurator.metrics()

    assert set(metrics) == {
        "configurator/deliberative_share",
        "configurator/switches",
        "configurator/uncertainty",
        "configurator/uncertainty_threshold",
        "configurator/plan_triggers",
    }
    assert metrics["configurator/deliberative_share"] == configurator.deliberative_share()
    assert metrics["configurator/uncertainty"] >= 0
    assert np.isfinite(metrics["configurator/uncertainty_threshold"])


def test_uncertainty_is_critic_std(attached):
    obs = np.random.default_rng(0).normal(size=tiny_spec().obs_dim)
    with torch.no_grad():
        latent = attached.world_model.encode(torch.as_tensor(obs[None], dtype=torch.float32))
        action, _ = attached.actor.policy(latent, deterministic=True)
        expected = attached.cost.critic(latent, action).std(dim=0, correction=0).item()

    uncertainty, advantage = attached.configurator.measure(obs)

    assert uncertainty == pytest.approx(expected)
    assert advantage is None


def test_without_obs_falls_back_to_configured_mode(attached, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)

    modes = [attached.configurator.select_mode(step) for step in range(3)]

    assert modes == ["deliberative"] * 3
    assert sum("has no modules or observation" in r.getMessage() for r in caplog.records) == 1


def test_state_dict_restores_history():
    configurator = adaptive(0.3)
    for u in np.linspace(0, 1, 50):
        configurator.decide(float(u))
    restored = adaptive(0.3)

    restored.load_state_dict(configurator.state_dict())

    assert list(restored.history) == list(configurator.history)
    assert restored.decide(0.95) == configurator.decide(0.95)
