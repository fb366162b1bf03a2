"""Device selection."""

from __future__ import annotations

import torch


def resolve_device(name: str) -> torch.device:
    """Map ``auto`` to CUDA when present, else CPU; check that an explicit device exists."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"invalid device {name!r}; use 'auto', 'cpu', 'cuda' or 'cuda:N'") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available; use device = 'auto' or 'cpu'")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {name!r}; use 'auto', 'cpu', 'cuda' or 'cuda:N'")
    return device
