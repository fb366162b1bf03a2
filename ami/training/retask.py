"""Re-task a trained agent: swap its cost module for another cost section without retraining.

The deliberative actor minimizes the cost through the world model at run time, so a new cost
changes its behaviour at once. The world model, the critic and the policy stay as trained.
Quantity heads that the new cost needs and the checkpoint lacks are fitted from the
checkpoint's replay buffer first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from agents.ami_agent import AMIAgent
from ami.config.loader import ConfigError, apply_override, from_dict, read_toml, to_dict
from ami.config.hierarchy import validate_goal_terms
from ami.config.schema import CostConfig
from ami.config.validate import validate_cost_section
from ami.cost.build import build_cost_module
from ami.cost.module import CostModule
from ami.cost.quantities import read_quantity
from ami.cost.quantity_heads import QuantityHeads, quantity_loss
from ami.memory.base import ReplayBuffer
from ami.memory.batch import TrajectoryBatch
from ami.world_model.base import WorldModel

logger = logging.getLogger(__name__)

FIXED_KEYS = ("critic", "quantity_hidden_dims")
"""Cost keys that shape the checkpoint's networks, so a new cost cannot change them."""
MERGED_KEYS = ("intrinsic", "safety")
"""Tables whose entries a new cost adds or changes but cannot remove: fixed costs stay on."""


def check_term_exists(raw: dict[str, Any], override: str) -> None:
    """Raise ConfigError for an override of a field of ``terms.NAME`` when the cost has no term ``NAME``.

    Setting ``terms.NAME.term`` adds the term, so only that field may name a new one.
    """
    key = override.partition("=")[0].strip()
    parts = key.split(".")
    if len(parts) < 3 or parts[0] != "terms" or parts[2] == "term":
        return
    terms = raw.get("terms") or {}
    if parts[1] not in terms:
        raise ConfigError(
            f"--cost-set {key}: the cost has no term {parts[1]!r} (its terms: {sorted(terms) or 'none'}); add it with "
            f"--cost-set terms.{parts[1]}.term=CLASS before its fields, or give a --cost FILE that defines it"
        )


def resolve_new_cost(run_cost: CostConfig, cost_file: str | Path | None, overrides: list[str]) -> CostConfig:
    """Return the run's cost section with ``cost_file`` and ``key=value`` overrides applied.

    ``cost_file`` contains the keys of a ``[cost]`` section, at the top level or under ``[cost]``.
    ``terms`` and scalar keys replace the run's. Entries of ``intrinsic`` and ``safety`` are
    added or changed key by key (``[safety.flip] weight = 5.0`` keeps the run's limits of
    ``flip``), and every safety term of the run must remain. Override keys are
    relative to the cost section, e.g. ``terms.speed.target=3.0``. Raises ConfigError naming
    the key and the valid choices.
    """
    raw = to_dict(run_cost)
    if cost_file is not None:
        new = read_toml(cost_file)
        if isinstance(new.get("cost"), dict):
            outside = sorted(set(new) - {"cost"})
            if outside:
                raise ConfigError(
                    f"cost file {str(cost_file)!r} has keys outside its [cost] section: {outside}; --cost takes only a "
                    "cost section, e.g. experiments/costs/half_cheetah_speed_2.toml, so remove them or copy [cost] to a file of its own"
                )
            new = new["cost"]
        for key, value in new.items():
            if key in FIXED_KEYS and value != raw.get(key):
                raise ConfigError(
                    f"cost file {str(cost_file)!r} sets cost.{key}, which the checkpoint's networks fix; remove it from the file"
                )
            if key in MERGED_KEYS and isinstance(value, dict) and isinstance(raw.get(key), dict):
                raw[key] = merge_entries(raw[key], value)
            else:
                raw[key] = value
    for override in overrides:
        check_term_exists(raw, override)
        apply_override(raw, override)

    cost = from_dict(CostConfig, raw, "cost.")
    for key in FIXED_KEYS:
        if getattr(cost, key) != getattr(run_cost, key):
            raise ConfigError(f"cost.{key} cannot change at evaluation, because the checkpoint's networks fix it")
    removed = sorted(set(run_cost.safety) - set(cost.safety))
    if removed:
        raise ConfigError(
            f"the new cost drops the run's safety terms {removed}; safety limits cannot be switched off. "
            f"Keep them (change their limits or weights if needed); the run's safety terms: {sorted(run_cost.safety)}"
        )
    validate_cost_section(cost)
    return cost


