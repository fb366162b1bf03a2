"""The hierarchical planner: bounds, shapes, batched world-model calls, warm start, config errors and a known optimum."""

from __future__ import annotations

import dataclasses
import logging

import pytest
import torch
from torch import nn

from ami.actor import PLANNERS, SquashedGaussianPolicy
from ami.actor.hierarchical import HierarchicalPlanner
from ami.actor.landmarks import LandmarkGraph
from ami.actor.mppi import MPPIPlanner
from ami.build import Modules, build_modules
from ami.config import PerceptionConfig, PlannerConfig, PolicyConfig, WorldModelConfig
from ami.config.schema import HighLevelPlannerConfig, LevelConfig
from ami.cost import CostModule
from ami.cost.goal import GoalLatentDistance
from ami.cost.goal_distance import GoalTemporalDistance
from ami.perception import MLPEncoder
from ami.world_model import HJEPAWorldModel
from ami.memory.replay import TrajectoryReplay
from tests.actor.test_action_bounds import count_outside, saturate
from tests.actor.test_landmarks import euclidean, u_corridor
from tests.actor.test_planner_optimum import ZeroCritic
from tests.tiny import LATENT_DIM, tiny_config, tiny_spec

SPEC = tiny_spec(action_low=(-0.4, -1.0), action_high=(0.3, 2.0), obs_dim=4)
LOW, HIGH = torch.tensor(SPEC.action_low), torch.tensor(SPEC.action_high)
K, HIGH_HORIZON, LEVEL_DIM = 3, 2, 6
NUM_SAMPLES, ITERATIONS = 16, 2
HIGH_SAMPLES, HIGH_ITERATIONS = 24, 3


def build(*overrides: str) -> Modules:
    torch.manual_seed(0)
    config = tiny_config(
        "world_model.name=hjepa",
        f"world_model.levels=[{{k={K}, latent_dim={LEVEL_DIM}, macro_action_dim=4, hidden_dims=[16], horizon=2}}]",
        "actor.planner.name=hierarchical",
        f"actor.planner.horizon={K}",
        f"actor.planner.num_samples={NUM_SAMPLES}",
        f"actor.planner.iterations={ITERATIONS}",
        f"actor.planner.high_level.num_samples={HIGH_SAMPLES}",
        "actor.planner.high_level.num_elites=4",
        f"actor.planner.high_level.iterations={HIGH_ITERATIONS}",
        f"actor.planner.high_level.horizon={HIGH_HORIZON}",
        *overrides,
    )
    return build_modules(config, SPEC, torch.device("cpu"))


def spread_latents(modules: Modules, batch: int) -> torch.Tensor:
    with torch.no_grad():
        return modules.world_model.encode(10 * torch.randn(batch, SPEC.obs_dim))


def record_calls(monkeypatch, owner, method_name: str) -> list[tuple[torch.Tensor, ...]]:
    """Wrap ``owner.method_name`` so that each call appends copies of its positional tensor arguments."""
    calls: list[tuple[torch.Tensor, ...]] = []
    original = getattr(owner, method_name)

    def recorder(*args):
        calls.append(tuple(arg.detach().clone() for arg in args))
        return original(*args)

    monkeypatch.setattr(owner, method_name, recorder)
    return calls


