"""Measure planning speed: latent transitions per second, ms per action and FLOP/s against the matmul peak.

Usage::

    python -m experiments.benchmarks.planning [--config PATH] [--planner mppi] [--device cpu]
        [--budgets 512x6x3,1024x6x5,4096x8x5] [--envs 1,16,64] [--threads N]
        [--compile] [--cuda-graphs] [--precision fp32|tf32|bf16] [--output PATH]

Builds the config's modules with untrained weights (their sizes, not their values, set the
cost), then times ``planner.plan`` for each budget ``num_samples x iterations x horizon``
and each number of environments planned together, on each device: CPU, and CUDA when
present. Each call warm-starts from the previous call's plan, as acting does.

Figures per cell:

- ``ms_per_plan``: wall time of the fastest timed planner call (the median is recorded too).
  One call returns one action for every environment; ``ms_per_env_action`` divides the time
  by the number of environments.
- ``transitions_per_s``: latent transitions predicted per second,
  ``iterations * horizon * num_samples * envs / time``. For the ``hierarchical`` planner the
  budget is the low level's, and the level-1 transitions of ``actor.planner.high_level`` are
  added.
- ``flop_per_s`` and ``fraction_of_peak``: the matmul FLOPs of the call per second, over the
  fp32 matmul peak that this run measures on the same device and thread count with
  ``torch.mm`` of two ``--peak-size`` square matrices. MPPI and CEM calls are counted
  analytically (rule in ``experiments/benchmarks/flops.py``); other planners are counted by
  ``torch.utils.flop_counter.FlopCounterMode`` on one untimed call.

The JSON record (hardware, torch version, threads, every figure) goes to ``--output``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

import ami.nn
from ami.actor.acceleration import validate_acceleration
from ami.actor.base import PLANNERS, Planner
from ami.actor.sampling import SamplingPlanner
from ami.build import Modules, build_modules
from ami.config.loader import load_config
from ami.config.schema import RunConfig
from ami.config.validate import validate_config
from ami.device import resolve_device
from ami.registry import RegistryError, import_plugins
from ami.spec import TaskSpec
from envs.make import check_task, make_env
from experiments.arguments import non_negative_int, non_negative_seconds, positive_int
from experiments.benchmarks.flops import planning_flops
from experiments.benchmarks.record import output_path, write_record
from experiments.benchmarks.step_time import cpu_name

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO_ROOT / "experiments" / "configs" / "hopper.toml"
"""Hopper: latent 64, 256-unit layers, a termination head, so every rollout network is timed."""
RESULTS_DIR = REPO_ROOT / "experiments" / "benchmarks" / "results"
DEFAULT_BUDGETS = "512x6x3,1024x6x5,4096x8x5"
DEFAULT_ENVS = "1,16,64"
PLANNER_OPTION_DEFAULTS = {"compile": False, "cuda_graphs": False, "precision": "fp32"}


def parse_budgets(text: str) -> list[tuple[int, int, int]]:
    """Parse ``NxIxH,...`` into ``(num_samples, iterations, horizon)`` tuples."""
    budgets = []
    for item in text.split(","):
        parts = item.strip().lower().split("x")
        if len(parts) != 3 or not all(part.isdigit() and int(part) > 0 for part in parts):
            raise argparse.ArgumentTypeError(
                f"invalid budget {item!r}: expected num_samples x iterations x horizon, e.g. 512x6x3"
            )
        budgets.append((int(parts[0]), int(parts[1]), int(parts[2])))
    return budgets


def parse_counts(text: str) -> list[int]:
    """Parse a comma-separated list of positive integers."""
    try:
        counts = [int(item) for item in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid list {text!r}: expected positive integers such as 1,16,64") from None
    if any(count < 1 for count in counts):
        raise argparse.ArgumentTypeError(f"invalid list {text!r}: every entry must be positive")
    return counts


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(function: Callable[[], object], device: torch.device, warmup: int, min_seconds: float, max_repeats: int) -> list[float]:
    """Wall times in seconds of ``function()`` after ``warmup`` calls.

    Repeats until ``min_seconds`` have passed or ``max_repeats`` calls were timed, at least once.
    """
    for _ in range(warmup):
        function()
    synchronize(device)
    times: list[float] = []
    started = time.perf_counter()
    while not times or (len(times) < max_repeats and time.perf_counter() - started < min_seconds):
        start = time.perf_counter()
        function()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def measure_matmul_peak(device: torch.device, size: int, dtype: torch.dtype = torch.float32) -> float:
    """FLOP/s of the fastest of repeated ``torch.mm`` of two ``size x size`` matrices of ``dtype``.

    The fp32 peak on CUDA is taken with TF32 off, so that it is the IEEE fp32 rate.
    """
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    out = torch.empty(size, size, device=device, dtype=dtype)
    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        times = time_calls(lambda: torch.mm(a, b, out=out), device, warmup=3, min_seconds=0.5, max_repeats=50)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous
    return 2 * size**3 / min(times)


def build_benchmark_modules(config_path: Path, overrides: list[str], device: torch.device) -> tuple[Modules, TaskSpec, RunConfig]:
    """Modules of the config on ``device``, the task spec read from the config's task, and the config."""
    config = load_config(config_path, overrides)
    env = make_env(config.env)
    try:
        spec = TaskSpec.from_env(env, config.env.task)
    finally:
        env.close()
    config = dataclasses.replace(config, device=str(device))
    return build_modules(config, spec, device), spec, config


