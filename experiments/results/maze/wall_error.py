"""One-step prediction error of a saved maze run's level-0 world model, by the ball's distance to the nearest wall.

For up to 20,000 stored transitions it measures the mean squared error between the predicted
next latent and the target encoder's latent of the next observation. It prints the mean and
median error of the transitions whose start lies in each band of wall distance. The ball's radius is 0.1 m, so the first band holds the steps that touch a wall.

Usage: python experiments/results/maze/wall_error.py RUN_DIR
"""

import argparse
import json
import sys
from pathlib import Path

import torch

from ami.training.checkpoint import CHECKPOINT_NAME
from ami.training.maze_evaluation import maze_layout
from ami.training.planned_path import POSITION_INDICES
from experiments.cli import load_replay, load_run

TRANSITIONS = 20_000
BANDS = ((0.0, 0.12), (0.12, 0.15), (0.15, 0.2), (0.2, 0.3), (0.3, 0.5), (0.5, 10.0))
"""Bands of wall distance in metres, each from its first value up to its second."""


@torch.no_grad()
def main() -> None:
    run_dir = sys.argv[1]
    trainer, metadata = load_run(argparse.Namespace(run_dir=run_dir, device=None))
    load_replay(trainer, Path(run_dir) / CHECKPOINT_NAME)
    world_model, replay = trainer.agent.modules.world_model, trainer.agent.modules.replay
    layout = maze_layout(trainer.eval_env)

    rows = replay.stored_rows()[:TRANSITIONS].to(replay.obs.device)
    predicted = world_model.predict(world_model.encode(replay.obs[rows]), replay.actions[rows])
    errors = (predicted - world_model.encode_target(replay.next_obs[rows])).square().mean(dim=-1).cpu()
    positions = replay.obs[rows][:, list(POSITION_INDICES)].tolist()
    wall_distances = torch.tensor([layout.wall_distance(x, y) for x, y in positions])

    record = {"run_dir": run_dir, "step": metadata["step"], "transitions": len(rows), "bands": []}
    for low, high in BANDS:
        band = errors[(wall_distances >= low) & (wall_distances < high)]
        record["bands"].append({
            "wall_distance_m": [low, high],
            "transitions": len(band),
            "mean_error": float(band.mean()) if len(band) else None,
            "median_error": float(band.median()) if len(band) else None,
        })
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
