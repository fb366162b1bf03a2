"""Small heads that predict physical quantities (x velocity, torso height, ...) from the latent."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import nn

from ami.cost.quantities import quantity_index, read_quantity
from ami.memory.batch import TrajectoryBatch
from ami.nn import mlp


class QuantityHeads(nn.Module):
    """One MLP ``latent (..., latent_dim) -> quantity (...)`` per named quantity of ``task``.

    Building the heads checks every name against the task's observation table, so a task or
    quantity that the table lacks fails when the cost module is built.
    """

    def __init__(self, task: str, names: Iterable[str], latent_dim: int, hidden_dims: Sequence[int]) -> None:
        super().__init__()
        self.task = task
        self.latent_dim = latent_dim
        self.hidden_dims = tuple(hidden_dims)
        self.heads = nn.ModuleDict()
        for name in sorted(set(names)):
            self.add(name)

    def add(self, name: str) -> None:
        """Add an untrained head for ``name``; raise QuantityError if the task's table lacks it."""
        quantity_index(self.task, name)
        self.heads[name] = mlp(self.latent_dim, self.hidden_dims, 1)

    @property
    def names(self) -> list[str]:
        return list(self.heads)

    def __contains__(self, name: object) -> bool:
        return name in self.heads

    def predict(self, name: str, latent: torch.Tensor) -> torch.Tensor:
        """Predicted ``name`` ``(...)`` at ``latent (..., latent_dim)``."""
        if name not in self.heads:
            raise KeyError(f"no quantity head {name!r}; heads: {', '.join(self.heads) or 'none'}")
        return self.heads[name](latent).squeeze(-1)


def quantity_loss(
    heads: QuantityHeads, latents: torch.Tensor, batch: TrajectoryBatch, names: Iterable[str] | None = None
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Mean squared error of the heads against the quantities read from the batch's observations.

    Args:
        heads: the heads to train.
        latents: ``(horizon + 1, batch, latent_dim)``, detached: the encoded first observation,
            then the world model's predictions for ``batch.next_obs``. Training on predicted
            latents fits the heads to what the planner feeds them.
        batch: the sampled sub-trajectories, at least ``horizon`` steps long; steps with
            ``mask = 0`` are left out.
        names: the quantities to train (all heads when None).

    Returns the summed loss and a detached root-mean-square error per quantity, in its own unit,
    under the tag ``quantity/<name>/rmse``.
    """
    names = heads.names if names is None else list(names)
    # A hierarchical world model samples longer sub-trajectories than its level-0 rollout; the
    # first ``horizon`` steps are those of the latents.
    horizon = latents.shape[0] - 1
    observations = torch.cat([batch.obs[None], batch.next_obs[:horizon]], dim=0)  # (H + 1, B, obs_dim)
    mask = torch.cat([torch.ones_like(batch.mask[:1]), batch.mask[:horizon]], dim=0)  # (H + 1, B)
    valid = mask.sum().clamp_min(1.0)
    total = latents.new_zeros(())
    metrics = {}
    for name in names:
        target = read_quantity(heads.task, name, observations)
        error = ((heads.predict(name, latents) - target).square() * mask).sum() / valid
        total = total + error
        metrics[f"quantity/{name}/rmse"] = error.detach().sqrt()
    return total, metrics
