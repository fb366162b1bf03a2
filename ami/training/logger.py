"""TensorBoard logging with env steps on the x-axis."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class MetricLogger:
    """Averages metrics between writes and writes scalars and text to TensorBoard.

    Update metrics arrive as device tensors; they are stacked and copied to the host once per
    write, not once per update.
    """

    def __init__(self, log_dir: Path, purge_step: int | None = None) -> None:
        # With purge_step, TensorBoard hides the points at and after that step from earlier
        # event files: a resumed run drops what it logged after its last checkpoint.
        self.writer = SummaryWriter(log_dir=str(log_dir), purge_step=purge_step)
        self._pending: dict[str, list[torch.Tensor | float]] = defaultdict(list)

    def accumulate(self, metrics: dict[str, torch.Tensor | float]) -> None:
        for tag, value in metrics.items():
            self._pending[tag].append(value)

    def pending_state_dict(self) -> dict[str, torch.Tensor]:
        """Metrics accumulated since the last write, as one float32 tensor per tag."""
        return {tag: self._stack(values) for tag, values in self._pending.items()}

    def load_pending_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self._pending = defaultdict(list, {tag: list(values.unbind()) for tag, values in state.items()})

    @staticmethod
    def _stack(values: list[torch.Tensor | float]) -> torch.Tensor:
        return torch.stack([torch.as_tensor(v, dtype=torch.float32).reshape(()).cpu() for v in values])

    def write_accumulated(self, step: int) -> dict[str, float]:
        """Write the mean of every accumulated metric at ``step`` and clear them."""
        means = {}
        for tag, values in self._pending.items():
            means[tag] = float(self._stack(values).mean())
        self._pending.clear()
        self.scalars(means, step)
        return means

    def scalars(self, values: dict[str, float], step: int) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, global_step=step)

    def text(self, tag: str, text: str, step: int = 0) -> None:
        self.writer.add_text(tag, text, global_step=step)

    def image(self, tag: str, image: np.ndarray, step: int) -> None:
        """Write a ``uint8 (height, width, 3)`` RGB image."""
        self.writer.add_image(tag, image, global_step=step, dataformats="HWC")

    def figure(self, tag: str, figure: Figure, step: int) -> None:
        """Write a matplotlib figure as an image and close it."""
        self.writer.add_figure(tag, figure, global_step=step, close=True)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
