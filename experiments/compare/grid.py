"""Run the agents x tasks x seeds grid of a comparison, in worker processes or as Ray tasks."""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from experiments.compare.config import CompareConfig
from experiments.compare.protocol import RunSpec

logger = logging.getLogger(__name__)

DONE_NAME = "done.json"
"""Written into a run folder when its run finished; a rerun of the comparison skips that run."""
ERROR_NAME = "error.txt"
WORKER_GRACE_SECONDS = 10.0
"""Time that stopped workers get to end on SIGTERM before they are killed."""


@dataclass(frozen=True)
class RunOutcome:
    spec: RunSpec
    status: str
    """``finished``, ``skipped`` (finished by an earlier invocation) or ``failed``."""
    wall_seconds: float = 0.0
    error: str = ""


def build_specs(config: CompareConfig) -> list[RunSpec]:
    """Build one RunSpec per task, agent and seed, with its folder ``output_dir/runs/<task>/<agent>/seed_<seed>``."""
    root = Path(config.output_dir) / "runs"
    specs = []
    for task, total_steps in config.tasks.items():
        for agent in config.agents:
            if not agent.runs_on(task):
                continue
            options = agent.options_for(task)
            if agent.kind == "ami":
                # The file's digest makes an edit of the config a change of settings, which reruns the cell.
                config_file = agent.configs[task]
                options = {**options, "config": config_file, "config_sha256": file_digest(config_file), "set": list(agent.set)}
            for seed in config.seeds:
                specs.append(
                    RunSpec(
                        task=task,
                        agent=agent.name,
                        kind=agent.kind,
                        seed=seed,
                        total_steps=total_steps,
                        eval_every=config.eval_every,
                        eval_episodes=config.eval_episodes,
                        run_dir=str(root / task / agent.name / f"seed_{seed}"),
                        options=options,
                        num_threads=config.num_threads,
                    )
                )
    return specs


def runner_for(kind: str) -> Callable[[RunSpec], dict]:
    """The function that trains and evaluates an agent of ``kind``; imported here to keep workers lean."""
    if kind == "ami":
        from experiments.compare.ami_runner import run_ami

        return run_ami
    if kind in ("sac", "td3", "ppo"):
        from agents.sb3_baselines import run_sb3

        return run_sb3
    if kind == "random":
        from agents.random_agent import run_random

        return run_random
    if kind == "mpc_true":
        from agents.true_sim_mpc import run_true_sim_mpc

        return run_true_sim_mpc
    raise ValueError(f"unknown agent kind {kind!r}; valid kinds: ami, sac, td3, ppo, random, mpc_true")


def execute(spec: RunSpec) -> RunOutcome:
    """Run one cell of the grid unless an earlier invocation finished it.

    A folder without ``done.json`` is the remainder of an interrupted run: it is deleted and the
    run starts again, so every finished run comes from one uninterrupted process. A run that
    raises is recorded in ``error.txt`` and reported as failed; the other runs go on.
    """
    run_dir = Path(spec.run_dir)
    finished = read_done_record(run_dir)
    if finished is not None:
        if finished.get("spec") == json.loads(json.dumps(asdict(spec))):
            return RunOutcome(spec, "skipped")
        logger.info("%s %s seed %d: its settings changed since it finished; running it again", spec.task, spec.agent, spec.seed)
    if run_dir.is_dir():
        shutil.rmtree(run_dir)
    elif run_dir.exists():
        return RunOutcome(spec, "failed", error=f"run folder {str(run_dir)!r} is a file; remove it so that the run can start")
    run_dir.mkdir(parents=True)

    torch.set_num_threads(spec.num_threads)
    start = time.perf_counter()
    try:
        summary = runner_for(spec.kind)(spec)
    except Exception:  # noqa: BLE001 - one failed run must not stop the grid; the traceback is kept
        error = traceback.format_exc()
        (run_dir / ERROR_NAME).write_text(error)
        return RunOutcome(spec, "failed", time.perf_counter() - start, error.strip().splitlines()[-1])

    wall_seconds = time.perf_counter() - start
    record = {"spec": asdict(spec), "wall_seconds": wall_seconds, "summary": summary}
    # Written under another name and renamed, so that a kill mid-write leaves no partial record.
    temporary = run_dir / f"{DONE_NAME}.tmp"
    temporary.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(temporary, run_dir / DONE_NAME)
    return RunOutcome(spec, "finished", wall_seconds)


