"""TensorBoard logging with env steps on the x-axis."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import torch
from torch.utils.tensorboard import SummaryWriter


class MetricLogger:
    """Averages metrics between writes and writes scalars and text to TensorBoard.

    Update metrics arrive as device tensors; they are stacked and copied to the host once per
    write, not once per update.
    """

    def __init__(self, log_dir: Path) -> None:
        self.writer = SummaryWriter(log_dir=str(log_dir))
        self._pending: dict[str, list[torch.Tensor | float]] = defaultdict(list)

    def accumulate(self, metrics: dict[str, torch.Tensor | float]) -> None:
        for tag, value in metrics.items():
            self._pending[tag].append(value)

    def write_accumulated(self, step: int) -> dict[str, float]:
        """Write the mean of every accumulated metric at ``step`` and clear them."""
        means = {}
        for tag, values in self._pending.items():
            stacked = torch.stack([torch.as_tensor(v, dtype=torch.float32).reshape(()).cpu() for v in values])
            means[tag] = float(stacked.mean())
        self._pending.clear()
        self.scalars(means, step)
        return means

    def scalars(self, values: dict[str, float], step: int) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, global_step=step)

    def text(self, tag: str, text: str, step: int = 0) -> None:
        self.writer.add_text(tag, text, global_step=step)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
