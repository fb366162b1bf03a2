"""Variance and covariance regularizers against representation collapse.

From VICReg (Bardes, Ponce and LeCun, ICLR 2022), eq. 1-4: a hinge on the std of each latent
dimension across the batch, and the squared off-diagonal entries of the latent covariance.
"""

from __future__ import annotations

import torch


def variance_loss(latents: torch.Tensor, target_std: float = 1.0, eps: float = 1e-4) -> torch.Tensor:
    """Mean hinge ``relu(target_std - std)`` over dimensions of ``latents (batch, latent_dim)``."""
    std = torch.sqrt(latents.var(dim=0) + eps)
    return torch.relu(target_std - std).mean()


def covariance_loss(latents: torch.Tensor) -> torch.Tensor:
    """Sum of squared off-diagonal covariances of ``latents (batch, latent_dim)``, over ``latent_dim``."""
    batch, latent_dim = latents.shape
    centered = latents - latents.mean(dim=0)
    covariance = centered.T @ centered / max(batch - 1, 1)
    off_diagonal = covariance - torch.diag(torch.diagonal(covariance))
    return off_diagonal.square().sum() / latent_dim