def run_cell(
    modules: Modules,
    spec: TaskSpec,
    planner: SamplingPlanner,
    envs: int,
    device: torch.device,
    min_seconds: float,
    max_repeats: int,
) -> dict:
    """Time one budget for ``envs`` environments and return its figures, without the peak fraction."""
    torch.manual_seed(0)
    with torch.no_grad():
        latent = modules.world_model.encode(torch.randn(envs, spec.obs_dim, device=device))
    state = {"plan": None}

    def plan_once() -> None:
        result = planner.plan(latent, modules.world_model, modules.cost, modules.actor.policy, state["plan"])
        state["plan"] = result.plan

    # Two warm-up calls: the first one allocates and, with --compile, compiles; the second one
    # warm-starts from a previous plan, as every later call does.
    times = time_calls(plan_once, device, warmup=2, min_seconds=min_seconds, max_repeats=max_repeats)
    # The fastest call is the one least slowed by other jobs; the median is recorded too.
    seconds = min(times)
    config = planner.config
    transitions = latent_transitions(planner, envs)
    if isinstance(planner, SamplingPlanner):
        flops = planning_flops(planner, modules.world_model, modules.cost, modules.actor.policy, envs)
        flops_by_network = dataclasses.asdict(flops)
        flops_per_plan = flops.total
    else:
        flops_per_plan = counted_flops(plan_once)
        flops_by_network = None
    return {
        "budget": f"{config.num_samples}x{config.iterations}x{config.horizon}",
        "num_samples": config.num_samples,
        "iterations": config.iterations,
        "horizon": config.horizon,
        "envs": envs,
        "repeats": len(times),
        "ms_per_plan": 1000 * seconds,
        "ms_per_plan_median": 1000 * statistics.median(times),
        "ms_per_env_action": 1000 * seconds / envs,
        "transitions_per_s": transitions / seconds,
        "flops_per_plan": flops_per_plan,
        "flops_by_network": flops_by_network,
        "flop_per_s": flops_per_plan / seconds,
    }


def latent_transitions(planner: object, envs: int) -> int:
    """Latent transitions that one call of ``planner`` predicts for ``envs`` environments, all levels together."""
    config = planner.config
    transitions = config.iterations * config.horizon * config.num_samples * envs
    high_level = getattr(planner, "high", None)
    if high_level is not None:
        transitions += high_level.iterations * high_level.horizon * high_level.num_samples * envs
    return transitions


