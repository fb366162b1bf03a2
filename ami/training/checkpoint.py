"""Checkpoints of the agent's trained modules, written atomically and loaded safely."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, or does not match the run."""


def save_checkpoint(path: Path, state: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Write ``state`` and ``metadata`` to ``path`` through a temporary file and a rename.

    A crash mid-write leaves the previous checkpoint intact.
    """
    payload = {"format_version": FORMAT_VERSION, "metadata": metadata, "state": state}
    temporary = path.with_name(path.name + ".tmp")
    torch.save(payload, temporary)
    os.replace(temporary, path)


def load_checkpoint(path: Path, device: torch.device) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``: plain data and tensors, no arbitrary code."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {str(path)!r}; a run writes it when training ends")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # noqa: BLE001 - on damaged bytes torch.load raises many types, IndexError included
        raise CheckpointError(
            f"cannot read checkpoint {str(path)!r}: it is corrupted, truncated or not a checkpoint "
            f"of this project ({describe_load_error(error)})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {str(path)!r} has an unknown format; expected format version {FORMAT_VERSION}")
    return payload


def describe_load_error(error: Exception) -> str:
    """Name a ``torch.load`` error in one line, because the CLI reports input errors as one line."""
    if isinstance(error, pickle.UnpicklingError):
        # torch's text for these spans many lines and advises weights_only=False, which would
        # let the file run code. The type name is enough.
        return type(error).__name__
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
