"""Running mean and variance of observations, for input standardization."""

from __future__ import annotations

import torch
from torch import nn


class RunningNormalizer(nn.Module):
    """Standardizes inputs with running statistics merged by Chan et al.'s parallel algorithm.

    Statistics are buffers, so they travel with ``state_dict`` and with ``.to(device)``.
    Standardized values are clipped to ``[-clip, clip]``.
    """

    def __init__(self, dim: int, clip: float = 10.0, eps: float = 1e-8) -> None:
        super().__init__()
        self.clip = clip
        self.eps = eps
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("var", torch.ones(dim))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Merge the statistics of ``x`` ``(batch, dim)`` into the running ones."""
        x = x.reshape(-1, self.mean.shape[0]).to(self.mean.dtype)
        batch_count = x.shape[0]
        if batch_count == 0:
            return
        batch_mean = x.mean(dim=0)
        batch_var = x.var(dim=0, unbiased=False)

        total = self.count + batch_count
        delta = batch_mean - self.mean
        weight = float(batch_count / total)
        new_mean = self.mean + delta * weight
        m2 = self.var * float(self.count) + batch_var * batch_count + delta.square() * float(self.count) * weight
        self.mean.copy_(new_mean)
        self.var.copy_(m2 / float(total))
        self.count.copy_(total)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Before the first update mean is 0 and var is 1, so this is the identity.
        normalized = (x - self.mean) / torch.sqrt(self.var + self.eps)
        return normalized.clamp(-self.clip, self.clip)
