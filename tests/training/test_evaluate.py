"""Evaluation episodes on a real InvertedPendulum-v5 env."""

from __future__ import annotations

import numpy as np
import torch

from agents.ami_agent import AMIAgent
from ami.spec import TaskSpec
from ami.training.evaluate import evaluate
from envs.make import make_env
from tests.tiny import tiny_config


def build_agent() -> tuple[AMIAgent, object]:
    config = tiny_config("env.task='InvertedPendulum-v5'", "env.max_episode_steps=20")
    env = make_env(config.env)
    agent = AMIAgent(config, TaskSpec.from_env(env, config.env.task), torch.device("cpu"))
    return agent, env


def test_evaluate_keeps_training_memory() -> None:
    agent, env = build_agent()
    obs, _ = env.reset(seed=0)
    agent.act(obs, mode="deliberative")
    training_plan = agent.modules.memory.previous_plan
    training_context = len(agent.modules.memory.latents)

    evaluate(agent, env, "deliberative", episodes=1, seed=123)

    assert agent.modules.memory.previous_plan is training_plan
    assert len(agent.modules.memory.latents) == training_context


def test_evaluate_same_seed_same_returns() -> None:
    agent, env = build_agent()
    torch.manual_seed(0)
    first = evaluate(agent, env, "reactive", episodes=2, seed=7)
    torch.manual_seed(0)
    second = evaluate(agent, env, "reactive", episodes=2, seed=7)

    assert first.returns == second.returns
    assert first.lengths == second.lengths
    assert len(first.returns) == 2
    assert np.all(np.array(first.lengths) <= 20)
    assert first.ms_per_action > 0
