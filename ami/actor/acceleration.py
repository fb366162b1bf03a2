"""Optional speed-ups of planning rollouts: torch.compile, CUDA graphs and reduced matmul precision."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

import torch

logger = logging.getLogger(__name__)

PRECISIONS = ("fp32", "tf32", "bf16")
"""Matmul precisions of the rollouts: IEEE fp32, TF32 tensor cores (CUDA only), bfloat16 autocast."""


def validate_acceleration(compile: bool, cuda_graphs: bool, precision: str) -> None:
    """Raise ValueError naming the first invalid planner acceleration option."""
    if precision not in PRECISIONS:
        raise ValueError(f"actor.planner precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if cuda_graphs and not compile:
        raise ValueError("actor.planner cuda_graphs needs compile = true, because torch.compile captures the graphs")


class GuardedCompile:
    """``torch.compile(function)`` that falls back to ``function`` when compiling fails.

    A failure while wrapping (for example a Python version that TorchDynamo does not support)
    or during the first compiled calls is logged as a warning once, and every later call runs
    ``function`` uncompiled. An error that ``function`` raises uncompiled too is re-raised by
    the uncompiled call.

    With ``cuda_graphs`` the compiled function replays CUDA graphs (``mode="reduce-overhead"``).
    Its outputs live in memory that the next replay overwrites, so they are cloned before
    they are returned.

    NOTE: the CUDA-graph path has not run on a GPU yet; experiments/benchmarks/gpu_check.sh runs it.
    """

    def __init__(self, function: Callable, name: str, cuda_graphs: bool = False) -> None:
        self.function = function
        self.name = name
        self.cuda_graphs = cuda_graphs
        self.compiled: Callable | None = None
        try:
            self.compiled = torch.compile(function, mode="reduce-overhead" if cuda_graphs else None)
        except Exception as error:  # torch.compile raises RuntimeError, ImportError and others here.
            self._fall_back(error)

    def _fall_back(self, error: Exception) -> None:
        logger.warning("torch.compile of %s failed, running it uncompiled: %s: %s", self.name, type(error).__name__, error)
        self.compiled = None

    def __call__(self, *args):
        if self.compiled is None:
            return self.function(*args)
        try:
            if self.cuda_graphs:
                torch.compiler.cudagraph_mark_step_begin()
            output = self.compiled(*args)
        except Exception as error:  # Dynamo and Inductor raise many exception types, and each one means no compiled code.
            self._fall_back(error)
            return self.function(*args)
        if self.cuda_graphs:
            output = torch.utils._pytree.tree_map(lambda x: x.clone() if isinstance(x, torch.Tensor) else x, output)
        return output


@contextlib.contextmanager
def matmul_precision(precision: str, device: torch.device) -> Iterator[None]:
    """Run the block with the requested matmul precision on ``device``, then restore the settings.

    ``tf32`` applies to CUDA only and is a no-op on other devices. ``bf16`` autocasts matmuls
    to bfloat16 on any device (on CPUs with AMX or AVX512-BF16 this can be faster than fp32).
    """
    if precision == "fp32" or (precision == "tf32" and device.type != "cuda"):
        yield
    elif precision == "tf32":
        previous = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = True
        try:
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32 = previous
    else:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            yield
