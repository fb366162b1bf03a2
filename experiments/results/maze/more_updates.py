"""Continue the updates of a saved maze run on its replay, without env steps, into a copy of its folder.

The large-maze config makes all its updates once, after its random steps. This script adds
more of them to see what longer training buys, and writes the result as a new run folder that
``ami maze-eval`` reads like any other.

Usage: python experiments/results/maze/more_updates.py RUN_DIR UPDATES OUT_DIR
"""

import argparse
import shutil
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from ami.training.checkpoint import CHECKPOINT_NAME, load_checkpoint
from ami.training.logger import MetricLogger
from experiments.cli import load_run


def main() -> None:
    run_dir, updates, out_dir = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    if out_dir.exists():
        raise SystemExit(f"more_updates.py: error: {out_dir} exists; choose a new folder")
    trainer, _ = load_run(argparse.Namespace(run_dir=str(run_dir), device=None))
    trainer.load_state_dict(load_checkpoint(run_dir / CHECKPOINT_NAME)["state"])

    start = time.perf_counter()
    for _ in tqdm(range(updates), desc="updates", mininterval=10):
        trainer.agent.update()
    seconds = time.perf_counter() - start

    shutil.copytree(run_dir, out_dir, ignore=shutil.ignore_patterns("events.out.tfevents.*", "maze_eval*"))
    trainer.run_dir = out_dir
    trainer.metrics = MetricLogger(out_dir)
    # The checkpoint records the wall time of the session, which began with the updates here.
    trainer._session_start = time.perf_counter() - seconds
    trainer.save_checkpoint()
    trainer.metrics.close()
    print(f"{updates} more updates in {seconds:.0f} s ({seconds / updates * 1000:.0f} ms per update, {torch.get_num_threads()} threads); saved {out_dir}")


if __name__ == "__main__":
    main()
