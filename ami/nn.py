"""Network building blocks shared by the modules."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


ROW_CHUNK = 1024
"""Rows per chunk of a no-grad forward pass on the CPU.

An activation of 1024 rows by 256 fp32 units is 1 MiB, so one chunk stays in a core's L2
cache from layer to layer, and its buffers come from the allocator's free list. A whole batch
of 65,536 rows makes 64 MiB activations that glibc maps fresh for every operation (above its
mmap threshold), and the page faults and memory traffic then take longer than the matmuls.
Measured with experiments/benchmarks/planning.py, see experiments/PLANNING_SPEED.md.
"""


def chunk_rows_applies(x: torch.Tensor, rows: int) -> bool:
    """Whether a forward pass over ``rows`` rows of ``x`` should run ``ROW_CHUNK`` rows at a time.

    Only without autograd (the chunks would each keep their own graph), on the CPU (a GPU
    needs large batches) and outside ``torch.compile`` (the chunk loop would be unrolled).
    """
    return (
        rows > ROW_CHUNK
        and x.device.type == "cpu"
        and not torch.is_grad_enabled()
        and not torch.compiler.is_compiling()
    )


class MLP(nn.Sequential):
    """An ``nn.Sequential`` over the last dimension that runs row chunks without autograd.

    Every layer acts on each row on its own, so the chunked pass returns what the whole-batch
    pass returns (up to the summation order inside the matmul kernels).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.numel() // x.shape[-1]
        if not chunk_rows_applies(x, rows):
            return super().forward(x)
        flat = x.reshape(rows, x.shape[-1])
        first = super().forward(flat[:ROW_CHUNK])
        out = first.new_empty(rows, first.shape[-1])
        out[:ROW_CHUNK] = first
        for start in range(ROW_CHUNK, rows, ROW_CHUNK):
            out[start : start + ROW_CHUNK] = super().forward(flat[start : start + ROW_CHUNK])
        return out.reshape(*x.shape[:-1], out.shape[-1])


def mlp(in_dim: int, hidden_dims: Sequence[int], out_dim: int, output_activation: nn.Module | None = None) -> MLP:
    """Linear -> LayerNorm -> SiLU blocks, then a linear output layer.

    TD-MPC2 (Hansen et al., 2024) uses LayerNorm with Mish; SiLU has nearly the same shape
    and runs about 20x faster on CPU in PyTorch 2.13 (measured: 0.12 ms vs 2.3 ms for a
    1024x256 tensor on 2 cores).
    """
    layers: list[nn.Module] = []
    dims = [in_dim, *hidden_dims]
    for d_in, d_out in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(d_in, d_out), nn.LayerNorm(d_out), nn.SiLU()]
    layers.append(nn.Linear(dims[-1], out_dim))
    if output_activation is not None:
        layers.append(output_activation)
    return MLP(*layers)


class EnsembleLinear(nn.Module):
    """``num_members`` independent linear layers applied in one batched matmul.

    Input ``(members, batch, in_dim)`` -> output ``(members, batch, out_dim)``, where
    ``members`` is ``num_members`` or the length of the ``members`` index.
    """

    def __init__(self, num_members: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_members, in_dim, out_dim))
        self.bias = nn.Parameter(torch.empty(num_members, 1, out_dim))
        bound = 1.0 / math.sqrt(in_dim)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:
        if members is None:
            return torch.baddbmm(self.bias, x, self.weight)
        return torch.baddbmm(self.bias[members], x, self.weight[members])


class EnsembleMLP(nn.Module):
    """``mlp`` with ``num_members`` independent copies evaluated in one batched call.

    ``forward(x, members)`` evaluates only the members in the index ``members``, so a caller
    that needs two of five critics pays for two.
    """

    def __init__(self, num_members: int, in_dim: int, hidden_dims: Sequence[int], out_dim: int) -> None:
        super().__init__()
        self.num_members = num_members
        dims = [in_dim, *hidden_dims, out_dim]
        self.linears = nn.ModuleList(EnsembleLinear(num_members, d_in, d_out) for d_in, d_out in zip(dims[:-1], dims[1:]))
        self.norm_weights = nn.ParameterList(nn.Parameter(torch.ones(num_members, 1, d)) for d in hidden_dims)
        self.norm_biases = nn.ParameterList(nn.Parameter(torch.zeros(num_members, 1, d)) for d in hidden_dims)

    def forward(self, x: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:
        """Map ``x (members, batch, in_dim)`` to ``(members, batch, out_dim)``.

        Without autograd on the CPU, runs ``ROW_CHUNK`` rows of the batch at a time, as ``MLP`` does.
        """
        rows = x.shape[1]
        if not chunk_rows_applies(x, rows):
            return self._forward_rows(x, members)
        first = self._forward_rows(x[:, :ROW_CHUNK], members)
        out = first.new_empty(first.shape[0], rows, first.shape[-1])
        out[:, :ROW_CHUNK] = first
        for start in range(ROW_CHUNK, rows, ROW_CHUNK):
            out[:, start : start + ROW_CHUNK] = self._forward_rows(x[:, start : start + ROW_CHUNK], members)
        return out

    def _forward_rows(self, x: torch.Tensor, members: torch.Tensor | None) -> torch.Tensor:
        for linear, norm_weight, norm_bias in zip(self.linears[:-1], self.norm_weights, self.norm_biases):
            x = linear(x, members)
            if members is not None:
                norm_weight, norm_bias = norm_weight[members], norm_bias[members]
            x = nn.functional.silu(nn.functional.layer_norm(x, x.shape[-1:]) * norm_weight + norm_bias)
        return self.linears[-1](x, members)


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """Move ``target`` parameters toward ``online``: target <- (1 - tau) * target + tau * online.

    Buffers (such as running observation statistics) are copied, not averaged.
    """
    target_params = list(target.parameters())
    online_params = list(online.parameters())
    torch._foreach_lerp_(target_params, online_params, tau)
    for target_buffer, online_buffer in zip(target.buffers(), online.buffers()):
        target_buffer.copy_(online_buffer)


def effective_rank(latents: torch.Tensor) -> torch.Tensor:
    """Entropy-based effective rank of a batch of latents ``(batch, latent_dim)``.

    exp(H(p)) with p the normalized singular values of the centered batch
    (Roy & Vetterli, 2007); ranges from 1 (collapsed) to ``latent_dim``.
    """
    if not torch.isfinite(latents).all():
        # SVD raises on non-finite input; the loss check of the trainer reports the divergence.
        return latents.new_tensor(float("nan"))
    centered = latents - latents.mean(dim=0, keepdim=True)
    singular_values = torch.linalg.svdvals(centered.float())
    p = singular_values / singular_values.sum().clamp_min(1e-12)
    entropy = -(p * torch.log(p.clamp_min(1e-12))).sum()
    return torch.exp(entropy)
