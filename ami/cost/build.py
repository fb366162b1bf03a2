"""Build the cost module from the ``cost`` section: term tables, quantity heads, critic weight."""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ami.config.loader import ConfigError
from ami.config.schema import CostConfig
from ami.cost.base import COST_TERMS, CostTerm, Critic
from ami.cost.module import CostModule
from ami.cost.quantities import QuantityError, quantity_index
from ami.cost.quantity_heads import QuantityHeads
from ami.spec import TaskSpec
from ami.world_model.base import WorldModel
from ami.world_model.hjepa import HJEPAWorldModel

TERM_SECTIONS = ("terms", "safety")
"""The sections of ``cost`` whose entries are term tables."""
LATENT_DIMS = "latent_dims"
"""Constructor argument that the builder fills with the latent width of every world-model level."""


@dataclass(frozen=True)
class TermTable:
    """One parsed entry of ``cost.terms`` or ``cost.safety``."""

    key: str
    """Dotted config key, e.g. ``cost.safety.torso_angle``."""
    name: str
    term: str
    """Registered class name in ``COST_TERMS``."""
    weight: float
    options: dict[str, Any]


def parse_term_tables(config: CostConfig) -> list[TermTable]:
    """Check the term tables of ``cost.terms`` and ``cost.safety``; raise ConfigError naming the key.

    Safety weights must be positive, because a zero weight would switch the limit off.
    """
    tables = []
    for section in TERM_SECTIONS:
        for name, table in getattr(config, section).items():
            key = f"cost.{section}.{name}"
            options = dict(table)
            term = options.pop("term", name)
            if not isinstance(term, str):
                raise ConfigError(f"invalid value {term!r} for '{key}.term'; give a registered cost term name: {', '.join(COST_TERMS.names())}")
            if term not in COST_TERMS:
                raise ConfigError(COST_TERMS.unknown_name_message(term, f"{key}.term"))
            weight = options.pop("weight", 1.0)
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
                raise ConfigError(f"invalid value {weight!r} for '{key}.weight'; a cost weight must be a finite number")
            if section == "safety" and not weight > 0:
                raise ConfigError(
                    f"invalid value {weight!r} for '{key}.weight'; a safety weight must be positive, "
                    "because safety limits cannot be switched off"
                )
            tables.append(TermTable(key, name, term, float(weight), options))
    return tables


def check_number_options(table: TermTable, parameters: Mapping[str, inspect.Parameter]) -> None:
    """Raise ConfigError naming the key of an option annotated ``float`` or ``int`` whose TOML value is not a number."""
    for name, value in table.options.items():
        parameter = parameters.get(name)
        # Term modules use ``from __future__ import annotations``, so annotations may be strings.
        if parameter is None or parameter.annotation not in (float, int, "float", "int"):
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"invalid value {value!r} for '{table.key}.{name}'; expected a number")


def build_term(table: TermTable, spec: TaskSpec, latent_dims: tuple[int, ...] = ()) -> CostTerm:
    """Build ``COST_TERMS[table.term](spec, **table.options)``; bad options raise ConfigError naming the key.

    A term whose constructor takes ``latent_dims`` learns on latents, so it gets the latent width
    of every level of the world model, level 0 first.
    """
    cls = COST_TERMS.get(table.term, f"{table.key}.term")
    signature = inspect.signature(cls)
    options = dict(table.options)
    if LATENT_DIMS in signature.parameters:
        if LATENT_DIMS in options:
            raise ConfigError(f"'{table.key}.{LATENT_DIMS}' is set from the world model; remove it from the config")
        options[LATENT_DIMS] = latent_dims
    table = TermTable(table.key, table.name, table.term, table.weight, options)
    try:
        signature.bind(spec, **options)
    except TypeError as error:
        raise ConfigError(
            f"invalid options for {table.key} (term {table.term!r}): {error}. Valid options: "
            f"{', '.join(name for name in signature.parameters if name != 'spec') or 'none'}"
        ) from None
    check_number_options(table, signature.parameters)
    try:
        return cls(spec, **table.options)
    except (ValueError, QuantityError) as error:
        raise ConfigError(f"invalid {table.key}: {error}") from None


def check_quantities(terms_by_key: Mapping[str, CostTerm], task: str) -> None:
    """Raise ConfigError naming the config key of the first term that reads a quantity missing from ``task``'s table."""
    for key, term in terms_by_key.items():
        for quantity in term.quantities:
            try:
                quantity_index(task, quantity)
            except QuantityError as error:
                raise ConfigError(f"invalid {key}: {error}") from None


def level_latent_dims(world_model: WorldModel) -> tuple[int, ...]:
    """Return the latent width of every level of ``world_model``, level 0 first (one entry for a flat model)."""
    dims = [world_model.latent_dim]
    if isinstance(world_model, HJEPAWorldModel):
        dims += [world_model.level(level).latent_dim for level in range(1, world_model.num_levels)]
    return tuple(dims)


def build_cost_module(
    config: CostConfig, spec: TaskSpec, world_model: WorldModel, critic: Critic, discount: float
) -> CostModule:
    """Build every term of ``config`` and quantity heads for the quantities they read."""
    latent_dims = level_latent_dims(world_model)
    intrinsic = {
        name: (weight, build_term(TermTable(f"cost.intrinsic.{name}", name, name, weight, {}), spec, latent_dims))
        for name, weight in config.intrinsic.items()
    }
    groups: dict[str, dict[str, tuple[float, CostTerm]]] = {section: {} for section in TERM_SECTIONS}
    terms_by_key = {f"cost.intrinsic.{name}": term for name, (_, term) in intrinsic.items()}
    for table in parse_term_tables(config):
        term = build_term(table, spec, latent_dims)
        groups[table.key.split(".")[1]][table.name] = (table.weight, term)
        terms_by_key[table.key] = term
    check_quantities(terms_by_key, spec.task)

    quantities = {name for term in terms_by_key.values() for name in term.quantities}
    if quantities and spec.pixels:
        raise ConfigError(
            f"the cost terms read the quantities {sorted(quantities)}, which the quantity table reads from state "
            "observations, but this run observes camera frames (env.pixels = true); drop those terms or observe the state"
        )
    try:
        heads = QuantityHeads(spec.task, quantities, world_model.latent_dim, config.quantity_hidden_dims)
        return CostModule(
            world_model, critic, intrinsic, config.task_weight, discount,
            terms=groups["terms"], safety=groups["safety"], quantity_heads=heads, critic_weight=config.critic_weight,
        )
    except (ValueError, QuantityError) as error:
        raise ConfigError(f"invalid cost section: {error}") from None
