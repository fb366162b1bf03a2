"""SAC trained on a task's own reward, measured like a re-tasked AMI run: speed errors and safety violations.

A model-free policy cannot be re-tasked without retraining, so the reference for zero-shot
re-tasking is SAC trained on the normal reward and measured against the new targets as it is.
This script trains Stable-Baselines3 SAC, saves it, and runs deterministic episodes. The same
code as in ``ami eval RUN_DIR --cost ...`` measures them: the mean absolute error of the x
velocity from each target speed, and the violations of the safety limits that a run config
declares, counted on the real observations.

    python -m experiments.sac_reference --task HalfCheetah-v5 --steps 30000 --speed-targets 1,2,3,-1
    python -m experiments.sac_reference --task Hopper-v5 --steps 30000 --safety-config experiments/configs/hopper_safe.toml
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3 import SAC

from agents.sb3_baselines import default_options
from ami.config.loader import load_config
from ami.config.schema import EnvConfig
from ami.config.loader import ConfigError
from ami.cost.build import build_term, parse_term_tables
from ami.cost.quantities import QuantityError, has_quantity
from ami.cost.safety import QuantityRange
from ami.spec import TaskSpec
from ami.training.evaluate import EVAL_SEED_OFFSET
from ami.training.measure import EpisodeMeasures, episode_means
from envs.make import make_env

logger = logging.getLogger(__name__)


def parse_targets(text: str) -> dict[str, float]:
    """Parse target speeds in m/s: ``"1,2,-1"`` -> ``{"speed_1.0": 1.0, "speed_2.0": 2.0, "speed_-1.0": -1.0}``."""
    usage = "give finite m/s values separated by commas, e.g. 1,2,3"
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid speed targets {text!r}; {usage}") from None
    if not all(math.isfinite(value) for value in values):
        raise argparse.ArgumentTypeError(f"invalid speed targets {text!r}; {usage}")
    return {f"speed_{value}": value for value in values}


def safety_terms(config_path: Path | None, spec: TaskSpec) -> dict[str, QuantityRange]:
    """Build the ``quantity_range`` limits of ``cost.safety`` in the run config at ``config_path`` (none without a path)."""
    if config_path is None:
        return {}
    config = load_config(config_path, [])
    if config.env.task != spec.task:
        raise ValueError(f"the safety config {str(config_path)!r} is for task {config.env.task!r}, not {spec.task!r}; pass a config of the same task")
    terms = {}
    for table in parse_term_tables(config.cost):
        if table.key.startswith("cost.safety."):
            term = build_term(table, spec)
            if isinstance(term, QuantityRange):
                terms[table.name] = term
    return terms


def measure_policy(
    model: SAC, env, task: str, episodes: int, seed: int, speed_targets: dict[str, float], safety: dict[str, QuantityRange]
) -> dict[str, Any]:
    """Run deterministic episodes from ``reset(seed=seed + i)`` and measure them as ``ami eval --cost`` does."""
    measured = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        measures = EpisodeMeasures(violations={name: 0 for name in safety})
        done = False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, info = env.step(action)
            measures.record_step(task, float(reward), obs, info, safety)
            done = terminated or truncated
        measured.append(measures)
    return episode_means(measured, speed_targets)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", required=True, help="Gymnasium task id, e.g. HalfCheetah-v5")
    parser.add_argument("--steps", type=int, default=30_000, help="env steps of SAC training (default 30000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=5, help="measured episodes (default 5)")
    parser.add_argument("--speed-targets", type=parse_targets, default={}, help="target x velocities in m/s, e.g. 1,2,3,-1")
    parser.add_argument("--safety-config", type=Path, default=None, help="run config whose cost.safety limits are counted")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads of PyTorch (default 1)")
    parser.add_argument("--output-dir", type=Path, required=True, help="folder for sac.zip and measures.json; must not exist")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if args.steps < 1 or args.episodes < 1 or args.threads < 1 or args.seed < 0:
        parser.error(
            f"--steps, --episodes and --threads must be positive and --seed not negative, got {args.steps}, "
            f"{args.episodes}, {args.threads} and {args.seed}"
        )
    if args.speed_targets and not has_quantity(args.task, "x_velocity"):
        parser.error(f"--speed-targets needs a task with an x velocity; {args.task} has none in ami.cost.quantities.QUANTITY_TABLE")
    try:
        env = make_env(EnvConfig(task=args.task))
        spec = TaskSpec.from_env(env, args.task)
        safety = safety_terms(args.safety_config, spec)
    except (ConfigError, QuantityError, ValueError, OSError) as error:
        parser.error(str(error))

    # The folder is created before training, so that a bad path costs no training time.
    try:
        args.output_dir.mkdir(parents=True)
    except FileExistsError:
        parser.error(f"--output-dir {str(args.output_dir)!r} exists; give a new folder so that no earlier result is overwritten")
    except OSError as error:
        parser.error(f"cannot create --output-dir {str(args.output_dir)!r}: {error.strerror}; give a folder path that can be created")
    torch.set_num_threads(args.threads)

    started = time.perf_counter()
    options = default_options("sac", args.steps, int(np.prod(env.action_space.shape)))
    model = SAC("MlpPolicy", env, seed=args.seed, device="cpu", verbose=0, **options)
    model.learn(total_timesteps=args.steps)
    train_seconds = time.perf_counter() - started
    logger.info("trained SAC on %s for %d env steps in %.0f s", args.task, args.steps, train_seconds)

    measures = measure_policy(model, env, args.task, args.episodes, args.seed + EVAL_SEED_OFFSET, args.speed_targets, safety)
    model.save(args.output_dir / "sac.zip")
    record = {
        "task": args.task, "steps": args.steps, "seed": args.seed, "train_seconds": train_seconds,
        "speed_targets": args.speed_targets, "safety_limits": {name: repr(term) for name, term in safety.items()},
        "eval": measures,
    }
    (args.output_dir / "measures.json").write_text(json.dumps(record, indent=2))
    logger.info("eval: %s", {key: value for key, value in measures.items() if key != "episodes"})
    env.close()


if __name__ == "__main__":
    main()
