"""Checkpoints of a training run: written atomically, loaded safely, checked against the run."""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from ami.config.loader import to_dict
from ami.config.schema import RunConfig
from ami.spec import TaskSpec

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT_VERSION = 2

MODULE_SECTIONS = ("env", "perception", "world_model", "cost", "actor", "memory")
"""Config sections that shape the saved modules and replay buffer; they must match on load."""


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, or does not match the run."""


def checkpoint_metadata(config: RunConfig, spec: TaskSpec, step: int) -> dict[str, Any]:
    """Describe what a checkpoint was written for, in plain data, to check it on load."""
    return {
        "task": spec.task,
        "step": step,
        "obs_dim": spec.obs_dim,
        "action_dim": spec.action_dim,
        "action_low": list(spec.action_low),
        "action_high": list(spec.action_high),
        "config": {section: to_dict(getattr(config, section)) for section in MODULE_SECTIONS},
        "run_config": to_dict(config),
    }


def save_checkpoint(path: Path, state: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Write ``state`` and ``metadata`` to ``path`` through a temporary file and a rename.

    Raises CheckpointError, and writes nothing, if a floating-point tensor in ``state`` contains
    NaN or infinity. A crash mid-write leaves the previous checkpoint intact, because the
    rename happens only after the temporary file is flushed to disk.
    """
    nonfinite = first_nonfinite_tensor(state)
    if nonfinite is not None:
        raise CheckpointError(f"not writing checkpoint {str(path)!r}: {nonfinite} contains NaN or infinite values")

    payload = {"format_version": FORMAT_VERSION, "metadata": metadata, "state": state}
    temporary = path.with_name(path.name + ".tmp")
    try:
        with open(temporary, "wb") as file:
            torch.save(payload, file)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, path)
    sync_directory(path.parent)


def sync_directory(directory: Path) -> None:
    """Flush a rename in ``directory`` to disk where the platform allows opening folders."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def named_tensors(value: Any, prefix: str = "state") -> Iterator[tuple[str, torch.Tensor]]:
    """Yield every tensor nested in dicts, lists and tuples of ``value``, with its dotted path."""
    if isinstance(value, torch.Tensor):
        yield prefix, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from named_tensors(item, f"{prefix}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from named_tensors(item, f"{prefix}[{index}]")


def first_nonfinite_tensor(state: Any) -> str | None:
    """Return the path of the first floating-point tensor in ``state`` with NaN or infinity, or None."""
    for name, tensor in named_tensors(state):
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            return name
    return None


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint onto the CPU with ``weights_only=True``: plain data and tensors, no code.

    Tensors saved on a GPU load on a CPU-only machine; modules copy them to their own device
    in ``load_state_dict``. The random-number generator states must stay on the CPU anyway.
    """
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {str(path)!r}; a run writes it every train.checkpoint_every steps and at the end")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - on damaged bytes torch.load raises many types, IndexError included
        raise CheckpointError(
            f"cannot read checkpoint {str(path)!r}: it is corrupted, truncated or not a checkpoint "
            f"of this project ({describe_load_error(error)})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
        found = payload.get("format_version") if isinstance(payload, dict) else None
        raise CheckpointError(
            f"checkpoint {str(path)!r} has an unknown format (version {found!r}); expected format version {FORMAT_VERSION}"
        )
    for key in ("metadata", "state"):
        if not isinstance(payload.get(key), dict):
            raise CheckpointError(f"checkpoint {str(path)!r} is damaged: its {key!r} entry is missing or not a table")
    nonfinite = first_nonfinite_tensor(payload["state"])
    if nonfinite is not None:
        raise CheckpointError(f"checkpoint {str(path)!r} is damaged: {nonfinite} contains NaN or infinite values")
    return payload


def describe_load_error(error: Exception) -> str:
    """Name a ``torch.load`` error in one line, because the CLI reports input errors as one line."""
    if isinstance(error, pickle.UnpicklingError):
        # torch's text for these spans many lines and advises weights_only=False, which would
        # let the file run code. The first line names the rejected global, if any.
        lines = [line for line in str(error).splitlines() if "Unsupported global" in line]
        return f"{type(error).__name__}: {lines[0].strip()}" if lines else type(error).__name__
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def check_checkpoint_matches(metadata: dict[str, Any], config: RunConfig, spec: TaskSpec, path: Path) -> None:
    """Raise CheckpointError naming the first difference between a checkpoint and this run."""
    expected = checkpoint_metadata(config, spec, step=0)
    for key in ("task", "obs_dim", "action_dim", "action_low", "action_high"):
        if metadata.get(key) != expected[key]:
            raise CheckpointError(
                f"checkpoint {str(path)!r} was written for {key}={metadata.get(key)!r} but this run has {expected[key]!r}; "
                "load each checkpoint with the config.toml of its own run folder"
            )

    saved_config = flatten(metadata.get("config", {}))
    defaults = flatten({section: to_dict(getattr(RunConfig(), section)) for section in MODULE_SECTIONS})
    difference = first_difference(saved_config, flatten(expected["config"]), defaults)
    if difference is not None:
        key, saved, value = difference
        raise CheckpointError(
            f"checkpoint {str(path)!r} was written with {key}={saved!r} but the config gives {value!r}; "
            "was config.toml edited after the run? Restore the value the run was trained with"
        )


def check_resume_config(metadata: dict[str, Any], config: RunConfig, path: Path, changeable: tuple[str, ...]) -> None:
    """Raise CheckpointError naming the first field, other than ``changeable``, that differs from the checkpoint's run.

    Training settings outside the module sections (learning rate, seed, configurator) do not
    shape the saved tensors, but a resume that changed them would no longer continue the same
    run. Checkpoints written before the whole config was saved are not checked.
    """
    if "run_config" not in metadata:
        return
    current = {key: value for key, value in flatten(to_dict(config)).items() if key not in changeable}
    difference = first_difference(flatten(metadata["run_config"]), current, flatten(to_dict(RunConfig())))
    if difference is not None:
        key, saved, value = difference
        raise CheckpointError(
            f"checkpoint {str(path)!r} was written with {key}={saved!r} but config.toml gives {value!r}; a resume "
            f"continues the same run, so restore the value, or start a new run to change it (only {', '.join(changeable)} may change)"
        )


def first_difference(saved: dict[str, Any], current: dict[str, Any], defaults: dict[str, Any]) -> tuple[str, Any, Any] | None:
    """Return the first ``(key, saved value, current value)`` that differs between two flat configs, or None.

    A field added to the schema after the checkpoint was written is absent from ``saved``. That
    run used the field's default, so only a value other than the default in ``defaults`` differs.
    """
    for key, value in current.items():
        if key not in saved and key in defaults and value == defaults[key]:
            continue
        saved_value = saved.get(key, "<missing>")
        if saved_value != value:
            return key, saved_value, value
    return None


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one dict with dotted keys."""
    flat = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat

