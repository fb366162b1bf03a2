"""Trace one held-out episode of a saved maze run with the hierarchical planner and its landmark graph.

Every 20 steps it prints the ball's position and velocity, the position of the waypoint
landmark (or ``goal`` once the path ends there), the graph's path length and the action.

Usage: python experiments/results/maze/trace_episode.py RUN_DIR PAIR STEPS [KEY=VALUE ...]
The ``KEY=VALUE`` overrides are those of ``ami maze-eval --planner-set``, e.g.
``high_level.landmarks=2000``.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from ami.actor.landmarks import place_latents
from ami.training.checkpoint import CHECKPOINT_NAME
from ami.training.maze_evaluation import HELD_OUT_SEED, build_planner, maze_layout, planner_swapped
from envs.maze_eval import held_out_pairs
from experiments.cli import load_replay, load_run
from experiments.maze_eval import hierarchical_planner_config

PRINT_EVERY = 20
EPISODE_SEED = 5


def waypoint_position(planner, agent, obs: np.ndarray) -> tuple[str, float]:
    """Return the waypoint's ball position (or ``goal``) and the path length for one observation."""
    modules = agent.modules
    graph, goal_setter = planner.landmarks, modules.configurator.goal_setter
    obs_tensor = torch.as_tensor(obs[None], dtype=torch.float32)
    with torch.no_grad():
        start = place_latents(modules.world_model, goal_setter, obs_tensor, graph.goal_fill)
        goal = place_latents(modules.world_model, goal_setter, goal_setter.goal_observation(obs_tensor), graph.goal_fill)
        node, at_goal, length = graph.waypoint_nodes(start, goal, planner.high.waypoint_hops)
    label = "goal" if bool(at_goal[0]) else str(np.round(graph.observations[node][0, :2].numpy(), 2))
    return label, float(length[0])


def main() -> None:
    run_dir, pair_index, steps, overrides = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
    trainer, _ = load_run(argparse.Namespace(run_dir=run_dir, device=None))
    load_replay(trainer, Path(run_dir) / CHECKPOINT_NAME)
    agent, env = trainer.agent, trainer.eval_env
    planner = build_planner(hierarchical_planner_config(trainer.config, overrides), trainer.spec)
    pair = held_out_pairs(maze_layout(env), pair_index + 1, HELD_OUT_SEED)[pair_index]
    obs, _ = env.reset(seed=EPISODE_SEED, options=pair.reset_options())
    print(f"start {pair.start}, goal {pair.goal}, path {pair.path_cells} cells")

    with planner_swapped(agent, planner), agent.separate_memory():
        agent.reset()
        for step in range(steps):
            action = agent.act_batch(obs[None], deterministic=True, mode="deliberative")[0]
            if step % PRINT_EVERY == 0:
                waypoint, length = waypoint_position(planner, agent, obs) if planner.landmarks is not None else ("-", float("nan"))
                print(f"{step:4d} pos {np.round(obs[:2], 2)} vel {np.round(obs[2:4], 2)} waypoint {waypoint} path {length:.1f} action {np.round(action, 2)}")
            obs, _, _, _, info = env.step(action)
            if info.get("success"):
                print(f"success at step {step}")
                break


if __name__ == "__main__":
    main()