def counted_flops(function: Callable[[], object]) -> int:
    """Matmul FLOPs of one call of ``function``, counted by PyTorch's FLOP counter (2 per multiply-add)."""
    with FlopCounterMode(display=False) as counter:
        function()
    return counter.get_total_flops()


def benchmark_device(args: argparse.Namespace, device: torch.device) -> dict:
    """Measure every budget and environment count on ``device``, and the matmul peak between them.

    The peak is measured before the first cell and after each one, and the fractions use the
    highest of these measurements. Other jobs on the machine lower both the peak and the
    cells, so the highest peak keeps a fraction from looking better under load.
    """
    modules, spec, config = build_benchmark_modules(args.config, args.overrides, device)
    planner_name = args.planner or config.actor.planner.name
    options = planner_options(args)
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    print(f"\n{device} ({device_name}), planner {planner_name}, options {options or 'none'}", flush=True)

    peaks = [measure_matmul_peak(device, args.peak_size)]
    cells = []
    for budget in args.budgets:
        planner = budget_planner(config, spec, planner_name, budget, options)
        for envs in args.envs:
            cells.append(run_cell(modules, spec, planner, envs, device, args.min_seconds, args.max_repeats))
            peaks.append(measure_matmul_peak(device, args.peak_size))
            print(f"  measured {cells[-1]['budget']} for {envs} envs", flush=True)

    peak = max(peaks)
    for cell in cells:
        cell["fraction_of_peak"] = cell["flop_per_s"] / peak
    print(f"fp32 matmul peak: {peak / 1e9:.1f} GFLOP/s (highest of {len(peaks)} torch.mm {args.peak_size}x{args.peak_size} runs, lowest {min(peaks) / 1e9:.1f})")
    print(f"{'budget':>10} {'envs':>5} {'ms/plan':>10} {'ms/env action':>14} {'transitions/s':>14} {'GFLOP/s':>9} {'of peak':>8}")
    for cell in cells:
        print(
            f"{cell['budget']:>10} {cell['envs']:>5} {cell['ms_per_plan']:>10.1f} {cell['ms_per_env_action']:>14.2f} "
            f"{cell['transitions_per_s']:>14.3g} {cell['flop_per_s'] / 1e9:>9.1f} {cell['fraction_of_peak']:>8.1%}"
        )
    return {
        "device": str(device),
        "device_name": device_name,
        "planner": planner_name,
        "planner_options": options,
        "fp32_matmul_peak_flop_per_s": peak,
        "fp32_matmul_peak_measurements": peaks,
        "peak_matrix_size": args.peak_size,
        "cells": cells,
    }


def planner_options(args: argparse.Namespace) -> dict[str, object]:
    """Return the speed options of the command line that differ from the defaults.

    Only these are passed, so that planners without them (a user-registered one, for example)
    still run the default benchmark.
    """
    options = {"compile": args.compile, "cuda_graphs": args.cuda_graphs, "precision": args.precision}
    return {key: value for key, value in options.items() if value != PLANNER_OPTION_DEFAULTS[key]}


def budget_planner(
    config: RunConfig, spec: TaskSpec, planner_name: str, budget: tuple[int, int, int], options: dict[str, object]
) -> Planner:
    """Build the planner ``planner_name`` with the config's settings and the budget ``(num_samples, iterations, horizon)``."""
    num_samples, iterations, horizon = budget
    planner_config = dataclasses.replace(
        config.actor.planner,
        name=planner_name,
        num_samples=num_samples,
        iterations=iterations,
        horizon=horizon,
        num_elites=min(config.actor.planner.num_elites, num_samples),
    )
    return PLANNERS.get(planner_name)(planner_config, spec, **{**planner_config.options, **options})


def check_budgets_plan(args: argparse.Namespace, planner_name: str) -> None:
    """Plan once per budget, one iteration on the CPU, so that a planner that does not fit the config fails before timing.

    The speed options are checked separately (``validate_acceleration``), so the check plans
    without them and compiles nothing.
    """
    modules, spec, config = build_benchmark_modules(args.config, args.overrides, torch.device("cpu"))
    latent = torch.zeros(1, modules.world_model.latent_dim)
    for num_samples, _, horizon in args.budgets:
        planner = budget_planner(config, spec, planner_name, (num_samples, 1, horizon), {})
        planner.plan(latent, modules.world_model, modules.cost, modules.actor.policy)


