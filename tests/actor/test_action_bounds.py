"""Every action the actor samples, scores or executes lies inside uneven action bounds.

The bounds are ``low = [-0.4, -1]`` and ``high = [0.3, 2]``, and the planner starts from a
sampling std of 10 half-ranges, so most Gaussian candidates fall outside before clamping.
Bounds are compared in float32, the dtype of Gymnasium's Box bounds and of the tensors.
"""

from __future__ import annotations

import pytest
import torch

from ami.build import Modules, build_modules
from tests.tiny import HORIZON, LATENT_DIM, tiny_config, tiny_spec

SPEC = tiny_spec(action_low=(-0.4, -1.0), action_high=(0.3, 2.0), obs_dim=4)
LOW = torch.tensor(SPEC.action_low)
HIGH = torch.tensor(SPEC.action_high)
BATCH = 3


def build(planner_name: str = "mppi") -> Modules:
    torch.manual_seed(0)
    config = tiny_config(
        f"actor.planner.name={planner_name}",
        "actor.planner.max_std=10.0",
        "actor.planner.num_samples=64",
        "actor.planner.num_elites=8",
        "actor.planner.iterations=3",
        "actor.planner.policy_fraction=0.25",
    )
    modules = build_modules(config, SPEC, torch.device("cpu"))
    saturate(modules.actor.policy)
    return modules


def saturate(policy: torch.nn.Module) -> None:
    """Scale the policy's output layer so that its means and stds reach far past the tanh range.

    An untrained policy acts near the middle of the range. This one puts many actions, and
    the planner's policy candidates, on the bounds.
    """
    with torch.no_grad():
        policy.net[-1].weight.mul_(100.0)
        policy.net[-1].bias.mul_(100.0)


def spread_latents(modules: Modules, batch: int = BATCH) -> torch.Tensor:
    """Encode large random observations, so that the batch contains very different latents."""
    with torch.no_grad():
        return modules.world_model.encode(10 * torch.randn(batch, SPEC.obs_dim))


def install_recorder(monkeypatch, owner, method_name: str, argument_index: int) -> list[torch.Tensor]:
    """Wrap ``owner.method_name`` so that each call appends a copy of one positional argument."""
    recorded: list[torch.Tensor] = []
    original = getattr(owner, method_name)

    def recorder(*args, **kwargs):
        recorded.append(args[argument_index].detach().clone())
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, method_name, recorder)
    return recorded


def flat_actions(recorded: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([actions.reshape(-1, SPEC.action_dim) for actions in recorded])


def count_outside(actions: torch.Tensor) -> int:
    return int(((actions < LOW) | (actions > HIGH)).any(dim=-1).sum())


@pytest.mark.parametrize("deterministic", [False, True], ids=["stochastic", "deterministic"])
def test_policy_actions_in_bounds(deterministic):
    modules = build()
    latent = 10 * torch.randn(4096, LATENT_DIM)

    with torch.no_grad():
        actions, _ = modules.actor.policy(latent, deterministic=deterministic)

    assert count_outside(actions) == 0


def test_policy_actions_reach_both_bounds():
    # Checks that the bounds test above exercises saturated actions, not only the middle.
    modules = build()
    latent = 10 * torch.randn(4096, LATENT_DIM)

    with torch.no_grad():
        actions, _ = modules.actor.policy(latent)

    assert torch.allclose(actions.min(dim=0).values, LOW, atol=1e-3)
    assert torch.allclose(actions.max(dim=0).values, HIGH, atol=1e-3)


@pytest.mark.parametrize("planner_name", ["mppi", "cem"])
def test_planner_rolls_out_in_bounds(monkeypatch, planner_name):
    modules = build(planner_name)
    recorded = install_recorder(monkeypatch, modules.world_model, "predict", argument_index=1)

    modules.actor.planner.plan(spread_latents(modules), modules.world_model, modules.cost, modules.actor.policy)

    actions = flat_actions(recorded)
    assert len(recorded) == 3 * HORIZON  # one call per iteration and horizon step
    assert count_outside(actions) == 0
    # The clamp is what keeps them inside: many candidates sit exactly on a bound.
    assert bool((actions == LOW).any())
    assert bool((actions == HIGH).any())


@pytest.mark.parametrize("planner_name", ["mppi", "cem"])
def test_planner_scores_in_bounds(monkeypatch, planner_name):
    modules = build(planner_name)
    scored = install_recorder(monkeypatch, modules.cost, "trajectory_cost", argument_index=1)

    modules.actor.planner.plan(spread_latents(modules), modules.world_model, modules.cost, modules.actor.policy)

    assert len(scored) == 3
    assert count_outside(flat_actions(scored)) == 0


@pytest.mark.parametrize("planner_name", ["mppi", "cem"])
def test_planner_critic_actions_in_bounds(monkeypatch, planner_name):
    modules = build(planner_name)
    terminal = install_recorder(monkeypatch, modules.cost.critic, "cost_to_go", argument_index=1)

    modules.actor.planner.plan(spread_latents(modules), modules.world_model, modules.cost, modules.actor.policy)

    assert len(terminal) == 3
    assert count_outside(flat_actions(terminal)) == 0


@pytest.mark.parametrize("planner_name", ["mppi", "cem"])
@pytest.mark.parametrize("deterministic", [False, True], ids=["stochastic", "deterministic"])
def test_planner_executes_in_bounds(planner_name, deterministic):
    modules = build(planner_name)
    latent = spread_latents(modules)
    previous_plan = None
    actions, plans = [], []

    # Several calls, so that warm starts from earlier plans are covered too.
    for _ in range(5):
        result = modules.actor.planner.plan(
            latent, modules.world_model, modules.cost, modules.actor.policy, previous_plan, deterministic
        )
        previous_plan = result.plan
        actions.append(result.action)
        plans.append(result.plan)

    assert count_outside(torch.cat(actions)) == 0
    assert count_outside(flat_actions(plans)) == 0


@pytest.mark.parametrize("mode", ["reactive", "deliberative"])
@pytest.mark.parametrize("deterministic", [False, True], ids=["stochastic", "deterministic"])
def test_actor_acts_in_bounds(mode, deterministic):
    modules = build()
    latent = spread_latents(modules, batch=64)

    output = modules.actor.act(latent, mode, modules.world_model, modules.cost, modules.memory, deterministic)

    assert count_outside(output.action) == 0
