"""World-model probe of a saved maze run at one state: the learned distance to a target after each constant action.

The ball rests at ``(x, y)`` with the goal of pair 0 of the held-out pairs in its observation. Each
of five constant actions is rolled out for ``k`` env steps in the level-0 model, and the first
goal term's level-1 distance from the predicted latent to the latent of the ball resting at the
target ``(tx, ty)`` is printed. Beside it is the same distance for the ball resting 0.3 m from
``(x, y)`` in the action's direction, where the action would take it if no wall were in the way.

Usage: python experiments/results/maze/wall_probe.py RUN_DIR X Y TX TY
"""

import argparse
import json
import sys

import torch

from ami.cost.goal import goal_pair_distance
from ami.training.maze_evaluation import HELD_OUT_SEED, maze_layout
from envs.maze_eval import held_out_pairs
from experiments.cli import load_run

ACTIONS = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, 1.0), "down": (0.0, -1.0), "up-right": (1.0, 1.0)}
STEP = 0.3
"""Metres that each reference position lies from ``(x, y)`` in the action's direction."""


@torch.no_grad()
def main() -> None:
    run_dir = sys.argv[1]
    x, y, target_x, target_y = map(float, sys.argv[2:6])
    trainer, metadata = load_run(argparse.Namespace(run_dir=run_dir, device=None))
    modules = trainer.agent.modules
    world_model = modules.world_model
    level = world_model.level(1)
    distance = goal_pair_distance(modules.cost)
    goal = held_out_pairs(maze_layout(trainer.eval_env), 1, HELD_OUT_SEED)[0].goal

    def latent_at(px: float, py: float) -> torch.Tensor:
        return world_model.encode(torch.tensor([[px, py, 0.0, 0.0, *goal]]))

    target = level.abstract(latent_at(target_x, target_y))
    record = {"step": metadata["step"], "state": [x, y], "target": [target_x, target_y], "at_rest": float(distance(level.abstract(latent_at(x, y)), target, 1))}
    for name, action in ACTIONS.items():
        latent = latent_at(x, y)
        for _ in range(level.span):
            latent = world_model.predict(latent, torch.tensor([action]))
        norm = (action[0] ** 2 + action[1] ** 2) ** 0.5
        reference = latent_at(x + STEP * action[0] / norm, y + STEP * action[1] / norm)
        record[name] = {
            "predicted": round(float(distance(level.abstract(latent), target, 1)), 2),
            "resting_0.3_m_that_way": round(float(distance(level.abstract(reference), target, 1)), 2),
        }
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