@pytest.mark.parametrize("deterministic", [False, True], ids=["stochastic", "deterministic"])
def test_actions_in_uneven_bounds(monkeypatch, deterministic):
    modules = build("actor.planner.max_std=10.0", "actor.planner.policy_fraction=0.25")
    saturate(modules.actor.policy)
    world_model = modules.world_model
    level = world_model.level(1)
    chunk_calls = record_calls(monkeypatch, level, "encode_actions")
    step_calls = record_calls(monkeypatch, world_model, "predict")
    latent = spread_latents(modules, batch=3)

    result = modules.actor.planner.plan(latent, world_model, modules.cost, modules.actor.policy, deterministic=deterministic)
    again = modules.actor.planner.plan(latent, world_model, modules.cost, modules.actor.policy, result.plan, deterministic)

    high_level_actions = torch.cat([chunks.reshape(-1, SPEC.action_dim) for (chunks,) in chunk_calls])
    low_level_actions = torch.cat([actions for _, actions in step_calls])
    assert count_outside(high_level_actions) == 0
    assert count_outside(low_level_actions) == 0
    for output in (result, again):
        assert count_outside(output.action) == 0
        assert count_outside(output.plan.reshape(-1, SPEC.action_dim)) == 0
    # With a std of 10 half-ranges, the clamped candidates reach both bounds.
    assert torch.isclose(high_level_actions, LOW).any()
    assert torch.isclose(high_level_actions, HIGH).any()


@pytest.mark.parametrize("num_envs", [1, 5])
def test_plan_shapes(num_envs):
    modules = build()
    latent = spread_latents(modules, num_envs)

    result = modules.actor.planner.plan(latent, modules.world_model, modules.cost, modules.actor.policy)

    assert result.action.shape == (num_envs, SPEC.action_dim)
    assert result.plan.shape == (num_envs, K * HIGH_HORIZON, SPEC.action_dim)
    assert result.subgoal.shape == (num_envs, LEVEL_DIM)
    expected_terms = {"task", "action_energy", "critic", "subgoal", "total", "high_level/task", "high_level/total"}
    assert expected_terms <= set(result.cost_terms)
    for name, value in result.cost_terms.items():
        assert value.shape == (num_envs,), name
    torch.testing.assert_close(
        result.cost_terms["total"],
        sum(value for name, value in result.cost_terms.items() if name != "total" and not name.startswith("high_level/")),
    )


@pytest.mark.parametrize("num_envs", [1, 4])
def test_world_model_calls_are_batched(monkeypatch, num_envs):
    modules = build("actor.planner.policy_fraction=0.0")
    world_model = modules.world_model
    level = world_model.level(1)
    level_calls = record_calls(monkeypatch, level, "predict")
    chunk_calls = record_calls(monkeypatch, level, "encode_actions")
    step_calls = record_calls(monkeypatch, world_model, "predict")
    latent = spread_latents(modules, num_envs)

    modules.actor.planner.plan(latent, world_model, modules.cost, modules.actor.policy)

    # High level: one level-1 call per step and iteration on every candidate, plus one for the subgoal.
    assert len(level_calls) == HIGH_ITERATIONS * HIGH_HORIZON + 1
    assert all(latents.shape == (HIGH_SAMPLES * num_envs, LEVEL_DIM) for latents, _ in level_calls[:-1])
    assert level_calls[-1][0].shape == (num_envs, LEVEL_DIM)
    # One chunk-encoder call per iteration covers every chunk of every candidate.
    assert [chunks.shape for (chunks,) in chunk_calls[:-1]] == [(HIGH_HORIZON, HIGH_SAMPLES * num_envs, K, 2)] * HIGH_ITERATIONS
    # Low level: the flat planner's calls, one per env step of the chunk and iteration.
    assert len(step_calls) == ITERATIONS * K
    assert all(latents.shape == (NUM_SAMPLES * num_envs, LATENT_DIM) for latents, _ in step_calls)


def test_warm_start_shifts_previous_plan():
    planner = build().actor.planner
    previous = torch.arange(2 * K * HIGH_HORIZON * 2, dtype=torch.float32).reshape(2, K * HIGH_HORIZON, 2) / 100

    mean = planner._initial_mean(previous, 2, K * HIGH_HORIZON, LOW, HIGH)

    expected = torch.cat([previous[:, 1:], previous[:, -1:]], dim=1).transpose(0, 1)
    torch.testing.assert_close(mean, expected)