def default_output(stamp: str) -> Path:
    return RESULTS_DIR / f"planning-{stamp}.json"


def main(argv: list[str] | None = None, prog: str = "python -m experiments.benchmarks.planning") -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help=f"TOML config (default {DEFAULT_CONFIG.relative_to(REPO_ROOT)})")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a config field (repeatable)")
    parser.add_argument("--planner", default=None, help="registered planner name (default: the config's actor.planner.name)")
    parser.add_argument(
        "--device", action="append", default=None,
        help="device to measure (repeatable; default: cpu, and cuda when CUDA is available)",
    )
    parser.add_argument("--budgets", type=parse_budgets, default=parse_budgets(DEFAULT_BUDGETS), help=f"num_samples x iterations x horizon list (default {DEFAULT_BUDGETS})")
    parser.add_argument("--envs", type=parse_counts, default=parse_counts(DEFAULT_ENVS), help=f"environments planned together (default {DEFAULT_ENVS})")
    parser.add_argument("--threads", type=non_negative_int, default=0, help="CPU threads of PyTorch; 0 keeps PyTorch's default")
    parser.add_argument("--compile", action="store_true", help="torch.compile the world-model step and the cost (planner option compile)")
    parser.add_argument("--cuda-graphs", action="store_true", help="with --compile on CUDA, replay CUDA graphs (planner option cuda_graphs)")
    parser.add_argument("--precision", choices=["fp32", "tf32", "bf16"], default="fp32", help="matmul precision of the rollouts (planner option precision)")
    parser.add_argument(
        "--row-chunk", type=non_negative_int, default=None,
        help=f"rows per chunk of no-grad CPU forward passes (ami.nn.ROW_CHUNK, default {ami.nn.ROW_CHUNK}); 0 turns chunking off",
    )
    parser.add_argument("--peak-size", type=positive_int, default=4096, help="size of the square matrices of the peak measurement (default 4096)")
    parser.add_argument("--min-seconds", type=non_negative_seconds, default=1.0, help="time each cell for at least this many seconds (default 1)")
    parser.add_argument("--max-repeats", type=positive_int, default=5, help="timed calls per cell at most (default 5)")
    parser.add_argument("--output", type=output_path, default=None, help="JSON record path (default experiments/benchmarks/results/planning-<time>.json)")
    args = parser.parse_args(argv)

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.row_chunk is not None:
        ami.nn.ROW_CHUNK = args.row_chunk if args.row_chunk > 0 else sys.maxsize
    devices = args.device or ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
    # Check the config, the task, the planner and the devices before measuring, so bad input exits with code 2 and one line.
    try:
        config = load_config(args.config, args.overrides)
        validate_config(config)
        check_task(config.env.task)
        import_plugins(config.imports)
        planner_name = args.planner or config.actor.planner.name
        PLANNERS.get(planner_name, "--planner")
        validate_acceleration(args.compile, args.cuda_graphs, args.precision)
        for name in devices:
            resolve_device(name)
        check_budgets_plan(args, planner_name)
    except (ValueError, TypeError, RegistryError, ImportError) as error:  # ConfigError and UnknownTaskError are ValueErrors
        parser.error(str(error))
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    record = {
        "command": " ".join([prog, *(sys.argv[1:] if argv is None else argv)]),
        "time": stamp,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "row_chunk": ami.nn.ROW_CHUNK,
        "config": str(args.config),
        "overrides": args.overrides,
        "load_average_before": os.getloadavg(),
        "devices": [benchmark_device(args, resolve_device(name)) for name in devices],
    }
    record["load_average_after"] = os.getloadavg()
    output = args.output or default_output(stamp)
    write_record(record, output)
    print(f"\nwrote {output}")


if __name__ == "__main__":
    main()
