"""The learned goal distance: building it per level, sampling hindsight goals, and learning a corridor's distances."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.ami_agent import AMIAgent
from ami.build import build_modules
from ami.config import ConfigError
from ami.config.validate import validate_config
from ami.cost.goal import find_goal_terms
from ami.cost.goal_distance import GoalTemporalDistance
from ami.training.goal_landscape import spearman
from tests.tiny import tiny_config, tiny_spec

SPEC = tiny_spec(obs_dim=6)
GOAL_SETTINGS = (
    "configurator.goal.goal_indices=[4, 5]",
    "configurator.goal.position_indices=[0, 1]",
    "configurator.goal.zero_indices=[2, 3]",
)
HIERARCHY = (
    "world_model.name=hjepa",
    "world_model.levels=[{k=3, latent_dim=6, hidden_dims=[16], horizon=2}]",
    "actor.planner.name=hierarchical",
    "actor.planner.high_level.num_samples=16",
    "actor.planner.high_level.num_elites=4",
)


def build(goal_table: str, *overrides: str):
    torch.manual_seed(0)
    config = tiny_config(*GOAL_SETTINGS, f"cost.terms.goal={goal_table}", *overrides)
    validate_config(config)
    return build_modules(config, SPEC, torch.device("cpu"))


def test_goal_distance_has_one_head_per_level():
    modules = build('{term = "goal_temporal_distance", hidden_dims = [16]}', *HIERARCHY)

    (weight, term), = find_goal_terms(modules.cost)
    assert weight == 1.0
    assert isinstance(term, GoalTemporalDistance)
    assert [head.latent_dim for head in term.heads] == [modules.world_model.latent_dim, 6]
    assert [head.latent_dim for head in term.target_heads] == [modules.world_model.latent_dim, 6]
    assert not any(p.requires_grad for p in term.target_heads.parameters())


def test_goal_distance_intrinsic_flat_model():
    modules = build('{term = "action_energy"}', "cost.intrinsic={goal_temporal_distance = 0.5}")

    (weight, term), = find_goal_terms(modules.cost)
    assert weight == 0.5
    assert [head.latent_dim for head in term.heads] == [modules.world_model.latent_dim]


def test_goal_distance_rejects_latent_dims_option():
    with pytest.raises(ConfigError, match=r"cost\.terms\.goal\.latent_dims' is set from the world model"):
        build('{term = "goal_temporal_distance", latent_dims = [4]}')


@pytest.mark.parametrize(
    ("option", "fragment"),
    [
        ("discount = 1.0", "invalid value 1.0 for option 'discount'"),
        ("expectile = 0.0", "invalid value 0.0 for option 'expectile'"),
        ("window = 1", "invalid value 1 for option 'window'"),
        ("self_goal_share = 0.6, future_goal_share = 0.6", "self_goal_share \\+ future_goal_share is 1.2"),
        ("discount = \"high\"", "expected a number"),
    ],
)
def test_goal_distance_bad_option_names_key(option, fragment):
    with pytest.raises(ConfigError, match=r"cost\.terms\.goal") as error:
        build(f'{{term = "goal_temporal_distance", {option}}}')
    assert error.match(fragment)


def test_goal_distance_planner_rows():
    term = GoalTemporalDistance(SPEC, latent_dims=(4,), hidden_dims=(8,))
    goals = torch.randn(2, 4)
    term.set_goal([goals])
    latents = torch.randn(3, 6, 4)  # (horizon, num_samples * num_envs, D), sample-major

    distance = term.distance(latents, level=0)

    expected = term.heads[0](latents, goals.repeat(3, 1).expand_as(latents))
    torch.testing.assert_close(distance, expected)
    assert distance.shape == (3, 6)
    assert bool((distance >= 0).all())


def test_goal_pairs_stay_in_episode():
    torch.manual_seed(0)
    term = GoalTemporalDistance(SPEC, latent_dims=(4,), num_pairs=4000, self_goal_share=0.2, future_goal_share=0.5)
    mask = torch.ones(8, 3)
    mask[3:, 0] = 0.0  # window 0 leaves its episode after 3 transitions

    pairs = term._sample_pairs(mask)

    in_window_0 = pairs["b"] == 0
    assert int(pairs["t"][in_window_0].max()) == 2
    future = pairs["kind"] == 1
    assert bool((pairs["goal_j"][future] > pairs["t"][future]).all())
    assert int(pairs["goal_j"][future & in_window_0].max()) == 3
    assert bool((pairs["goal_j"][pairs["kind"] == 0] == pairs["t"][pairs["kind"] == 0]).all())
    other = pairs["kind"] == 2
    assert int(pairs["goal_j"][other & (pairs["goal_b"] == 0)].max()) <= 3
    shares = [float((pairs["kind"] == kind).float().mean()) for kind in range(3)]
    assert shares == pytest.approx([0.2, 0.5, 0.3], abs=0.03)


def random_walk_windows(num_states: int, window: int, num_windows: int, generator: np.random.Generator) -> torch.Tensor:
    """One-hot latents ``(window + 1, num_windows, num_states)`` of random walks along a corridor of ``num_states`` cells."""
    positions = np.empty((window + 1, num_windows), dtype=np.int64)
    positions[0] = generator.integers(num_states, size=num_windows)
    for t in range(window):
        moves = generator.choice([-1, 1], size=num_windows)
        positions[t + 1] = np.clip(positions[t] + moves, 0, num_states - 1)
    return torch.nn.functional.one_hot(torch.as_tensor(positions), num_states).float()


def test_goal_distance_learns_corridor():
    """On a corridor with one-hot latents every other cell is equally far in latent space; the learned distance ranks them by steps."""
    torch.manual_seed(0)
    generator = np.random.default_rng(0)
    num_states = 10
    term = GoalTemporalDistance(SPEC, latent_dims=(num_states,), hidden_dims=(64, 64), discount=0.9, target_tau=0.05, num_pairs=256)
    optimizer = torch.optim.Adam(term.heads.parameters(), lr=3e-3)
    mask = torch.ones(12, 32)

    for _ in range(600):
        latents = random_walk_windows(num_states, 12, 32, generator)
        loss, _ = term.loss([latents], mask)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        term.update_targets()

    cells = torch.eye(num_states)
    goal = 7
    with torch.no_grad():
        learned = term.pair_distance(cells, cells[goal].expand(num_states, -1)).numpy()
    steps = np.abs(np.arange(num_states) - goal)
    others = steps > 0
    latent_distance = (cells - cells[goal]).square().mean(dim=-1).numpy()
    assert np.isnan(spearman(latent_distance[others], steps[others]))
    assert spearman(learned[others], steps[others]) > 0.9
    # The distance grows with every step away from the goal, on both sides.
    assert bool(np.all(np.diff(learned[: goal + 1]) < 0))
    assert bool(np.all(np.diff(learned[goal:]) > 0))
    # Discounted steps: the far end is 7 steps away, (1 - 0.9 ** 7) / 0.1 = 5.2. A random walk
    # overestimates the shortest path, and the expectile keeps the excess below half of it.
    assert 0.8 < learned[goal - 1] < 2.0
    assert 4.0 < learned[0] < 7.8


def test_agent_update_trains_goal_distance():
    torch.manual_seed(0)
    config = tiny_config(
        *GOAL_SETTINGS, *HIERARCHY, 'cost.terms.goal={term = "goal_temporal_distance", hidden_dims = [16], window = 8, num_windows = 4}'
    )
    validate_config(config)
    agent = AMIAgent(config, SPEC, torch.device("cpu"))
    (_, term), = find_goal_terms(agent.modules.cost)
    generator = np.random.default_rng(0)

    def observe(steps: int) -> None:
        for _ in range(steps):
            obs, next_obs = generator.normal(size=6), generator.normal(size=6)
            agent.observe(obs, generator.uniform(-1, 1, size=SPEC.action_dim), 0.0, next_obs, False, False)

    observe(7)
    metrics = agent.update()
    assert not any(tag.startswith("goal_distance/") for tag in metrics)

    observe(1)
    before = [p.clone() for p in term.heads.parameters()]
    target_before = [p.clone() for p in term.target_heads.parameters()]
    metrics = agent.update()

    for level in (0, 1):
        assert float(metrics[f"goal_distance/level_{level}/loss"]) > 0
    assert float(metrics["goal_distance/grad_norm"]) > 0
    assert all(not torch.equal(a, b) for a, b in zip(before, term.heads.parameters()))
    assert all(not torch.equal(a, b) for a, b in zip(target_before, term.target_heads.parameters()))
    assert "goal_distance_optimizer" in agent.learner.state_dict()
