"""Latent prediction error of each world-model level against the prediction step, logged at evaluation."""

from __future__ import annotations

import re

import torch
from matplotlib.figure import Figure

from ami.memory.base import ReplayBuffer
from ami.memory.batch import TrajectoryBatch
from ami.training.logger import MetricLogger
from ami.world_model.base import WorldModel

STEP_TAG = re.compile(r"^world_model/(?:level_(\d+)/)?latent_loss/step_(\d+)$")
"""Per-step latent loss tags of ``world_model.loss``: level 0 has no ``level_<l>/`` part."""


@torch.no_grad()
def prediction_errors(world_model: WorldModel, replay: ReplayBuffer, batch_size: int) -> dict[int, list[float]]:
    """Mean squared latent prediction error of each level, by prediction step, on one replay batch.

    Reads the ``latent_loss/step_<k>`` metrics of ``world_model.loss``, so any world model
    that logs them gets the plot. Returns ``{level: [error at step 1, step 2, ...]}``, or an
    empty dict while the replay has fewer steps than one sub-trajectory.
    """
    length = world_model.required_sequence_length
    if len(replay) < length:
        return {}
    metrics = world_model.loss(sample_without_advancing(replay, batch_size, length)).metrics
    by_level: dict[int, dict[int, float]] = {}
    for tag, value in metrics.items():
        match = STEP_TAG.match(tag)
        if match:
            level = int(match.group(1) or 0)
            by_level.setdefault(level, {})[int(match.group(2))] = float(value)
    return {level: [steps[k] for k in sorted(steps)] for level, steps in sorted(by_level.items())}


def sample_without_advancing(replay: ReplayBuffer, batch_size: int, length: int) -> TrajectoryBatch:
    """Sample a batch, then restore the replay's generator, so that evaluating does not change later training batches.

    A replay without a ``torch.Generator`` attribute named ``generator`` is sampled as it is.
    """
    generator = getattr(replay, "generator", None)
    if not isinstance(generator, torch.Generator):
        return replay.sample(batch_size, length)
    state = generator.get_state()
    try:
        return replay.sample(batch_size, length)
    finally:
        generator.set_state(state)


def prediction_error_figure(errors: dict[int, list[float]], level_spans: tuple[int, ...]) -> Figure:
    """Plot each level's error against how far ahead it predicts, in env steps (step k of level l is k * span_l)."""
    figure = Figure(figsize=(5, 3.5))
    axes = figure.subplots()
    for level, values in errors.items():
        span = level_spans[level] if level < len(level_spans) else 1
        env_steps = [span * (step + 1) for step in range(len(values))]
        unit = "env step" if span == 1 else "env steps"
        axes.plot(env_steps, values, marker="o", label=f"level {level}: {span} {unit} per step")
    axes.set_xlabel("env steps ahead")
    axes.set_ylabel("latent prediction error (MSE)")
    axes.set_yscale("log")
    # Each level's error is measured in its own latent space, so only the shapes compare.
    axes.set_title("Latent prediction error by level")
    axes.legend(fontsize="small")
    figure.tight_layout()
    return figure


def log_prediction_errors(world_model: WorldModel, replay: ReplayBuffer, batch_size: int, metrics: MetricLogger, step: int) -> None:
    """Log the per-level errors as scalars ``world_model/eval/level_<l>/prediction_error/step_<k>`` and one figure."""
    errors = prediction_errors(world_model, replay, batch_size)
    if not errors:
        return
    scalars = {
        f"world_model/eval/level_{level}/prediction_error/step_{k + 1}": value
        for level, values in errors.items()
        for k, value in enumerate(values)
    }
    metrics.scalars(scalars, step)
    metrics.figure("world_model/eval/prediction_error", prediction_error_figure(errors, world_model.level_spans), step)
