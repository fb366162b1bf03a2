"""The agent prepares its planner before planning: the landmark graph is built from the replay and kept until it is stale."""

from __future__ import annotations

import copy
import logging

import numpy as np
import torch

from agents.ami_agent import AMIAgent
from ami.training.maze_evaluation import planner_swapped
from tests.configurator.test_goal import GOAL_SETTINGS, HIERARCHICAL_SETTINGS, OBS, SPEC
from tests.tiny import tiny_config

LANDMARKS = ("actor.planner.high_level.landmarks=5", "actor.planner.high_level.landmark_neighbors=2")


def agent_with_replay(*overrides: str, steps: int = 12) -> AMIAgent:
    torch.manual_seed(0)
    config = tiny_config(*GOAL_SETTINGS, *HIERARCHICAL_SETTINGS, *LANDMARKS, *overrides, "device=cpu")
    agent = AMIAgent(config, SPEC, torch.device("cpu"))
    rng = np.random.default_rng(0)
    for _ in range(steps):
        obs = rng.normal(size=SPEC.obs_dim).astype(np.float32)
        agent.observe(obs, np.zeros(SPEC.action_dim), 0.0, obs, False, False)
    return agent


def test_deliberate_act_builds_landmarks():
    agent = agent_with_replay()
    planner = agent.modules.actor.planner

    agent.act(OBS[0].numpy(), mode="deliberative")

    assert len(planner.landmarks) == 5
    assert "high_level/path_length" in agent.last_cost_terms


def test_reactive_act_builds_nothing():
    agent = agent_with_replay()

    agent.act(OBS[0].numpy(), mode="reactive")

    assert agent.modules.actor.planner.landmarks is None


def test_landmarks_kept_between_acts():
    agent = agent_with_replay()
    planner = agent.modules.actor.planner
    agent.act(OBS[0].numpy(), mode="deliberative")
    first = planner.landmarks

    agent.update()
    agent.act(OBS[1].numpy(), mode="deliberative")

    assert planner.landmarks is first


def test_landmarks_rebuilt_after_load():
    agent = agent_with_replay()
    planner = agent.modules.actor.planner
    agent.act(OBS[0].numpy(), mode="deliberative")
    first = planner.landmarks

    agent.load_state_dict(agent.state_dict())
    agent.act(OBS[1].numpy(), mode="deliberative")

    assert planner.landmarks is not first


def test_swapped_planner_is_prepared():
    agent = agent_with_replay()
    agent.act(OBS[0].numpy(), mode="deliberative")
    other = copy.deepcopy(agent.modules.actor.planner)
    other.landmarks = None

    with planner_swapped(agent, other):
        agent.act(OBS[1].numpy(), mode="deliberative")

    assert len(other.landmarks) == 5


def test_landmarks_are_places():
    agent = agent_with_replay()
    replay = agent.modules.replay
    stored = replay.obs[replay.stored_rows()]

    agent.act(OBS[0].numpy(), mode="deliberative")

    graph = agent.modules.actor.planner.landmarks
    torch.testing.assert_close(graph.goal_fill, stored[:, 4:6].mean(dim=0))
    torch.testing.assert_close(graph.observations[:, 4:6], graph.goal_fill.expand(5, 2))
    assert torch.equal(graph.observations[:, 2:4], torch.zeros(5, 2))
    positions = {tuple(row) for row in stored[:, :2].tolist()}
    assert all(tuple(row) in positions for row in graph.observations[:, :2].tolist())


def test_waypoint_gets_episode_goal_back():
    agent = agent_with_replay("actor.planner.high_level.waypoint_hops=1")
    modules = agent.modules
    planner, world_model, goal_setter = modules.actor.planner, modules.world_model, modules.configurator.goal_setter
    agent.act(OBS[1].numpy(), mode="deliberative")
    obs = OBS[1:]  # far from its goal, so that the path has a first landmark
    level = world_model.level(1)

    with torch.no_grad():
        planner.condition(obs, world_model, goal_setter)
        query = planner._query
        node, at_goal, _ = planner.landmarks.waypoint_nodes(query.start, query.goal, planner.high.waypoint_hops)
        planner.condition(obs, world_model, goal_setter)
        waypoint, _, _ = planner._waypoint(world_model.encode(obs), world_model, modules.cost, level)
        landmark_obs = planner.landmarks.observations[node].clone()
        landmark_obs[:, 4:6] = obs[:, 4:6]
        expected = level.abstract(world_model.encode(landmark_obs))

    # One hop: the waypoint is the first landmark of the path, unless start and goal share it.
    assert not at_goal.item()
    torch.testing.assert_close(waypoint, expected)
    assert planner._query is None


def test_empty_replay_warns_and_plans(caplog):
    agent = agent_with_replay(steps=0)

    with caplog.at_level(logging.WARNING, logger="ami.actor.hierarchical"):
        action = agent.act(OBS[0].numpy(), mode="deliberative")

    assert agent.modules.actor.planner.landmarks is None
    assert action.shape == (SPEC.action_dim,)
    assert "too few for a landmark graph" in caplog.text


def test_waypoint_is_goal_reported():
    agent = agent_with_replay()

    agent.act(OBS[0].numpy(), mode="deliberative")

    share = agent.last_cost_terms["high_level/waypoint_is_goal"]
    assert share.shape == (1,)
    assert share.item() in (0.0, 1.0)
