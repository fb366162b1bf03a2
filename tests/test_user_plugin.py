"""A planner registered in test code is usable from a config, without editing the library."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from agents.ami_agent import AMIAgent
from ami.config import load_config
from ami.spec import TaskSpec
from envs import make_env

PLUGIN_CONFIG = Path(__file__).resolve().parent / "plugins" / "user_planner.toml"


def build_agent() -> tuple[AMIAgent, np.ndarray]:
    config = load_config(PLUGIN_CONFIG)
    env = make_env(config.env)
    spec = TaskSpec.from_env(env, config.env.task)
    obs, _ = env.reset(seed=0)
    env.close()
    torch.manual_seed(0)
    return AMIAgent(config, spec, torch.device("cpu")), obs


def test_plugin_planner_built_from_config():
    agent, _ = build_agent()

    planner = agent.modules.actor.planner

    assert type(planner).__name__ == "RandomShootingPlanner"
    assert type(planner).__module__ == "tests.plugins.user_planner"
    assert planner.num_sequences == 8


def test_plugin_planner_acts():
    agent, obs = build_agent()

    action = agent.act(obs, mode="deliberative")

    assert agent.modules.actor.planner.calls == 1
    assert action.shape == (1,)
    assert -1.0 <= float(action[0]) <= 1.0
    assert set(agent.last_cost_terms) == {"task", "action_energy", "critic"}