def read_done_record(run_dir: Path) -> dict | None:
    """Return the ``done.json`` record of ``run_dir``, or None when the run did not finish or its record is damaged."""
    path = run_dir / DONE_NAME
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        logger.warning("%s is damaged (%s); running that cell again", path, error)
        return None
    if not isinstance(record, dict) or not isinstance(record.get("wall_seconds"), (int, float)):
        logger.warning("%s is not a record of a finished run; running that cell again", path)
        return None
    return record


def file_digest(path: str) -> str:
    """Return the SHA-256 of the file at ``path`` in hex."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run_local(specs: list[RunSpec], workers: int, show_progress: bool = True) -> list[RunOutcome]:
    """Run ``specs`` in ``workers`` processes, or in this process when ``workers`` is 1.

    Workers are spawned, so none inherits PyTorch threads or CUDA state. When this process is
    interrupted, queued runs are cancelled and the workers are stopped before the interrupt
    propagates.
    """
    if workers == 1:
        return collect((execute(spec) for spec in specs), len(specs), show_progress)
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=prepare_worker)
    try:
        futures = {pool.submit(execute, spec): spec for spec in specs}

        def finished() -> Iterable[RunOutcome]:
            for future in as_completed(futures):
                try:
                    yield future.result()
                except BrokenProcessPool:
                    # A worker died (killed, out of memory): its run and the queued ones fail, and a
                    # rerun of the comparison picks them up again.
                    yield RunOutcome(futures[future], "failed", error="a worker process died before this run finished")

        outcomes = collect(finished(), len(specs), show_progress)
    except BaseException:
        stop_workers(pool)
        raise
    pool.shutdown(wait=True)
    return outcomes


def prepare_worker() -> None:
    """Make a worker leave Ctrl-C to the main process and end when the main process ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        # prctl(PR_SET_PDEATHSIG, SIGTERM): the kernel sends SIGTERM to this worker when its
        # parent dies, even by SIGKILL, so no worker keeps writing into the output folder.
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def stop_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel queued runs and stop the workers: SIGTERM, then SIGKILL after a grace period."""
    # ProcessPoolExecutor has no public way to stop running calls; _processes maps pid to
    # process in every CPython release since 3.2.
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + WORKER_GRACE_SECONDS
    for process in processes:
        process.join(timeout=max(deadline - time.monotonic(), 0.0))
        if process.is_alive():
            process.kill()
            process.join()


def run_ray(specs: list[RunSpec], address: str | None, show_progress: bool = True) -> list[RunOutcome]:
    """Run ``specs`` as Ray tasks on a local Ray instance or the cluster at ``address``.

    Each task reserves ``num_threads`` CPUs. The output folder must be on storage that every
    Ray node can write, because each run writes its own folder.
    """
    try:
        import ray
    except ImportError:
        raise ImportError("--ray needs Ray, which is not installed; install it with `pip install ray` or the project's ray extra") from None

    ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    try:
        remote_execute = ray.remote(execute)
        pending = [remote_execute.options(num_cpus=spec.num_threads).remote(spec) for spec in specs]

        def finished() -> Iterable[RunOutcome]:
            remaining = list(pending)
            while remaining:
                done, remaining = ray.wait(remaining, num_returns=1)
                yield ray.get(done[0])

        return collect(finished(), len(specs), show_progress)
    finally:
        ray.shutdown()


def collect(outcomes: Iterable[RunOutcome], total: int, show_progress: bool) -> list[RunOutcome]:
    """Gather outcomes as they finish, logging each one and updating a progress bar."""
    results = []
    with tqdm(total=total, unit="run", disable=not show_progress, dynamic_ncols=True) as progress:
        for outcome in outcomes:
            spec = outcome.spec
            name = f"{spec.task} {spec.agent} seed {spec.seed}"
            error_file = Path(spec.run_dir) / ERROR_NAME
            if outcome.status == "failed" and error_file.is_file():
                logger.error("%s failed: %s (traceback in %s)", name, outcome.error, error_file)
            elif outcome.status == "failed":
                logger.error("%s did not finish: %s", name, outcome.error)
            elif outcome.status == "skipped":
                logger.info("%s finished earlier; skipped", name)
            else:
                logger.info("%s finished in %.0f s", name, outcome.wall_seconds)
            results.append(outcome)
            progress.update(1)
    return results
