"""Up-front estimate of one planning call's memory.

A planner whose candidates do not fit would otherwise fail mid-run: with a CUDA out-of-memory
error, or on Linux hosts by the kernel's out-of-memory killer, which ends the process without
a message. The estimate is checked when the modules are built, before a run folder exists.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from torch import nn

from ami.memory.replay import available_bytes
from ami.nn import EnsembleLinear

logger = logging.getLogger(__name__)

BYTES_PER_FLOAT = 4


class PlannerMemoryError(ValueError):
    """One planning call needs more memory than the device has free."""


@dataclass(frozen=True)
class PlanMemory:
    """Peak memory of one planning call, and the config field whose value it grows with."""

    num_bytes: int
    key: str
    """Config key of the sample count that sets the size, e.g. ``actor.planner.num_samples``."""
    value: int
    """That field's value; the memory is about proportional to it."""


def rollout_floats_per_row(horizon: int, action_dim: int, latent_dim: int, activation_width: int) -> int:
    """Count the float32 values that one candidate row keeps at the peak of a sampling planner's iteration.

    The count covers the candidates, their Gaussian noise and the clamped draw
    (``3 * horizon * action_dim``), the rolled-out latents and their stacked copy
    (``2 * (horizon + 1) * latent_dim``), the input and output of the widest layer
    (``2 * activation_width``) and the per-step cost terms (``8 * horizon``). On the
    HalfCheetah-v5 and debug configs it is 1.1 to 1.8 times the growth of peak resident memory measured
    for one plan, so it errs on the safe side without rejecting budgets that fit.
    """
    return 3 * horizon * action_dim + 2 * (horizon + 1) * latent_dim + 2 * activation_width + 8 * horizon


def activation_width(*modules: nn.Module) -> int:
    """Return the widest activation per input row of any linear layer in ``modules``.

    An ensemble layer counts two members side by side: planning evaluates two of them (the
    mean of two random critics) in one batched call.
    """
    width = 0
    for module in modules:
        for layer in module.modules():
            if isinstance(layer, nn.Linear):
                width = max(width, layer.out_features)
            elif isinstance(layer, EnsembleLinear):
                num_members, _, out_dim = layer.weight.shape
                width = max(width, min(num_members, 2) * out_dim)
    return width


def check_planner_memory(estimate: PlanMemory | None, batch: int, device: torch.device) -> None:
    """Raise PlannerMemoryError, naming the field to lower and a value that fits, if ``estimate`` exceeds the free memory.

    ``batch`` is the number of states planned for together (``env.num_envs``). A planner that
    gives no estimate (None) is not checked.
    """
    if estimate is None:
        return
    available = available_bytes(device)
    logger.debug("one planning call needs about %.1f MiB on %s; %.1f GiB available", estimate.num_bytes / 2**20, device, available / 2**30)
    if estimate.num_bytes <= available:
        return

    bytes_per_sample = estimate.num_bytes / estimate.value
    fits = int(available // bytes_per_sample)
    hint = f"lower {estimate.key} to at most {fits:,}" if fits >= 1 else "lower env.num_envs or the planning horizon"
    raise PlannerMemoryError(
        f"one planning call needs about {estimate.num_bytes / 2**30:.1f} GiB ({estimate.key} = {estimate.value:,} "
        f"candidates x {batch} state(s)) but {device} has {available / 2**30:.1f} GiB available; {hint}"
    )
