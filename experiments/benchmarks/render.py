"""Frames per second of pixel observations: physics plus offscreen rendering, per task and scene.

Usage::

    python -m experiments.benchmarks.render [--tasks InvertedPendulum-v5,HalfCheetah-v5]
        [--sizes 64] [--steps 500] [--scenes state,plain,full] [--output PATH]

Each cell builds the task's env as ``ami run`` does (``envs.make.make_env``) and times
``--steps`` env steps with uniform random actions, resets included, after 100 warm-up steps.
Every pixel step renders one frame, so steps per second are frames per second. Scenes:

- ``state``: the state-vector env, no rendering; the physics alone, for reference.
- ``plain``: pixels with shadows, reflections and the skybox off, the training default.
- ``full``: pixels with all three on.

The JSON record (hardware, GL backend, load average, every figure) is printed and written to
``--output``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time

import mujoco

from ami.config.schema import EnvConfig
from envs.gl_backend import select_gl_backend
from envs.make import check_task, make_env
from experiments.benchmarks.record import output_path, write_record
from experiments.benchmarks.step_time import RESULTS_DIR, cpu_name, parse_counts

SCENES = {
    "state": {"pixels": False},
    "plain": {"pixels": True, "shadows": False, "reflections": False, "skybox": False},
    "full": {"pixels": True, "shadows": True, "reflections": True, "skybox": True},
}
"""Scene name -> ``EnvConfig`` fields."""
WARMUP_STEPS = 100


def steps_per_second(config: EnvConfig, steps: int, seed: int = 0) -> float:
    """Return the env steps per second of ``config``'s env over ``steps`` random-action steps, resets included."""
    env = make_env(config)
    try:
        env.action_space.seed(seed)
        env.reset(seed=seed)
        for _ in range(WARMUP_STEPS):
            step_random(env)
        start = time.perf_counter()
        for _ in range(steps):
            step_random(env)
        return steps / (time.perf_counter() - start)
    finally:
        env.close()


def step_random(env) -> None:
    _, _, terminated, truncated, _ = env.step(env.action_space.sample())
    if terminated or truncated:
        env.reset()


def parse_tasks(text: str) -> list[str]:
    tasks = [item.strip() for item in text.split(",") if item.strip()]
    if not tasks:
        raise argparse.ArgumentTypeError(f"invalid task list {text!r}: give task ids separated by commas, e.g. HalfCheetah-v5")
    for task in tasks:
        try:
            check_task(task, key=None)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return tasks


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid count {text!r}: expected a positive integer, e.g. 500")
    return value


def parse_scenes(text: str) -> list[str]:
    scenes = [item.strip() for item in text.split(",")]
    unknown = [scene for scene in scenes if scene not in SCENES]
    if unknown:
        raise argparse.ArgumentTypeError(f"invalid scenes {unknown}: expected a comma-separated subset of {', '.join(SCENES)}")
    return scenes


def parse_args(argv: list[str] | None, prog: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tasks", type=parse_tasks, default=parse_tasks("InvertedPendulum-v5,HalfCheetah-v5"),
        help="Gymnasium task ids separated by commas (default InvertedPendulum-v5,HalfCheetah-v5)",
    )
    parser.add_argument("--sizes", type=parse_counts, default=[64], help="image sizes in pixels, e.g. 64,84")
    parser.add_argument("--steps", type=positive_int, default=500, help="timed env steps per cell")
    parser.add_argument("--scenes", type=parse_scenes, default=list(SCENES), help=f"subset of {', '.join(SCENES)}")
    parser.add_argument("--output", type=output_path, default=None, help=f"JSON record path (default: {RESULTS_DIR}/render-<time>.json)")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    """Time every task, size and scene; return the record."""
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    backend = select_gl_backend() if any(SCENES[scene]["pixels"] for scene in args.scenes) else None
    cells = []
    for task in args.tasks:
        for scene in args.scenes:
            sizes = args.sizes if SCENES[scene]["pixels"] else [None]
            for size in sizes:
                fields = dict(SCENES[scene], **({"image_size": size} if size else {}))
                fps = steps_per_second(EnvConfig(task=task, **fields), args.steps)
                cells.append({"task": task, "scene": scene, "image_size": size, "steps_per_s": fps})
                print(f"{task:24s} {scene:6s} {size or '-':>4} {fps:9.1f} steps/s", file=sys.stderr)
    return {
        "benchmark": "render",
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "load_average_before": load_before,
        "platform": platform.platform(),
        "mujoco": mujoco.__version__,
        "gl_backend": backend,
        "steps": args.steps,
        "frame_stack": EnvConfig.frame_stack,
        "cells": cells,
    }


def main(argv: list[str] | None = None, prog: str = "python -m experiments.benchmarks.render") -> int:
    """Run the benchmark with command-line arguments ``argv``; ``prog`` names the command in help and errors."""
    args = parse_args(argv, prog)
    record = run(args)
    # Printed first, so that the figures survive a failed write.
    print(json.dumps(record, indent=2))
    output = args.output or RESULTS_DIR / f"render-{record['time'].replace(':', '')}.json"
    write_record(record, output)
    print(f"record: {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
