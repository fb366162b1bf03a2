"""Running scale of a quantity, to make loss weights independent of reward magnitude."""

from __future__ import annotations

import torch
from torch import nn


class RunningScale(nn.Module):
    """EMA of the 5th-95th percentile range of a tensor, as used by TD-MPC2 for its policy loss."""

    def __init__(self, tau: float = 0.01) -> None:
        super().__init__()
        self.tau = tau
        self.register_buffer("value", torch.ones(()))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        flat = x.detach().float().flatten()
        quantiles = torch.quantile(flat, torch.tensor([0.05, 0.95], device=flat.device))
        spread = (quantiles[1] - quantiles[0]).clamp_min(1.0)
        # A non-finite batch (the learner then skips its step) leaves the scale as it was;
        # torch.where avoids a device-to-host copy.
        self.value.copy_(torch.where(torch.isfinite(spread), self.value.lerp(spread, self.tau), self.value))
