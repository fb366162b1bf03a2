"""Global random-number generator states as plain data, for checkpoints that resume exactly."""

from __future__ import annotations

import logging
import random
from typing import Any

import numpy as np
import torch

logger = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's global generators (PyTorch's on every device)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rng_state_dict() -> dict[str, Any]:
    """Capture the global generators of Python, NumPy, PyTorch's CPU and every CUDA device."""
    version, internal_state, gauss_next = random.getstate()
    numpy_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": {"version": version, "state": list(internal_state), "gauss_next": gauss_next},
        "numpy": {
            "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
            "pos": numpy_state["state"]["pos"],
            "has_gauss": numpy_state["has_gauss"],
            "gauss": numpy_state["gauss"],
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def load_rng_state_dict(state: dict[str, Any]) -> None:
    """Restore the generators of ``rng_state_dict``; CUDA states are skipped, with a warning, without CUDA."""
    python = state["python"]
    random.setstate((python["version"], tuple(python["state"]), python["gauss_next"]))

    numpy = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": "MT19937",
            "state": {"key": numpy["key"].numpy().astype(np.uint32), "pos": numpy["pos"]},
            "has_gauss": numpy["has_gauss"],
            "gauss": numpy["gauss"],
        }
    )

    torch.set_rng_state(state["torch"].cpu())
    saved_cuda = state.get("cuda")
    if saved_cuda is None:
        return
    if not torch.cuda.is_available():
        logger.warning("the checkpoint contains CUDA random states but CUDA is not available; they are not restored")
        return
    if len(saved_cuda) != torch.cuda.device_count():
        logger.warning(
            "the checkpoint contains random states of %d CUDA devices but %d are visible; they are not restored",
            len(saved_cuda),
            torch.cuda.device_count(),
        )
        return
    torch.cuda.set_rng_state_all([cuda_state.cpu() for cuda_state in saved_cuda])
