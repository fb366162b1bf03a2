"""Record a policy that does not learn: one evaluation, repeated at every evaluation point of a run."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from ami.training.evaluate import run_episodes
from experiments.compare.protocol import EvalRecorder, RunSpec


def evaluation_points(total_steps: int, eval_every: int) -> list[int]:
    """Env steps at which a run is evaluated: every ``eval_every`` steps, and at ``total_steps``.

    This is the schedule of ``ami run``, which evaluates when ``step % eval_every == 0`` or
    ``step == total_steps``, with no evaluation before training.
    """
    if total_steps < 1 or eval_every < 1:
        raise ValueError(f"total_steps and eval_every must be positive, got {total_steps} and {eval_every}")
    points = list(range(eval_every, total_steps + 1, eval_every))
    if not points or points[-1] != total_steps:
        points.append(total_steps)
    return points


def record_fixed_policy(
    spec: RunSpec,
    act: Callable[[np.ndarray], np.ndarray],
    env: gym.Env,
    on_reset: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Evaluate ``act`` once with ``run_episodes`` and record that result at every evaluation point.

    Every point gets the wall time of the one evaluation. Returns a summary with ``wall_seconds``,
    ``env_steps`` (the last evaluation point) and ``mean_return``.
    """
    start = time.perf_counter()
    result = run_episodes(act, env, spec.agent, spec.eval_episodes, spec.eval_seed, on_reset=on_reset)
    wall_seconds = time.perf_counter() - start

    points = evaluation_points(spec.total_steps, spec.eval_every)
    recorder = EvalRecorder(spec, spec.agent)
    try:
        for env_steps in points:
            recorder.record(env_steps, result, wall_seconds)
    finally:
        recorder.close()
    return {"wall_seconds": wall_seconds, "env_steps": points[-1], "mean_return": result.mean_return}
