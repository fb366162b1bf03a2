"""The quantity table against real MuJoCo states, its errors, and the training of quantity heads."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from agents.ami_agent import AMIAgent
from ami.cost import QuantityError, QuantityHeads, read_quantity
from ami.cost.quantities import quantity_index
from ami.spec import TaskSpec
from tests.tiny import tiny_config

SPEED_TERM = 'cost.terms={speed={term="target_velocity",target=2.0,weight=0.0}}'

# (task, quantity, function of MuJoCo's data giving the same value); Hopper and Walker2d clip
# qvel to [-10, 10] in the observation, which a few random steps never reach.
TABLE_CASES = [
    ("HalfCheetah-v5", "x_velocity", lambda data: data.qvel[0]),
    ("HalfCheetah-v5", "tip_height", lambda data: data.qpos[1]),
    ("Hopper-v5", "torso_height", lambda data: data.qpos[1]),
    ("Hopper-v5", "torso_angle", lambda data: data.qpos[2]),
    ("Hopper-v5", "foot_angle", lambda data: data.qpos[5]),
    ("Hopper-v5", "x_velocity", lambda data: data.qvel[0]),
    ("Walker2d-v5", "torso_height", lambda data: data.qpos[1]),
    ("Walker2d-v5", "torso_angle", lambda data: data.qpos[2]),
    ("Walker2d-v5", "x_velocity", lambda data: data.qvel[0]),
    ("Ant-v5", "torso_height", lambda data: data.qpos[2]),
    ("Ant-v5", "x_velocity", lambda data: data.qvel[0]),
    ("Ant-v5", "y_velocity", lambda data: data.qvel[1]),
]


@pytest.mark.parametrize(("task", "quantity", "from_data"), TABLE_CASES, ids=[f"{t}-{q}" for t, q, _ in TABLE_CASES])
def test_table_matches_mujoco_state(task, quantity, from_data):
    env = gym.make(task)
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(5):
        obs, *_ = env.step(rng.uniform(env.action_space.low, env.action_space.high))

    value = read_quantity(task, quantity, torch.as_tensor(obs))

    assert float(value) == pytest.approx(float(from_data(env.unwrapped.data)), abs=1e-9)
    env.close()


def test_table_unknown_task_error():
    with pytest.raises(QuantityError, match="task 'Swimmer-v5' has no quantity table.*tasks with a table: Ant-v5, HalfCheetah-v5"):
        quantity_index("Swimmer-v5", "x_velocity")


def test_table_unknown_quantity_error():
    with pytest.raises(QuantityError, match="task 'HalfCheetah-v5' has no quantity 'torso_angle'.*valid quantities: tip_angle, tip_height, x_velocity"):
        quantity_index("HalfCheetah-v5", "torso_angle")


def test_table_short_observation_error():
    with pytest.raises(QuantityError, match="observations of 'HalfCheetah-v5' have 5 entries, but 'x_velocity' is entry 8"):
        read_quantity("HalfCheetah-v5", "x_velocity", torch.zeros(5))


def test_heads_reject_unknown_quantity():
    with pytest.raises(QuantityError, match="no quantity 'height'"):
        QuantityHeads("Hopper-v5", ["height"], latent_dim=4, hidden_dims=(8,))


@pytest.fixture(scope="module")
def cheetah_agent() -> AMIAgent:
    """A tiny agent with a speed term, and 300 random HalfCheetah-v5 steps in its replay buffer."""
    torch.manual_seed(0)
    env = gym.make("HalfCheetah-v5")
    # The debug config's sizes and a higher learning rate: the heads can only read what the
    # latent encodes, and 8 latent dimensions hold the x velocity poorly this early.
    config = tiny_config(
        SPEED_TERM, "memory.capacity=400", "memory.batch_size=64", "perception.latent_dim=16",
        "perception.hidden_dims=[32]", "world_model.hidden_dims=[32]", "train.learning_rate=0.001",
    )
    agent = AMIAgent(config, TaskSpec.from_env(env, "HalfCheetah-v5"), torch.device("cpu"))
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(300):
        action = rng.uniform(env.action_space.low, env.action_space.high)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        agent.observe(obs, action, reward, next_obs, terminated, truncated)
        obs = next_obs
    env.close()
    return agent


def test_learner_training_reduces_head_error(cheetah_agent):
    errors = [float(cheetah_agent.update()["quantity/x_velocity/rmse"]) for _ in range(400)]

    first, last = np.mean(errors[:10]), np.mean(errors[-10:])
    assert last < 0.7 * first, (first, last)


def test_heads_saved_with_agent_state(cheetah_agent):
    state = cheetah_agent.state_dict()

    assert any(key.startswith("quantity_heads.heads.x_velocity.") for key in state["cost"])
    assert "quantity_optimizer" in state["learner"]
    assert cheetah_agent.learner.skipped_steps["quantity"] == 0
