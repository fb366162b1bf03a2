"""Time one update and one action of the AMI agent for a config, without training.

Usage::

    python -m experiments.benchmarks.step_time experiments/configs/inverted_pendulum.toml [--set KEY=VALUE ...]

Fills the replay buffer with random-action steps of the real task, then reports the median
wall time of ``--repeats`` updates and of ``--repeats`` actions in each mode, on the config's
device. The figures are for untrained networks; their size, not their weights, sets the cost.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import numpy as np
import torch

from ami.config.loader import load_config
from ami.training.trainer import Trainer


def median_ms(function, repeats: int, device: torch.device) -> float:
    """Median wall time of ``function()`` in milliseconds, after two warm-up calls."""
    for _ in range(2):
        function()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        function()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args(argv)

    config = load_config(args.config, args.overrides)
    trainer = Trainer(config, show_progress=False)
    agent, device = trainer.agent, trainer.device
    obs = fill_replay(trainer, num_steps=max(config.memory.batch_size, config.world_model.horizon) * 4)

    planner = config.actor.planner
    record = {
        "config": args.config,
        "overrides": args.overrides,
        "task": config.env.task,
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "cpu": cpu_name(),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "budget": f"{planner.num_samples} samples x {planner.iterations} iterations x {planner.horizon} horizon",
        "ms_per_update": median_ms(agent.update, args.repeats, device),
        "ms_per_action_reactive": median_ms(lambda: agent.act(obs, mode="reactive"), args.repeats, device),
        "ms_per_action_deliberative": median_ms(lambda: agent.act(obs, mode="deliberative"), args.repeats, device),
    }
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
