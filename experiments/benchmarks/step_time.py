"""Time the AMI agent's updates and actions, and its training throughput in env steps per second.

Usage::

    python -m experiments.benchmarks.step_time CONFIG [--set KEY=VALUE ...] [--repeats 50]
        [--envs 1,4,16] [--modes reactive,deliberative] [--device cpu] [--vector-steps 20]
        [--threads N] [--output PATH]

Two kinds of figures, on each device (CPU, and CUDA when present, unless ``--device`` is given):

- ``ms_per_update`` and ``ms_per_action_<mode>``: the median wall time of ``--repeats`` updates
  and of ``--repeats`` single-env actions in each mode, after the replay buffer was filled with
  random-action steps of the real task.
- ``throughput``: one cell per number of envs (``--envs``) and acting mode (``--modes``). Each
  cell builds the trainer with ``env.num_envs`` envs, fills the replay with random seed steps,
  then times ``--vector-steps`` iterations of the training loop's collection and update steps:
  act for every env with one policy or planner call, step the envs, store the transitions and
  make one update per env step. ``env_steps_per_s`` is ``num_envs * vector_steps / time``;
  evaluation, logging and checkpoints are not part of it.

The networks are untrained; their size, not their weights, sets the cost. The JSON record
(hardware, torch version, threads, load average, every figure) is printed and written to ``--output``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ami.config.loader import load_config
from ami.config.schema import Mode
from ami.config.validate import validate_config
from ami.device import resolve_device
from ami.training.logger import MetricLogger
from ami.training.trainer import Trainer
from envs.make import check_task
from experiments.benchmarks.record import output_path, write_record

REPO_ROOT = Path(__file__).resolve().parents[2]
RESULTS_DIR = REPO_ROOT / "experiments" / "benchmarks" / "results"
DEFAULT_ENVS = "1,4,16"
DEFAULT_MODES = "reactive,deliberative"
MODES: tuple[Mode, ...] = ("reactive", "deliberative")


def median_ms(function, repeats: int, device: torch.device) -> float:
    """Median wall time of ``function()`` in milliseconds, after two warm-up calls."""
    for _ in range(2):
        function()
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        function()
        synchronize(device)
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def cpu_name() -> str:
    """CPU model from /proc/cpuinfo on Linux, else what ``platform`` reports."""
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def fill_replay(trainer: Trainer, num_steps: int) -> np.ndarray:
    """Store ``num_steps`` random-action steps of the trainer's single env; return the last observation."""
    env = trainer.env
    obs, _ = env.reset(seed=trainer.config.seed)
    for _ in range(num_steps):
        action = trainer.explorer.act(obs)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        trainer.agent.observe(obs, action, reward, next_obs, terminated, truncated)
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()
    return obs


def parse_counts(text: str) -> list[int]:
    """Parse a comma-separated list of positive integers."""
    try:
        counts = [int(item) for item in text.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"invalid list {text!r}: expected positive integers separated by commas, e.g. {DEFAULT_ENVS}")
    return counts


def parse_modes(text: str) -> list[Mode]:
    modes = [item.strip() for item in text.split(",")]
    unknown = [mode for mode in modes if mode not in MODES]
    if unknown or not modes:
        raise argparse.ArgumentTypeError(f"invalid modes {text!r}: expected a comma-separated subset of {', '.join(MODES)}")
    return modes


def single_step_times(config_path: str, overrides: list[str], repeats: int) -> dict:
    """Median ms of one update and of one single-env action in each mode."""
    trainer = Trainer(load_config(config_path, overrides), show_progress=False)
    agent, device = trainer.agent, trainer.device
    config = trainer.config
    obs = fill_replay(trainer, num_steps=max(config.memory.batch_size, config.world_model.horizon) * 4)
    return {
        "ms_per_update": median_ms(agent.update, repeats, device),
        **{f"ms_per_action_{mode}": median_ms(lambda mode=mode: agent.act(obs, mode=mode), repeats, device) for mode in MODES},
    }


