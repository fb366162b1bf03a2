"""Landmark graph diagnostics of a saved maze run: do shortest graph paths follow the corridors?

Rebuilds the run from its checkpoint and builds the hierarchical planner's landmark graph from
its replay twice. The first graph uses places (goal entries set to their mean, velocities 0), as
the planner does. The second uses the observations as stored, whose goal entries and velocities
differ between steps. For each graph the script prints three figures. The first is the share of
edges whose ends lie in cells more than one move apart (through a wall or across a corner). The
second is the share of landmark pairs that a path links. The third is the mean rank
correlation of graph path lengths with the maze's path distance, over every free cell as the
goal.

Usage: python experiments/results/maze/landmark_diagnostics.py RUN_DIR [LANDMARKS] [NEIGHBORS]
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from ami.actor.landmarks import LandmarkGraph, landmarks_from_replay
from ami.cost.goal import goal_pair_distance
from ami.training.checkpoint import CHECKPOINT_NAME
from ami.training.goal_landscape import graph_rank_correlation
from ami.training.maze_evaluation import maze_layout
from ami.training.planned_path import POSITION_INDICES
from envs.maze_layouts import MazeLayout
from experiments.cli import load_replay, load_run


def edge_cell_moves(graph: LandmarkGraph, layout: MazeLayout) -> list[int]:
    """Return the maze path distance in moves between the cells of the two ends of every edge."""
    positions = graph.observations[:, list(POSITION_INDICES)]
    cells = [layout.cell_at(float(x), float(y)) for x, y in positions.tolist()]
    sources, targets = torch.nonzero(torch.isfinite(graph.edge_weights) & (graph.edge_weights > 0), as_tuple=True)
    moves = []
    lengths_by_cell: dict = {}
    for source, target in zip(sources.tolist(), targets.tolist()):
        start = cells[source]
        if start not in lengths_by_cell:
            lengths_by_cell[start] = layout.path_lengths_from(start)
        moves.append(lengths_by_cell[start].get(cells[target], -1))
    return moves


def main() -> None:
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    neighbors = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    trainer, metadata = load_run(argparse.Namespace(run_dir=sys.argv[1], device=None))
    load_replay(trainer, Path(sys.argv[1]) / CHECKPOINT_NAME)
    modules = trainer.agent.modules
    layout = maze_layout(trainer.eval_env)
    goal_setter = modules.configurator.goal_setter
    learned = goal_pair_distance(modules.cost)

    record = {"step": metadata["step"], "landmarks": count, "neighbors": neighbors}
    for name, setter in (("places", goal_setter), ("as_stored", None)):
        start = time.perf_counter()
        graph = landmarks_from_replay(
            modules.world_model, modules.replay, lambda latent, goal: learned(latent, goal, 1), count, neighbors, setter
        )
        seconds = time.perf_counter() - start
        moves = edge_cell_moves(graph, layout)
        record[name] = {
            "build_seconds": round(seconds, 1),
            "edges": len(moves),
            "share_beyond_one_move": sum(move > 1 for move in moves) / len(moves),
            "share_of_pairs_linked": float(torch.isfinite(graph.path_lengths).float().mean()),
            "path_length_rank_correlation": graph_rank_correlation(
                graph, modules.world_model, goal_setter, trainer.spec.obs_dim, layout, trainer.device
            ),
        }
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
