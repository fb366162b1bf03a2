"""Refitting the critic and the policy to a new cost on a frozen world model."""

from __future__ import annotations

import pytest
import torch

from agents.ami_agent import AMIAgent
from ami.training.refit import RefitDivergedError, refit_critic_and_policy
from tests.tiny import DEVICES, HORIZON, tiny_config, tiny_spec


def agent_with_replay(device: str, transitions: int = 40) -> AMIAgent:
    """Build a tiny agent whose replay contains ``transitions`` random steps of one episode, each with reward 1."""
    torch.manual_seed(0)
    spec = tiny_spec()
    agent = AMIAgent(tiny_config(f"device={device}"), spec, torch.device(device))
    for step in range(transitions):
        obs, next_obs = torch.randn(spec.obs_dim).numpy(), torch.randn(spec.obs_dim).numpy()
        action = torch.rand(spec.action_dim).mul(2).sub(1).numpy()
        agent.observe(obs, action, 1.0, next_obs, False, step == transitions - 1)
    return agent


def parameters_of(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


@pytest.mark.parametrize("device", DEVICES)
def test_refit_keeps_world_model_frozen(device):
    agent = agent_with_replay(device)
    world_model_before = parameters_of(agent.modules.world_model)
    policy_before = parameters_of(agent.modules.actor.policy)
    old_critic = agent.modules.cost.critic

    report = refit_critic_and_policy(agent, steps=30)

    critic = agent.modules.cost.critic
    assert critic is not old_critic
    assert agent.learner.cost.critic is critic
    assert all(p.device.type == device for p in critic.parameters())
    for before, after in zip(world_model_before, agent.modules.world_model.parameters()):
        assert torch.equal(before, after)
    assert any(not torch.equal(before, after) for before, after in zip(policy_before, agent.modules.actor.policy.parameters()))
    assert report.steps == 30
    assert torch.isfinite(torch.tensor(report.critic_loss))


def test_refit_learns_cost_to_go_of_reward():
    # Reward 1 per step gives a task cost of -1 per step, so the cost-to-go drifts below zero
    # from the fresh critic's start near zero.
    agent = agent_with_replay("cpu")

    report = refit_critic_and_policy(agent, steps=200)

    assert report.cost_to_go < -0.5


def test_refit_rejects_bad_input():
    agent = agent_with_replay("cpu", transitions=HORIZON - 1)

    with pytest.raises(ValueError, match="replay buffer holds 2 steps"):
        refit_critic_and_policy(agent, steps=10)
    with pytest.raises(ValueError, match="invalid number of refit steps 0"):
        refit_critic_and_policy(agent_with_replay("cpu"), steps=0)


def test_refit_reports_divergence_under_huge_cost():
    agent = agent_with_replay("cpu")
    agent.modules.cost.task_weight = 1e38  # reward 1 per step: step costs of -1e38 overflow the TD targets

    with pytest.raises(RefitDivergedError, match="diverged at update 10: 10 updates in a row"):
        refit_critic_and_policy(agent, steps=50)
