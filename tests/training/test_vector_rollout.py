"""``VectorRollout`` on real InvertedPendulum-v5 copies: autoreset steps are not stored, memory is per env."""

from __future__ import annotations

import numpy as np
import torch

from ami.config import load_config
from ami.training.trainer import Trainer
from tests.tiny import DEBUG_CONFIG

NUM_ENVS = 3
VECTOR_STEPS = 60


def vector_trainer(*settings: str) -> Trainer:
    config = load_config(DEBUG_CONFIG, [f"env.num_envs={NUM_ENVS}", "train.seed_steps=99", "num_threads=1", *settings])
    return Trainer(config, show_progress=False)


def run_random_steps(trainer: Trainer, vector_steps: int) -> int:
    """Step with random actions; return the number of episodes that ended."""
    rollout = trainer.rollout
    rollout.start(seed=0)
    episodes = 0
    for _ in range(vector_steps):
        actions = np.stack([trainer.explorer.act(obs) for obs in rollout.obs])
        episodes += len(rollout.step(actions).episode_returns)
    return episodes


def stream(replay, env: int, field: str) -> torch.Tensor:
    """Stored rows of one env in time order; the stream has not wrapped in these tests."""
    first = env * replay.stream_capacity
    return getattr(replay, field)[first : first + replay.sizes[env]]


def test_autoreset_transition_not_stored():
    trainer = vector_trainer()

    episodes = run_random_steps(trainer, VECTOR_STEPS)

    replay = trainer.agent.modules.replay
    ended_before_last_step = episodes - int(trainer.rollout.autoresetting.sum())
    # Random actions topple the pendulum in a few steps, so there are many autoresets.
    assert episodes > 10
    assert len(replay) == NUM_ENVS * VECTOR_STEPS - ended_before_last_step


def test_stored_steps_chain_within_episode():
    trainer = vector_trainer()
    run_random_steps(trainer, VECTOR_STEPS)
    replay = trainer.agent.modules.replay

    for env in range(NUM_ENVS):
        obs, next_obs = stream(replay, env, "obs"), stream(replay, env, "next_obs")
        ended = (stream(replay, env, "terminated") + stream(replay, env, "truncated")) > 0
        for k in range(len(obs) - 1):
            continues = torch.equal(obs[k + 1], next_obs[k])
            # Inside an episode each step starts where the last one ended. After an end, the
            # next stored step starts a new episode from a reset state, not from the final observation.
            assert continues != bool(ended[k]), (env, k)


def test_autoreset_reward_not_counted():
    trainer = vector_trainer()
    run_random_steps(trainer, VECTOR_STEPS)
    replay = trainer.agent.modules.replay

    # InvertedPendulum-v5 pays 1 for a step that does not terminate, and the autoreset step pays 0
    # without terminating, so a stored autoreset step would break this rule.
    for env in range(NUM_ENVS):
        expected = 1.0 - stream(replay, env, "terminated")
        assert torch.equal(stream(replay, env, "rewards"), expected), env


def test_reset_forgets_only_ended_env_plan():
    trainer = vector_trainer()
    rollout, memory = trainer.rollout, trainer.agent.modules.memory
    rollout.start(seed=0)
    trainer.agent.act_batch(rollout.obs, mode="deliberative")
    plan = memory.previous_plan.clone()

    # Step with an action that topples the pendulum of env 0 only, until its episode ends.
    pushes = np.zeros((NUM_ENVS, 1), dtype=np.float32)
    pushes[0] = 1.0
    while not rollout.autoresetting[0]:
        assert not rollout.autoresetting[1:].any()
        rollout.step(pushes)
    rollout.step(pushes)  # the autoreset step of env 0

    middle = torch.zeros(1)
    assert torch.equal(memory.previous_plan[0], middle.expand_as(plan[0]))
    assert torch.equal(memory.previous_plan[1:], plan[1:])


def test_async_resume_cuts_stored_episodes():
    trainer = vector_trainer("env.vectorization=async")
    run_random_steps(trainer, 10)
    resumed = vector_trainer("env.vectorization=async")
    resumed.agent.load_memory_state_dict(trainer.agent.memory_state_dict())

    resumed.rollout.load_state_dict(trainer.rollout.state_dict(), seed=7)

    replay = resumed.agent.modules.replay
    for env in range(NUM_ENVS):
        assert stream(replay, env, "truncated")[-1].item() == 1.0, env
    assert resumed.rollout.obs.shape == (NUM_ENVS, resumed.spec.obs_dim)
    assert not resumed.rollout.autoresetting.any()
    trainer.env.close()
    resumed.env.close()
