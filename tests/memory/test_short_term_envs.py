"""``ShortTermMemory`` with one row per env: forgetting the episode of some envs only."""

from __future__ import annotations

import pytest
import torch

from ami.actor.mppi import MPPIPlanner
from ami.memory.short_term import ShortTermMemory, middle_of_action_range
from tests.tiny import HORIZON, tiny_config, tiny_spec

ACTION_LOW, ACTION_HIGH = (-1.0, 0.0), (1.0, 4.0)
NUM_ENVS, LATENT_DIM = 3, 4


def make_memory() -> ShortTermMemory:
    return ShortTermMemory(context_length=4, cold_start_action=middle_of_action_range(ACTION_LOW, ACTION_HIGH, torch.device("cpu")))


def test_reset_one_env_plan_row():
    memory = make_memory()
    plan = torch.randn(NUM_ENVS, HORIZON, 2)
    original = plan.clone()
    memory.previous_plan = plan

    memory.reset(env_ids=[1])

    assert torch.equal(memory.previous_plan[1], torch.tensor([0.0, 2.0]).expand(HORIZON, 2))
    assert torch.equal(memory.previous_plan[[0, 2]], original[[0, 2]])
    assert torch.equal(plan, original)  # the planner's output tensor is not changed in place


def test_reset_every_env_drops_plan():
    memory = make_memory()
    memory.previous_plan = torch.randn(NUM_ENVS, HORIZON, 2)

    memory.reset(env_ids=[0, 2])
    memory.reset(env_ids=[1])

    assert memory.previous_plan is None


def test_new_plan_clears_forgotten_rows():
    memory = make_memory()
    memory.previous_plan = torch.randn(NUM_ENVS, HORIZON, 2)
    memory.reset(env_ids=[0, 2])
    new_plan = torch.randn(NUM_ENVS, HORIZON, 2)

    memory.previous_plan = new_plan
    memory.reset(env_ids=[1])

    assert memory.previous_plan is not None
    assert torch.equal(memory.previous_plan[0], new_plan[0])


def test_reset_one_env_context_rows():
    memory = make_memory()
    for step in range(3):
        memory.remember(torch.full((NUM_ENVS, LATENT_DIM), float(step + 1)), torch.full((NUM_ENVS, 2), float(step + 1)))

    memory.reset(env_ids=[2])

    latents, actions = memory.context()
    assert latents.shape == (3, NUM_ENVS, LATENT_DIM)
    assert bool((latents[:, 2] == 0).all())
    assert bool((actions[:, 2] == 0).all())
    assert latents[:, 0, 0].tolist() == [1.0, 2.0, 3.0]


def test_reset_some_envs_without_cold_start_action():
    memory = ShortTermMemory(context_length=4)
    memory.previous_plan = torch.randn(NUM_ENVS, HORIZON, 2)

    with pytest.raises(ValueError, match="needs cold_start_action"):
        memory.reset(env_ids=[0])


def test_forgotten_row_starts_planner_cold():
    spec = tiny_spec(action_low=ACTION_LOW, action_high=ACTION_HIGH)
    planner = MPPIPlanner(tiny_config().actor.planner, spec)
    memory = make_memory()
    memory.previous_plan = torch.randn(NUM_ENVS, HORIZON, 2)
    memory.reset(env_ids=[1])
    low, high = torch.tensor(ACTION_LOW), torch.tensor(ACTION_HIGH)

    warm = planner._initial_mean(memory.previous_plan, NUM_ENVS, low, high)  # (H, batch, A)
    cold = planner._initial_mean(None, NUM_ENVS, low, high)

    assert torch.equal(warm[:, 1], cold[:, 1])
    assert not torch.equal(warm[:, 0], cold[:, 0])