def throughput_cell(config_path: str, overrides: list[str], num_envs: int, mode: Mode, vector_steps: int) -> dict:
    """Time ``vector_steps`` collection-and-update iterations of the training loop with ``num_envs`` envs in ``mode``."""
    probe = load_config(config_path, overrides)
    # Random seed steps fill the replay: enough for a batch, a whole number of vector steps.
    seed_steps = num_envs * math.ceil(max(probe.memory.batch_size, 2 * probe.world_model.horizon * num_envs) / num_envs)
    warmup_steps = 2 * num_envs
    total_steps = seed_steps + warmup_steps + vector_steps * num_envs
    config = load_config(
        config_path,
        [
            *overrides,
            f"env.num_envs={num_envs}",
            "configurator.name=fixed",
            f"configurator.mode={mode}",
            f"train.total_steps={total_steps}",
            f"train.seed_steps={seed_steps}",
            "train.pretrain_updates=1",
            "train.updates_per_step=1",
            "memory.capacity=auto",
        ],
    )
    trainer = Trainer(config, show_progress=False)
    with tempfile.TemporaryDirectory() as log_dir:
        trainer.metrics = MetricLogger(Path(log_dir))
        if trainer.rollout is not None:
            trainer.rollout.start(config.seed)
        else:
            trainer.obs, _ = trainer.env.reset(seed=config.seed)

        def iterate() -> None:
            trainer._collect_step()
            trainer.step += num_envs
            trainer._train_step()

        while trainer.step < seed_steps + warmup_steps:
            iterate()
        plan_before, update_before = trainer.plan_seconds, trainer.update_seconds
        synchronize(trainer.device)
        start = time.perf_counter()
        for _ in range(vector_steps):
            iterate()
        synchronize(trainer.device)
        seconds = time.perf_counter() - start
        trainer.metrics.close()
    trainer.env.close()
    trainer.eval_env.close()
    return {
        "num_envs": num_envs,
        "mode": mode,
        "vector_steps": vector_steps,
        "env_steps_per_s": num_envs * vector_steps / seconds,
        "ms_per_vector_step": 1000 * seconds / vector_steps,
        "ms_acting_per_vector_step": 1000 * (trainer.plan_seconds - plan_before) / vector_steps,
        "ms_updating_per_vector_step": 1000 * (trainer.update_seconds - update_before) / vector_steps,
        "updates_per_vector_step": num_envs,
    }


def benchmark_device(args: argparse.Namespace, device_name: str) -> dict:
    device = resolve_device(device_name)
    overrides = [*args.overrides, f"device={device}"]
    record = {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name(),
        **single_step_times(args.config, overrides, args.repeats),
        "throughput": [],
    }
    for num_envs in args.envs:
        for mode in args.modes:
            cell = throughput_cell(args.config, overrides, num_envs, mode, args.vector_steps)
            record["throughput"].append(cell)
            print(
                f"{device}: {num_envs:>3} envs {mode:>12}: {cell['env_steps_per_s']:8.1f} env steps/s "
                f"({cell['ms_acting_per_vector_step']:.1f} ms acting, {cell['ms_updating_per_vector_step']:.1f} ms updating per vector step)",
                file=sys.stderr,
                flush=True,
            )
    return record


def main(argv: list[str] | None = None, prog: str = "python -m experiments.benchmarks.step_time") -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("config", help="TOML config, e.g. experiments/configs/inverted_pendulum.toml")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a config field (repeatable)")
    parser.add_argument("--repeats", type=int, default=50, help="timed calls of the single update and action medians (default 50)")
    parser.add_argument("--envs", type=parse_counts, default=parse_counts(DEFAULT_ENVS), help=f"numbers of envs of the throughput cells (default {DEFAULT_ENVS})")
    parser.add_argument("--modes", type=parse_modes, default=parse_modes(DEFAULT_MODES), help=f"acting modes of the throughput cells (default {DEFAULT_MODES})")
    parser.add_argument(
        "--device", action="append", default=None, help="device to measure (repeatable; default: cpu, and cuda when CUDA is available)"
    )
    parser.add_argument("--vector-steps", type=int, default=20, help="timed training-loop iterations per throughput cell (default 20)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads of PyTorch; 0 keeps the config's num_threads")
    parser.add_argument("--output", type=output_path, default=None, help="JSON record path (default experiments/benchmarks/results/step_time-<time>.json)")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.vector_steps < 1:
        parser.error("--repeats and --vector-steps must be positive")

    if args.threads > 0:
        args.overrides.append(f"num_threads={args.threads}")
    devices = args.device or ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
    # Check the config, the task and the devices before measuring, so bad input exits with code 2 and one line.
    try:
        config = load_config(args.config, args.overrides)
        validate_config(config)
        check_task(config.env.task)
        for name in devices:
            resolve_device(name)
    except ValueError as error:  # ConfigError and UnknownTaskError are ValueErrors
        parser.error(str(error))
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    record = {
        "command": " ".join([prog, *(sys.argv[1:] if argv is None else argv)]),
        "time": stamp,
        "config": args.config,
        "overrides": args.overrides,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "load_average_before": os.getloadavg(),
        "devices": [benchmark_device(args, name) for name in devices],
    }
    record["torch_threads"] = torch.get_num_threads()
    record["load_average_after"] = os.getloadavg()
    print(json.dumps(record, indent=2))
    output = args.output or RESULTS_DIR / f"step_time-{stamp}.json"
    write_record(record, output)
    print(f"wrote {output}", file=sys.stderr)


if __name__ == "__main__":
    main()
