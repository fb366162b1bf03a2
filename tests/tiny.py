"""Tiny configs, task specs and devices shared by the tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ami.config import load_config
from ami.config.schema import RunConfig
from ami.spec import TaskSpec

REPO_ROOT = Path(__file__).resolve().parent.parent
DEBUG_CONFIG = REPO_ROOT / "experiments" / "configs" / "debug.toml"

LATENT_DIM = 8
NUM_CRITICS = 3
HORIZON = 3

DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")),
]
"""Device names for ``pytest.mark.parametrize``. The CUDA case is skipped without a GPU."""


def tiny_spec(
    action_low: tuple[float, ...] = (-1.0, -1.0),
    action_high: tuple[float, ...] = (1.0, 1.0),
    obs_dim: int = 5,
) -> TaskSpec:
    """Task spec of a made-up task: no env is needed to build the modules."""
    return TaskSpec(
        task="Tiny-v0",
        obs_dim=obs_dim,
        action_dim=len(action_low),
        action_low=action_low,
        action_high=action_high,
        max_episode_steps=100,
    )


def tiny_config(*overrides: str) -> RunConfig:
    """Default config with layers of 16 units, a 3-step horizon and 16 planner samples.

    ``overrides`` are ``key=value`` strings, applied after the tiny sizes.
    """
    sizes = [
        f"perception.latent_dim={LATENT_DIM}",
        "perception.hidden_dims=[16]",
        "world_model.hidden_dims=[16]",
        f"world_model.horizon={HORIZON}",
        f"cost.critic.num_critics={NUM_CRITICS}",
        "cost.critic.hidden_dims=[16]",
        "actor.policy.hidden_dims=[16]",
        f"actor.planner.horizon={HORIZON}",
        "actor.planner.num_samples=16",
        "actor.planner.num_elites=4",
        "actor.planner.iterations=2",
        "actor.planner.policy_fraction=0.25",
        "memory.capacity=64",
        "memory.batch_size=4",
    ]
    return load_config(None, [*sizes, *overrides])
