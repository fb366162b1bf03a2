"""The analytic FLOP count of a planner call equals what PyTorch's FLOP counter measures."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from ami.build import build_modules
from experiments.benchmarks.flops import planning_flops
from tests.tiny import tiny_config, tiny_spec

SPEC = tiny_spec()


@pytest.mark.parametrize("termination_head", [True, False])
@pytest.mark.parametrize("num_envs", [1, 3])
def test_flops_match_counter(termination_head, num_envs):
    torch.manual_seed(0)
    config = tiny_config(
        f"world_model.termination_head={str(termination_head).lower()}",
        "world_model.hidden_dims=[16, 24]",
        "actor.planner.num_samples=20",
        "actor.planner.iterations=3",
    )
    modules = build_modules(config, SPEC, torch.device("cpu"))
    planner, policy = modules.actor.planner, modules.actor.policy
    latent = modules.world_model.encode(torch.randn(num_envs, SPEC.obs_dim)).detach()

    with FlopCounterMode(display=False) as counter:
        planner.plan(latent, modules.world_model, modules.cost, policy)

    expected = planning_flops(planner, modules.world_model, modules.cost, policy, num_envs)
    assert planner.num_policy_samples > 0
    assert expected.termination > 0 if termination_head else expected.termination == 0
    assert expected.total == counter.get_total_flops()