def test_warm_start_reaches_low_level(monkeypatch):
    modules = build()
    planner = modules.actor.planner
    starts = []
    original = planner.low_level.plan_to_subgoal

    def recorder(latent, world_model, cost, policy, initial_plan, *args):
        starts.append(initial_plan.clone())
        return original(latent, world_model, cost, policy, initial_plan, *args)

    monkeypatch.setattr(planner.low_level, "plan_to_subgoal", recorder)
    monkeypatch.setattr(planner, "_plan_high_level", lambda latent, cost, level, previous, waypoint: (
        planner._initial_mean(previous, latent.shape[0], K * HIGH_HORIZON, LOW, HIGH),
        torch.zeros(latent.shape[0], LEVEL_DIM),
        {},
    ))
    previous = torch.full((1, K * HIGH_HORIZON, 2), 0.2)
    previous[0, 1, 0] = -0.3

    planner.plan(spread_latents(modules, 1), modules.world_model, modules.cost, modules.actor.policy, previous)

    # The low level starts from the shifted plan's first chunk.
    torch.testing.assert_close(starts[0][:, 0], previous[0, 1:K + 1])


def test_previous_plan_of_wrong_length_raises():
    modules = build()

    with pytest.raises(ValueError, match="previous plan has shape"):
        modules.actor.planner.plan(
            spread_latents(modules, 1), modules.world_model, modules.cost, modules.actor.policy, torch.zeros(1, K, 2)
        )


def test_flat_world_model_raises():
    hierarchical = build()
    flat = build_modules(tiny_config(f"actor.planner.horizon={K}"), SPEC, torch.device("cpu"))

    with pytest.raises(TypeError, match="needs a hierarchical world model"):
        hierarchical.actor.planner.plan(spread_latents(flat, 1), flat.world_model, flat.cost, flat.actor.policy)


def test_horizon_other_than_k_raises():
    modules = build()
    config = dataclasses.replace(modules.actor.planner.config, horizon=K + 1)
    planner = HierarchicalPlanner(config, SPEC)

    with pytest.raises(ValueError, match=r"actor.planner.horizon = 4 must equal .* world_model.levels\[0\].k = 3"):
        planner.plan(spread_latents(modules, 1), modules.world_model, modules.cost, modules.actor.policy)


@pytest.mark.parametrize(
    ("field", "value"),
    [("num_samples", 0), ("horizon", 0), ("iterations", 0), ("num_elites", 300), ("temperature", 0.0), ("temperature", 1e-300), ("subgoal_weight", -1.0),
     ("low_level_goal_weight", -0.5), ("low_level_goal_weight", float("nan")), ("landmarks", 1), ("landmark_neighbors", 0),
     ("waypoint_hops", 0), ("subgoal", "best")],
)
def test_high_level_config_errors_name_key(field, value):
    config = PlannerConfig(name="hierarchical", high_level=dataclasses.replace(HighLevelPlannerConfig(), **{field: value}))

    with pytest.raises(ValueError, match=f"actor.planner.high_level.{field}"):
        PLANNERS.get("hierarchical")(config, SPEC)


def test_waypoint_subgoal_without_landmarks_raises():
    high_level = HighLevelPlannerConfig(subgoal="waypoint")

    with pytest.raises(ValueError, match=r'subgoal = "waypoint" needs a landmark graph; set actor.planner.high_level.landmarks'):
        HierarchicalPlanner(PlannerConfig(name="hierarchical", high_level=high_level), SPEC)


class Shift(nn.Module):
    """Known dynamics ``latent + scale * action`` for both levels."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return latent + self.scale * action


class ChunkSum(nn.Module):
    """Macro-action: the sum of the chunk's actions, scaled like one env step."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, actions: torch.Tensor) -> torch.Tensor:
        return self.scale * actions.sum(dim=-2)


