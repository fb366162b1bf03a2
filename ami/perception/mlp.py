"""MLP encoder for proprioceptive vector observations."""

from __future__ import annotations

import torch
from torch import nn

from ami.config.schema import PerceptionConfig
from ami.nn import mlp
from ami.perception.base import ENCODERS, Encoder
from ami.perception.normalizer import RunningNormalizer
from ami.spec import TaskSpec


@ENCODERS.register("mlp")
class MLPEncoder(Encoder):
    """Optional running standardization, then an MLP to a ``latent_dim`` vector."""

    def __init__(self, config: PerceptionConfig, spec: TaskSpec) -> None:
        super().__init__()
        self.latent_dim = config.latent_dim
        self.normalizer = RunningNormalizer(spec.obs_dim) if config.normalize_observations else nn.Identity()
        self.net = mlp(spec.obs_dim, config.hidden_dims, config.latent_dim)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalizer(obs))

    def observe(self, obs: torch.Tensor) -> None:
        if isinstance(self.normalizer, RunningNormalizer):
            self.normalizer.update(obs)
