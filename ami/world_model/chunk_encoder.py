"""Action-chunk encoder: the macro-action that summarizes consecutive env actions."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ami.nn import mlp


class ActionChunkEncoder(nn.Module):
    """Maps a chunk of ``chunk_length`` env actions ``(..., chunk_length, action_dim)`` to a macro-action ``(..., macro_action_dim)``.

    The chunk is flattened in time order before the MLP, so the macro-action depends on the
    order of the actions as well as on their values.
    """

    def __init__(self, chunk_length: int, action_dim: int, hidden_dims: Sequence[int], macro_action_dim: int) -> None:
        super().__init__()
        self.chunk_length = chunk_length
        self.action_dim = action_dim
        self.macro_action_dim = macro_action_dim
        self.net = mlp(chunk_length * action_dim, hidden_dims, macro_action_dim)

    def forward(self, actions: torch.Tensor) -> torch.Tensor:
        expected = (self.chunk_length, self.action_dim)
        if actions.dim() < 2 or tuple(actions.shape[-2:]) != expected:
            raise ValueError(
                f"action chunk has shape {tuple(actions.shape)}; expected (..., chunk_length, action_dim) = (..., {expected[0]}, {expected[1]})"
            )
        return self.net(actions.flatten(-2))
