"""Output shapes and devices of every module, built from a tiny config by ``build_modules``."""

from __future__ import annotations

import pytest
import torch

from ami.actor import PLANNERS
from ami.build import Modules, build_modules
from ami.memory import TrajectoryBatch
from tests.tiny import DEVICES, HORIZON, LATENT_DIM, NUM_CRITICS, tiny_config, tiny_spec

SPEC = tiny_spec()
OBS_DIM, ACTION_DIM = SPEC.obs_dim, SPEC.action_dim
BATCH = 4
NUM_ROLLOUTS = 6


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    return torch.device(request.param)


@pytest.fixture
def modules(device: torch.device) -> Modules:
    torch.manual_seed(0)
    return build_modules(tiny_config(), SPEC, device)


def random_obs(device: torch.device, *leading: int) -> torch.Tensor:
    return torch.randn(*leading, OBS_DIM, device=device)


def random_actions(device: torch.device, *leading: int) -> torch.Tensor:
    return torch.rand(*leading, ACTION_DIM, device=device) * 2 - 1


def make_batch(device: torch.device) -> TrajectoryBatch:
    return TrajectoryBatch(
        obs=random_obs(device, BATCH),
        actions=random_actions(device, HORIZON, BATCH),
        rewards=torch.randn(HORIZON, BATCH, device=device),
        next_obs=random_obs(device, HORIZON, BATCH),
        terminated=torch.zeros(HORIZON, BATCH, device=device),
        truncated=torch.zeros(HORIZON, BATCH, device=device),
        mask=torch.ones(HORIZON, BATCH, device=device),
    )


def test_encoder_shape(modules, device):
    latent = modules.world_model.encoder(random_obs(device, BATCH))

    assert latent.shape == (BATCH, LATENT_DIM)
    assert latent.device.type == device.type


def test_world_model_encode_shape(modules, device):
    latent = modules.world_model.encode(random_obs(device, BATCH))

    assert latent.shape == (BATCH, LATENT_DIM)
    assert latent.device.type == device.type
    assert latent.requires_grad


def test_world_model_encode_target_shape(modules, device):
    target = modules.world_model.encode_target(random_obs(device, HORIZON, BATCH))

    assert target.shape == (HORIZON, BATCH, LATENT_DIM)
    assert target.device.type == device.type
    assert not target.requires_grad


def test_world_model_predict_shape(modules, device):
    latent = torch.randn(HORIZON, BATCH, LATENT_DIM, device=device)

    next_latent = modules.world_model.predict(latent, random_actions(device, HORIZON, BATCH))

    assert next_latent.shape == (HORIZON, BATCH, LATENT_DIM)
    assert next_latent.device.type == device.type


def test_world_model_reward_shape(modules, device):
    latent = torch.randn(HORIZON, BATCH, LATENT_DIM, device=device)

    reward = modules.world_model.reward(latent, random_actions(device, HORIZON, BATCH))

    assert reward.shape == (HORIZON, BATCH)
    assert reward.device.type == device.type


def test_world_model_termination_prob_shape(modules, device):
    probability = modules.world_model.termination_prob(torch.randn(HORIZON, BATCH, LATENT_DIM, device=device))

    assert probability.shape == (HORIZON, BATCH)
    assert probability.device.type == device.type
    assert probability.min().item() >= 0.0
    assert probability.max().item() <= 1.0


def test_world_model_loss_outputs(modules, device):
    batch = make_batch(device)

    output = modules.world_model.loss(batch)

    assert output.loss.shape == ()
    assert output.loss.requires_grad
    assert output.loss.device.type == device.type
    assert output.latents.shape == (HORIZON + 1, BATCH, LATENT_DIM)
    assert output.target_latents.shape == (HORIZON, BATCH, LATENT_DIM)
    assert output.latents.device.type == device.type
    assert output.target_latents.device.type == device.type


def test_world_model_loss_metrics(modules, device):
    output = modules.world_model.loss(make_batch(device))

    expected_tags = {f"world_model/latent_loss/step_{step}" for step in range(1, HORIZON + 1)} | {
        "world_model/latent_loss",
        "world_model/reward_loss",
        "world_model/termination_loss",
        "world_model/variance_loss",
        "world_model/covariance_loss",
        "world_model/embedding_std",
        "world_model/effective_rank",
    }
    assert set(output.metrics) == expected_tags
    for tag, value in output.metrics.items():
        assert value.shape == (), tag
        assert not value.requires_grad, tag


def test_critic_forward_member_axis(modules, device):
    latent = torch.randn(HORIZON, BATCH, LATENT_DIM, device=device)

    members = modules.cost.critic(latent, random_actions(device, HORIZON, BATCH))

    assert members.shape == (NUM_CRITICS, HORIZON, BATCH)
    assert members.device.type == device.type


def test_critic_cost_to_go_shape(modules, device):
    latent = torch.randn(HORIZON, BATCH, LATENT_DIM, device=device)

    cost_to_go = modules.cost.critic.cost_to_go(latent, random_actions(device, HORIZON, BATCH))

    assert cost_to_go.shape == (HORIZON, BATCH)
    assert cost_to_go.device.type == device.type


