"""The planner's speed options: bf16 precision, torch.compile and its fallback, and their validation."""

from __future__ import annotations

import logging

import pytest
import torch

from ami.actor import PLANNERS
from ami.build import Modules, build_modules
from ami.config import load_config
from tests.tiny import DEBUG_CONFIG, tiny_config, tiny_spec

SPEC = tiny_spec()
BATCH = 3


def build() -> Modules:
    torch.manual_seed(0)
    return build_modules(tiny_config(), SPEC, torch.device("cpu"))


def plan_action(modules: Modules, **options) -> torch.Tensor:
    planner = PLANNERS.get("mppi")(modules.actor.planner.config, SPEC, **options)
    torch.manual_seed(1)
    latent = modules.world_model.encode(torch.randn(BATCH, SPEC.obs_dim)).detach()
    result = planner.plan(latent, modules.world_model, modules.cost, modules.actor.policy, deterministic=True)
    assert result.cost_terms["total"].dtype == torch.float32
    return result.action


def test_bf16_plan_in_bounds():
    action = plan_action(build(), precision="bf16")

    assert action.shape == (BATCH, SPEC.action_dim)
    assert bool(torch.isfinite(action).all())
    assert bool((action.abs() <= 1).all())


def test_compile_failure_falls_back(monkeypatch, caplog):
    modules = build()
    expected = plan_action(modules)

    def failing_compile(*args, **kwargs):
        raise RuntimeError("compiler unavailable")

    monkeypatch.setattr(torch, "compile", failing_compile)
    with caplog.at_level(logging.WARNING, logger="ami.actor.acceleration"):
        action = plan_action(modules, compile=True)

    torch.testing.assert_close(action, expected)
    assert "running it uncompiled" in caplog.text
    assert "compiler unavailable" in caplog.text


@pytest.mark.parametrize(
    ("options", "message"),
    [({"precision": "fp16"}, "precision must be one of"), ({"cuda_graphs": True}, "cuda_graphs needs compile")],
)
def test_invalid_options_rejected(options, message):
    with pytest.raises(ValueError, match=message):
        PLANNERS.get("mppi")(tiny_config().actor.planner, SPEC, **options)


def test_planner_reads_config_fields():
    config = load_config(DEBUG_CONFIG, ["actor.planner.precision=bf16"]).actor.planner

    planner = PLANNERS.get("mppi")(config, SPEC)
    overridden = PLANNERS.get("mppi")(config, SPEC, precision="fp32")

    assert planner.precision == "bf16"
    assert planner.compile is False
    assert overridden.precision == "fp32"
