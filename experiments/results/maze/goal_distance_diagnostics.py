"""Collapse diagnostics and goal-cost rank correlations of a saved maze run with a ``goal_temporal_distance`` term.

Rebuilds the run from its checkpoint and prints a JSON record. The mean rank correlation of the
goal cost with the path distance comes first, for the learned distance and for the squared
latent distance. Then the empty replay gets 6,000 env steps of uniform random actions. On them
the record adds the world model's loss metrics for one batch of 512 sub-trajectories, without
a gradient step: the effective rank and embedding std of every level, among others. It also
adds the goal-distance loss metrics for one batch of windows.

Usage: python experiments/results/maze/goal_distance_diagnostics.py RUN_DIR
"""

import argparse
import json
import sys

import numpy as np
import torch

from ami.configurator.goal import latents_by_level
from ami.training.goal_landscape import mean_rank_correlations
from ami.training.maze_evaluation import maze_layout
from experiments.cli import load_run

RANDOM_STEPS = 6_000
SEED = 123


def fill_replay(trainer, steps: int, generator: np.random.Generator) -> None:
    """Store ``steps`` env steps of uniform random actions in the agent's replay."""
    env, agent = trainer.eval_env, trainer.agent
    obs, _ = env.reset(seed=SEED)
    for _ in range(steps):
        action = generator.uniform(-1, 1, size=2).astype(np.float32)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        agent.observe(obs, action, reward, next_obs, terminated, truncated, None)
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()


@torch.no_grad()
def loss_metrics(trainer) -> dict[str, dict[str, float]]:
    """Return the world model's collapse and loss metrics and the goal distance's loss metrics on one replay batch each."""
    agent = trainer.agent
    replay, world_model = agent.modules.replay, agent.modules.world_model
    batch = replay.sample(512, world_model.required_sequence_length)
    reported_metrics = ("effective_rank", "embedding_std", "latent_loss", "variance", "covariance")
    world_metrics = {
        tag: float(value) for tag, value in world_model.loss(batch).metrics.items() if any(name in tag for name in reported_metrics) and "step_" not in tag
    }

    (term,) = agent.learner.goal_distance_terms
    window = replay.sample(64, term.window)
    latents = latents_by_level(world_model, torch.cat([window.obs[None], window.next_obs]))
    _, goal_metrics = term.loss(latents, window.mask)
    return {"world_model": world_metrics, "goal_distance": {tag: float(value) for tag, value in goal_metrics.items()}}


def rank_correlations(trainer) -> dict[str, dict[int, float | None]]:
    """Return the mean rank correlation of each level's learned and squared latent goal distance with the path distance."""
    modules = trainer.agent.modules
    arguments = (modules.world_model, modules.configurator.goal_setter, trainer.spec.obs_dim, maze_layout(trainer.eval_env), trainer.device)
    return {
        "goal_temporal_distance": mean_rank_correlations(*arguments, modules.cost),
        "squared_latent_distance": mean_rank_correlations(*arguments),
    }


def main() -> None:
    trainer, metadata = load_run(argparse.Namespace(run_dir=sys.argv[1], device=None))
    # The rank correlations come first, because observing the random steps updates the
    # observation normalizer of the encoder.
    correlations = rank_correlations(trainer)
    torch.manual_seed(SEED)
    fill_replay(trainer, RANDOM_STEPS, np.random.default_rng(SEED))
    record = {"step": metadata["step"], **loss_metrics(trainer), "goal_cost_rank_correlation": correlations}
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
