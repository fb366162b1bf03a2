"""One-step prediction error of a saved maze run's level-0 world model, by the ball's distance to the nearest wall.

For up to 20,000 stored transitions it measures the mean squared error between the predicted
next latent and the target encoder's latent of the next observation. It prints the mean and
median error of the transitions whose start lies in each band of wall distance. The ball's radius is 0.1 m, so the first band contains the steps that touch a wall.

Usage: python experiments/results/maze/wall_error.py RUN_DIR
"""

import argparse
import json
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
    parser = argparse.ArgumentParser(description="One-step prediction error of a maze run's level-0 world model by wall distance.")
    parser.add_argument("run_dir", help="run folder of a point-maze run with state observations")
    run_dir = parser.parse_args().run_dir
    try:
        trainer, metadata = load_run(argparse.Namespace(run_dir=run_dir, device=None))
    except (ValueError, OSError) as error:
        raise SystemExit(f"wall_error.py: error: {error}") from None
    layout = maze_layout(trainer.eval_env)
    if layout is None or trainer.config.env.pixels:
        parser.error(f"{run_dir} is a {trainer.config.env.task} run (pixels = {trainer.config.env.pixels}); give a point-maze run with state observations")
    load_replay(trainer, Path(run_dir) / CHECKPOINT_NAME)
    world_model, replay = trainer.agent.modules.world_model, trainer.agent.modules.replay

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