def merge_entries(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Entries of ``old`` updated by ``new``; a table entry in both keeps the old keys that ``new`` does not set."""
    merged = dict(old)
    for name, value in new.items():
        if isinstance(value, dict) and isinstance(merged.get(name), dict):
            merged[name] = {**merged[name], **value}
        else:
            merged[name] = value
    return merged


@dataclass(frozen=True)
class HeadFit:
    """Origin of one quantity head of a re-tasked cost, and its error on replay."""

    source: str
    """``checkpoint`` (trained with the run) or ``fitted`` (from the replay buffer before evaluating)."""
    rmse: float
    """Root-mean-square error on fresh replay samples, in the quantity's unit."""
    target_std: float
    """Standard deviation of the quantity on those samples; an RMSE well below it means the head explains the quantity."""


def retask(
    agent: AMIAgent, cost_config: CostConfig, fit_steps: int = 500, fit_batch_size: int = 256, learning_rate: float = 1e-3
) -> dict[str, HeadFit]:
    """Replace ``agent``'s cost module by one built from ``cost_config``; return how each quantity head was obtained.

    The critic and the checkpoint's quantity heads carry over. Missing heads are fitted from
    ``agent.modules.replay``, which must hold the run's transitions (load the checkpoint's
    memory first).
    """
    validate_goal_terms(
        cost_config, agent.config.configurator.goal,
        "the run was trained without configurator.goal, so drop the term or train a run that sets configurator.goal",
    )
    modules = agent.modules
    old = modules.cost
    discount = old.discount if cost_config.discount == "auto" else float(cost_config.discount)
    new = build_cost_module(cost_config, agent.spec, modules.world_model, old.critic, discount).to(agent.device)
    horizon = agent.config.world_model.horizon

    fits = {}
    missing = []
    for name in new.quantity_heads.names:
        if name in old.quantity_heads:
            new.quantity_heads.heads[name].load_state_dict(old.quantity_heads.heads[name].state_dict())
            fits[name] = HeadFit("checkpoint", *head_error(new.quantity_heads, name, modules.world_model, modules.replay, horizon))
        else:
            missing.append(name)
    if missing:
        if len(modules.replay) < horizon:
            raise ValueError(
                f"the new cost reads quantities {missing} that the checkpoint has no heads for, and its replay buffer "
                f"holds {len(modules.replay)} steps, too few to fit them; train a run with these cost terms instead"
            )
        fit_heads(new.quantity_heads, missing, modules.world_model, modules.replay, horizon, fit_steps, fit_batch_size, learning_rate)
        for name in missing:
            fits[name] = HeadFit("fitted", *head_error(new.quantity_heads, name, modules.world_model, modules.replay, horizon))
    for name, fit in fits.items():
        logger.info("quantity head %s (%s): RMSE %.4g on replay samples, quantity std %.4g", name, fit.source, fit.rmse, fit.target_std)

    modules.cost = new
    agent.learner.cost = new
    logger.info("re-tasked the agent: cost terms %s", describe_cost(new))
    return fits


@torch.no_grad()
def rollout_latents(world_model: WorldModel, batch: TrajectoryBatch) -> torch.Tensor:
    """Latents ``(horizon + 1, batch, latent_dim)``: the encoded first observation, then level-0 predictions."""
    latents = [world_model.encode(batch.obs)]
    for t in range(batch.horizon):
        latents.append(world_model.predict(latents[-1], batch.actions[t]))
    return torch.stack(latents)


def fit_heads(
    heads: QuantityHeads,
    names: list[str],
    world_model: WorldModel,
    replay: ReplayBuffer,
    horizon: int,
    steps: int,
    batch_size: int,
    learning_rate: float,
) -> None:
    """Train the heads ``names`` on replay sub-trajectories, as the learner trains them during a run."""
    parameters = [p for name in names for p in heads.heads[name].parameters()]
    optimizer = torch.optim.Adam(parameters, lr=learning_rate)
    logger.info("fitting quantity heads %s from %d replay steps for %d steps", names, len(replay), steps)
    for _ in range(steps):
        batch = replay.sample(batch_size, horizon)
        loss, _ = quantity_loss(heads, rollout_latents(world_model, batch), batch, names)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


@torch.no_grad()
def head_error(
    heads: QuantityHeads, name: str, world_model: WorldModel, replay: ReplayBuffer, horizon: int, batch_size: int = 1024
) -> tuple[float, float]:
    """Return the RMSE of head ``name`` and the std of its quantity on a fresh replay sample."""
    # NOTE: the sample comes from the replay buffer that the heads were fitted on, so this is a
    # training error, not a held-out one. Fresh sub-trajectories of a large buffer narrow the gap.
    batch = replay.sample(batch_size, horizon)
    _, metrics = quantity_loss(heads, rollout_latents(world_model, batch), batch, [name])
    target = read_quantity(heads.task, name, batch.obs)
    return float(metrics[f"quantity/{name}/rmse"]), float(target.std())


def describe_cost(cost: CostModule) -> dict[str, Any]:
    """Plain description of the terms and weights of ``cost``, for logs and printed results."""
    def describe(term: torch.nn.Module, weight: float) -> dict[str, Any]:
        return {"term": type(term).__name__, "weight": weight, "options": term.extra_repr()}

    return {
        "task_weight": cost.task_weight,
        "critic_weight": cost.critic_weight,
        "terms": {name: describe(term, cost.term_weights[name]) for name, term in cost.terms.items()},
        "intrinsic": dict(cost.intrinsic_weights),
        "safety": {name: describe(term, cost.safety_weights[name]) for name, term in cost.safety.items()},
    }