class ZeroReward(nn.Module):
    def forward(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return latent.new_zeros(latent.shape[:-1])


STEP_SCALE = 0.5
GOAL = torch.tensor([[0.4, -0.25], [-0.3, 0.45]])
"""Goals of two envs, each reached from the origin by one action inside [-1, 1]: GOAL / STEP_SCALE."""


def point_mass_model() -> HJEPAWorldModel:
    """``z' = z + STEP_SCALE * a`` at level 0; level 1 is the identity abstraction with ``u' = u + STEP_SCALE * sum(chunk)``; no rewards."""
    spec = tiny_spec(obs_dim=2)
    encoder = MLPEncoder(PerceptionConfig(latent_dim=2, hidden_dims=(4,)), spec)
    config = WorldModelConfig(name="hjepa", hidden_dims=(4,), termination_head=False, levels=(LevelConfig(k=K, latent_dim=2, hidden_dims=(4,)),))
    world_model = HJEPAWorldModel(config, spec, encoder=encoder)
    world_model.predictor = Shift(STEP_SCALE)
    world_model.reward_head = ZeroReward()
    level = world_model.level(1)
    level.abstraction = nn.Identity()
    level.chunk_encoder = ChunkSum(STEP_SCALE)
    level.predictor = Shift(1.0)
    level.reward_head = ZeroReward()
    return world_model


def plan_to_goal(
    low_level_goal_weight: float = 1.0,
    goal: torch.Tensor = GOAL,
    landmarks: LandmarkGraph | None = None,
    subgoal: str = "plan",
    previous_plan: torch.Tensor | None = None,
):
    """Plan from the origin toward ``goal`` in the point-mass model with a ``goal_latent_distance`` term."""
    torch.manual_seed(0)
    world_model = point_mass_model()
    goal_term = GoalLatentDistance(tiny_spec())
    goal_term.set_goal([goal, goal])
    cost = CostModule(world_model, ZeroCritic(), intrinsic={"goal_latent_distance": (1.0, goal_term)}, task_weight=1.0, discount=0.9)
    high_level = HighLevelPlannerConfig(
        num_samples=512, horizon=2, iterations=10, num_elites=32, temperature=0.01, subgoal_weight=1.0,
        low_level_goal_weight=low_level_goal_weight, subgoal=subgoal, landmarks=0 if subgoal == "plan" else 8,
    )
    config = PlannerConfig(
        name="hierarchical",
        num_samples=512,
        horizon=K,
        iterations=10,
        num_elites=32,
        temperature=0.01,
        min_std=0.01,
        max_std=1.0,
        policy_fraction=0.0,
        high_level=high_level,
    )
    planner = HierarchicalPlanner(config, tiny_spec())
    planner.landmarks = landmarks
    policy = SquashedGaussianPolicy(PolicyConfig(hidden_dims=(8,)), tiny_spec(), latent_dim=2)
    return planner.plan(torch.zeros(goal.shape[0], 2), world_model, cost, policy, previous_plan, deterministic=True)


def test_finds_goal_optimum():
    # Past the start latent's own distance, the goal cost is 0 only on the path that reaches the
    # goal with the first action and stays there. So the first action is GOAL / STEP_SCALE and
    # the subgoal is the goal.
    result = plan_to_goal()

    torch.testing.assert_close(result.subgoal, GOAL, atol=0.01, rtol=0)
    torch.testing.assert_close(result.action, GOAL / STEP_SCALE, atol=0.02, rtol=0)
    assert torch.all(result.cost_terms["high_level/goal"] < 1e-3)
    # The start latent's own distance to the goal is the only cost left at the optimum.
    unavoidable = GOAL.square().mean(dim=-1)
    torch.testing.assert_close(result.cost_terms["total"], unavoidable, atol=1e-3, rtol=0)


def test_low_level_steers_to_subgoal():
    # With the goal left to the high level, the low level's only guide is the subgoal, which
    # still lies at the goal. So its k actions must lead there, in any order.
    result = plan_to_goal(low_level_goal_weight=0.0)

    torch.testing.assert_close(result.subgoal, GOAL, atol=0.01, rtol=0)
    torch.testing.assert_close(STEP_SCALE * result.plan[:, :K].sum(dim=1), GOAL, atol=0.02, rtol=0)
    assert torch.all(result.cost_terms["goal_latent_distance"] == 0)
    assert torch.all(result.cost_terms["subgoal"] < 1e-3)


def test_subgoal_cost_learned_and_goal_scaled():
    torch.manual_seed(0)
    world_model = point_mass_model()
    goal_term = GoalTemporalDistance(tiny_spec(), latent_dims=(2, 2), hidden_dims=(8,))
    goal_term.set_goal([GOAL, GOAL])
    cost = CostModule(world_model, ZeroCritic(), intrinsic={"reach": (2.0, goal_term)}, task_weight=1.0, discount=0.9)
    high_level = HighLevelPlannerConfig(subgoal_weight=3.0, low_level_goal_weight=0.5)
    planner = HierarchicalPlanner(PlannerConfig(name="hierarchical", horizon=K, high_level=high_level), tiny_spec())
    policy = SquashedGaussianPolicy(PolicyConfig(hidden_dims=(8,)), tiny_spec(), latent_dim=2)
    low = planner.low_level
    subgoal = torch.tensor([[0.1, 0.2], [-0.3, 0.0]])
    low._subgoal, low._level = subgoal, world_model.level(1)
    num_samples, batch = 5, 2
    latents = torch.randn(K + 1, num_samples * batch, 2)
    actions = torch.rand(K, num_samples * batch, 2) * 2 - 1

    _, plain_score = MPPIPlanner._step_functions(low, world_model, cost, policy)
    _, score = low._step_functions(world_model, cost, policy)
    with torch.no_grad():
        plain, scored = plain_score(latents, actions), score(latents, actions)
        expected_subgoal = 3.0 * goal_term.heads[1](latents[-1], subgoal.repeat(num_samples, 1))

    torch.testing.assert_close(scored.terms["subgoal"], expected_subgoal)
    torch.testing.assert_close(scored.terms["reach"], 0.5 * plain.terms["reach"])
    torch.testing.assert_close(scored.total, plain.total - 0.5 * plain.terms["reach"] + expected_subgoal)


def test_landmarks_lead_subgoal_around_wall():
    # The goal lies 2 m straight up, behind the wall of a U corridor (u_corridor). Without the
    # graph the subgoal heads up. With it the subgoal heads along the bottom corridor toward
    # the waypoint, and the high-level goal cost measures the distance to the waypoint.
    goal = torch.tensor([[0.0, 2.0]])
    graph = LandmarkGraph(u_corridor(), euclidean, num_neighbors=4)

    direct = plan_to_goal(low_level_goal_weight=0.0, goal=goal)
    around = plan_to_goal(low_level_goal_weight=0.0, goal=goal, landmarks=graph)

    assert direct.subgoal[0, 1].item() > 0.5
    assert abs(around.subgoal[0, 1].item()) < 0.05
    assert around.subgoal[0, 0].item() > 0.2
    assert around.cost_terms["high_level/path_length"].item() == pytest.approx(8.0, abs=0.2)
    assert "high_level/path_length" not in direct.cost_terms


def test_waypoint_subgoal_is_graph_waypoint():
    # The waypoint itself is the subgoal: 4 hops along the bottom corridor of the U, toward the
    # goal behind its wall. The low level's k actions lead there, and no level-1 plan is made.
    goal = torch.tensor([[0.0, 2.0]])
    graph = LandmarkGraph(u_corridor(), euclidean, num_neighbors=4)
    expected, _ = graph.waypoints(torch.zeros(1, 2), goal, hops=4)

    result = plan_to_goal(low_level_goal_weight=0.0, goal=goal, landmarks=graph, subgoal="waypoint")

    assert expected[0, 1].item() == 0.0
    assert expected[0, 0].item() > 0.2
    torch.testing.assert_close(result.subgoal, expected)
    assert result.plan.shape == (1, K, 2)
    torch.testing.assert_close(STEP_SCALE * result.plan.sum(dim=1), expected, atol=0.02, rtol=0)
    assert result.cost_terms["high_level/path_length"].item() == pytest.approx(8.0, abs=0.2)
    assert "high_level/total" not in result.cost_terms


def test_waypoint_subgoal_before_graph_is_goal():
    result = plan_to_goal(low_level_goal_weight=0.0, subgoal="waypoint")

    torch.testing.assert_close(result.subgoal, GOAL)
    assert result.plan.shape == (2, K, 2)
    torch.testing.assert_close(STEP_SCALE * result.plan.sum(dim=1), GOAL, atol=0.02, rtol=0)
    assert "high_level/path_length" not in result.cost_terms


def test_waypoint_subgoal_warm_starts(monkeypatch):
    means = []
    original = MPPIPlanner._initial_mean

    def recording(self, previous_plan, batch, low, high):
        means.append(original(self, previous_plan, batch, low, high))
        return means[-1]

    monkeypatch.setattr(MPPIPlanner, "_initial_mean", recording)
    previous = torch.linspace(-0.5, 0.5, 2 * K * 2).view(2, K, 2)

    plan_to_goal(subgoal="waypoint", previous_plan=previous)

    # Shifted by one step, with the last action repeated.
    expected = torch.cat([previous[:, 1:], previous[:, -1:]], dim=1).transpose(0, 1)
    torch.testing.assert_close(means[0], expected)


def filled_replay(steps: int = 20) -> TrajectoryReplay:
    replay = TrajectoryReplay(capacity=50, obs_dim=SPEC.obs_dim, action_dim=SPEC.action_dim, device=torch.device("cpu"))
    for _ in range(steps):
        obs = 10 * torch.randn(1, SPEC.obs_dim)
        replay.add(obs, torch.zeros(1, SPEC.action_dim), torch.zeros(1), obs, torch.zeros(1), torch.zeros(1))
    return replay


def test_prepare_without_goal_warns(caplog):
    # The tiny config has no goal, so a graph would never be used. None is built, and one warning gives the reason.
    modules = build("actor.planner.high_level.landmarks=6", "actor.planner.high_level.landmark_neighbors=2")
    planner = modules.actor.planner

    with caplog.at_level(logging.WARNING, logger="ami.actor.hierarchical"):
        planner.prepare(modules.world_model, modules.cost, filled_replay(), modules.configurator.goal_setter)
        planner.prepare(modules.world_model, modules.cost, filled_replay(), modules.configurator.goal_setter)

    assert planner.landmarks is None
    assert len(caplog.records) == 1
    assert "has no effect: the run has no goal" in caplog.records[0].getMessage()


def test_prepare_without_landmarks_builds_nothing():
    modules = build()
    planner = modules.actor.planner

    planner.prepare(modules.world_model, modules.cost, modules.replay)

    assert planner.landmarks is None


def plan_with_options(modules: Modules, **options):
    planner = HierarchicalPlanner(modules.actor.planner.config, SPEC, **options)
    torch.manual_seed(1)
    latent = spread_latents(modules, 3)
    return planner.plan(latent, modules.world_model, modules.cost, modules.actor.policy, deterministic=True)


def test_bf16_plan_in_bounds():
    result = plan_with_options(build(), precision="bf16")

    assert result.cost_terms["total"].dtype == torch.float32
    assert result.cost_terms["high_level/total"].dtype == torch.float32
    assert bool(torch.isfinite(result.action).all())
    assert count_outside(result.action) == 0
    assert result.subgoal.dtype == torch.float32


def test_compile_failure_falls_back(monkeypatch, caplog):
    modules = build()
    expected = plan_with_options(modules).action

    def failing_compile(*args, **kwargs):
        raise RuntimeError("compiler unavailable")

    monkeypatch.setattr(torch, "compile", failing_compile)
    with caplog.at_level(logging.WARNING, logger="ami.actor.acceleration"):
        action = plan_with_options(modules, compile=True).action

    torch.testing.assert_close(action, expected)
    assert "compiler unavailable" in caplog.text