def test_critic_target_cost_to_go_shape(modules, device):
    latent = torch.randn(HORIZON, BATCH, LATENT_DIM, device=device)

    target = modules.cost.critic.target_cost_to_go(latent, random_actions(device, HORIZON, BATCH))

    assert target.shape == (HORIZON, BATCH)
    assert target.device.type == device.type
    assert not target.requires_grad


def test_trajectory_cost_terms_add_up(modules, device):
    latents = torch.randn(HORIZON + 1, NUM_ROLLOUTS, LATENT_DIM, device=device)
    actions = random_actions(device, HORIZON, NUM_ROLLOUTS)
    policy = modules.actor.policy

    scored = modules.cost.trajectory_cost(latents, actions, lambda latent: policy(latent)[0])

    assert scored.total.shape == (NUM_ROLLOUTS,)
    assert scored.total.device.type == device.type
    assert set(scored.terms) == {"task", "action_energy", "critic"}
    for name, value in scored.terms.items():
        assert value.shape == (NUM_ROLLOUTS,), name
    summed = torch.stack(list(scored.terms.values())).sum(dim=0)
    torch.testing.assert_close(summed, scored.total)


def test_policy_shapes(modules, device):
    latent = torch.randn(HORIZON + 1, BATCH, LATENT_DIM, device=device)

    action, log_prob = modules.actor.policy(latent)

    assert action.shape == (HORIZON + 1, BATCH, ACTION_DIM)
    assert log_prob.shape == (HORIZON + 1, BATCH)
    assert action.device.type == device.type
    assert log_prob.device.type == device.type


@pytest.mark.parametrize("deterministic", [False, True], ids=["stochastic", "deterministic"])
def test_policy_actions_in_bounds(modules, device, deterministic):
    latent = 10 * torch.randn(256, LATENT_DIM, device=device)

    action, _ = modules.actor.policy(latent, deterministic=deterministic)

    assert action.min().item() >= -1.0
    assert action.max().item() <= 1.0


@pytest.mark.parametrize("planner_name", ["mppi", "cem"])
def test_planner_result_shapes(modules, device, planner_name):
    config = tiny_config(f"actor.planner.name={planner_name}")
    planner = PLANNERS.get(planner_name)(config.actor.planner, SPEC)
    latent = torch.randn(BATCH, LATENT_DIM, device=device)

    result = planner.plan(latent, modules.world_model, modules.cost, modules.actor.policy)

    assert result.action.shape == (BATCH, ACTION_DIM)
    assert result.plan.shape == (BATCH, HORIZON, ACTION_DIM)
    assert result.action.device.type == device.type
    assert result.plan.device.type == device.type
    assert set(result.cost_terms) == {"task", "action_energy", "critic", "total"}
    for name, value in result.cost_terms.items():
        assert value.shape == (BATCH,), name


@pytest.mark.parametrize("planner_name", ["mppi", "cem"])
def test_planner_warm_start_shapes(modules, device, planner_name):
    config = tiny_config(f"actor.planner.name={planner_name}")
    planner = PLANNERS.get(planner_name)(config.actor.planner, SPEC)
    latent = torch.randn(BATCH, LATENT_DIM, device=device)
    first = planner.plan(latent, modules.world_model, modules.cost, modules.actor.policy)

    second = planner.plan(latent, modules.world_model, modules.cost, modules.actor.policy, previous_plan=first.plan)

    assert second.action.shape == (BATCH, ACTION_DIM)
    assert second.plan.shape == (BATCH, HORIZON, ACTION_DIM)


def test_replay_sample_shapes(modules, device):
    replay = modules.replay
    for _ in range(10):
        replay.add(
            random_obs(device, 1),
            random_actions(device, 1),
            torch.randn(1, device=device),
            random_obs(device, 1),
            torch.zeros(1, device=device),
            torch.zeros(1, device=device),
        )

    batch = replay.sample(BATCH, HORIZON)

    assert batch.obs.shape == (BATCH, OBS_DIM)
    assert batch.actions.shape == (HORIZON, BATCH, ACTION_DIM)
    assert batch.rewards.shape == (HORIZON, BATCH)
    assert batch.next_obs.shape == (HORIZON, BATCH, OBS_DIM)
    assert batch.terminated.shape == (HORIZON, BATCH)
    assert batch.truncated.shape == (HORIZON, BATCH)
    assert batch.mask.shape == (HORIZON, BATCH)
    for name in ("obs", "actions", "rewards", "next_obs", "terminated", "truncated", "mask"):
        assert getattr(batch, name).device.type == device.type, name


@pytest.mark.parametrize("mode", ["reactive", "deliberative"])
def test_actor_act_shapes(modules, device, mode):
    latent = modules.world_model.encode(random_obs(device, 1))

    output = modules.actor.act(latent, mode, modules.world_model, modules.cost, modules.memory)

    assert output.action.shape == (1, ACTION_DIM)
    assert output.action.device.type == device.type

