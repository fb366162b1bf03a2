"""Checks of the hierarchical world model, hierarchical planner and goal settings, beyond what the types enforce."""

from __future__ import annotations

import dataclasses
import logging
import math

from ami.config.loader import ConfigError
from ami.config.schema import CostConfig, GoalConfig, HighLevelPlannerConfig, LevelConfig, PlannerConfig, RunConfig

logger = logging.getLogger(__name__)

GOAL_TERMS = ("goal_latent_distance", "goal_temporal_distance")
"""Registered names of the built-in goal terms, whose goal the configurator sets."""


def validate_hierarchy(config: RunConfig) -> None:
    """Raise ConfigError naming the first invalid field of ``world_model.levels`` or of the hierarchical planner."""
    world_model, planner = config.world_model, config.actor.planner
    if world_model.levels and world_model.name == "jepa":
        raise ConfigError("'world_model.levels' is set, but world_model.name = 'jepa' has one level; set world_model.name = \"hjepa\"")
    for index, level in enumerate(world_model.levels):
        key = f"world_model.levels[{index}]"
        for name in ("k", "latent_dim", "macro_action_dim", "horizon"):
            value = getattr(level, name)
            if value < 1:
                raise ConfigError(f"invalid value {value!r} for '{key}.{name}'; it must be a positive integer")
        if any(d <= 0 for d in level.hidden_dims):
            raise ConfigError(f"invalid value {list(level.hidden_dims)!r} for '{key}.hidden_dims'; every layer size must be positive")
        for name in ("loss_coef", "latent_coef", "reward_coef", "variance_coef", "covariance_coef"):
            value = getattr(level, name)
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"invalid value {value!r} for '{key}.{name}'; it must be finite and >= 0")
        if not 0 < level.reward_discount <= 1:
            raise ConfigError(f"invalid value {level.reward_discount!r} for '{key}.reward_discount'; it must be in (0, 1]")

    if planner.name != "hierarchical":
        warn_unused_high_level(planner)
        return
    if world_model.name == "jepa":
        raise ConfigError(
            "actor.planner.name = 'hierarchical' needs a hierarchical world model, but world_model.name = 'jepa'; "
            "set world_model.name = \"hjepa\""
        )
    if world_model.name == "hjepa":
        k = world_model.levels[0].k if world_model.levels else LevelConfig().k
        if planner.horizon != k:
            raise ConfigError(
                f"invalid value {planner.horizon!r} for 'actor.planner.horizon'; the hierarchical planner's low level plans "
                f"the env steps of one level-1 step, so it must equal world_model.levels[0].k = {k}"
            )
    if planner.high_level.subgoal == "waypoint" and not goal_term_keys(config.cost):
        raise ConfigError(
            "actor.planner.high_level.subgoal = \"waypoint\" steers toward waypoints on the way to a goal, but the cost has no "
            "goal term; add one (e.g. cost.terms.goal with term = \"goal_temporal_distance\") and configurator.goal, "
            "or set actor.planner.high_level.subgoal = \"plan\""
        )
    landmarks = planner.high_level.landmarks
    if landmarks > 0 and config.env.pixels:
        raise ConfigError(
            f"'actor.planner.high_level.landmarks' = {landmarks} needs stored state observations to build its graph, "
            "but env.pixels = true stores frames; set actor.planner.high_level.landmarks = 0"
        )


def warn_unused_high_level(planner: PlannerConfig) -> None:
    """Log a warning naming the ``actor.planner.high_level`` fields changed from their defaults, which a flat planner ignores."""
    defaults = HighLevelPlannerConfig()
    changed = [
        field.name
        for field in dataclasses.fields(HighLevelPlannerConfig)
        if getattr(planner.high_level, field.name) != getattr(defaults, field.name)
    ]
    if changed:
        logger.warning(
            "actor.planner.high_level fields changed from their defaults have no effect with actor.planner.name = %r, "
            "because only the \"hierarchical\" planner reads them: %s; set actor.planner.name = \"hierarchical\" or remove them",
            planner.name, ", ".join(changed),
        )


def validate_goal(config: RunConfig) -> None:
    """Raise ConfigError if ``configurator.goal`` is inconsistent or a goal cost term has no goal to read."""
    goal = config.configurator.goal
    if len(goal.goal_indices) != len(goal.position_indices):
        raise ConfigError(
            f"'configurator.goal.goal_indices' {list(goal.goal_indices)!r} and 'configurator.goal.position_indices' "
            f"{list(goal.position_indices)!r} must have the same length, because each goal entry replaces one position entry"
        )
    for name in ("goal_indices", "position_indices", "zero_indices"):
        indices = getattr(goal, name)
        if any(index < 0 for index in indices):
            raise ConfigError(f"invalid value {list(indices)!r} for 'configurator.goal.{name}'; observation indices must be >= 0")
    overlap = sorted(set(goal.goal_indices) & set(goal.position_indices))
    if overlap:
        raise ConfigError(
            f"'configurator.goal.goal_indices' and 'configurator.goal.position_indices' share the entries {overlap}, "
            "so the goal observation would copy those entries onto themselves; give the goal's and the position's own entries"
        )
    zeroed = sorted(set(goal.zero_indices) & (set(goal.goal_indices) | set(goal.position_indices)))
    if zeroed:
        raise ConfigError(
            f"'configurator.goal.zero_indices' {list(goal.zero_indices)!r} shares the entries {zeroed} with goal_indices or "
            "position_indices, so goal observations would lose their goal or position; list only entries to set to 0, "
            "such as velocities"
        )
    if goal.zero_indices and not goal.goal_indices:
        raise ConfigError(
            f"'configurator.goal.zero_indices' is {list(goal.zero_indices)!r} but goal_indices is empty, so no goal observation "
            "is built; set goal_indices and position_indices, or remove zero_indices"
        )
    validate_goal_terms(
        config.cost, goal, "set configurator.goal.goal_indices and configurator.goal.position_indices"
    )


def validate_goal_terms(cost: CostConfig, goal: GoalConfig, fix: str) -> None:
    """Raise ConfigError if a goal term is a safety limit or has no goal to read, ending the second message with ``fix``."""
    keys = goal_term_keys(cost)
    safety_keys = [key for key in keys if key.startswith("cost.safety.")]
    if safety_keys:
        raise ConfigError(
            f"{safety_keys[0]} uses a goal term ({', '.join(GOAL_TERMS)}), which cannot be a safety limit: the configurator sets "
            "goals only for cost.intrinsic and cost.terms, so it would cost nothing. Move it to one of those"
        )
    if keys and not goal.goal_indices:
        raise ConfigError(f"{keys[0]} needs the goal's place in the observation; {fix}")


def goal_term_keys(cost: CostConfig) -> list[str]:
    """Return the dotted keys of the goal terms in ``cost.intrinsic``, ``cost.terms`` and ``cost.safety``."""
    keys = [f"cost.intrinsic.{name}" for name in cost.intrinsic if name in GOAL_TERMS]
    for section in ("terms", "safety"):
        for name, table in getattr(cost, section).items():
            # A table without ``term`` uses the registered term of its own name.
            if table.get("term", name) in GOAL_TERMS:
                keys.append(f"cost.{section}.{name}")
    return keys


def validate_sequence_length(config: RunConfig, required: int, num_envs: int = 1) -> None:
    """Raise ConfigError if the replay cannot provide the ``required``-step sub-trajectories of the world-model loss.

    ``required`` is the built world model's ``required_sequence_length``: ``world_model.horizon``
    for ``jepa``, and at least ``k * horizon`` of each level for ``hjepa``. The replay splits
    its capacity over ``num_envs`` envs.
    """
    train = config.train
    capacity = train.total_steps if config.memory.capacity == "auto" else config.memory.capacity
    if capacity // num_envs < required:
        raise ConfigError(
            f"invalid value {config.memory.capacity!r} for 'memory.capacity'; the world model {config.world_model.name!r} "
            f"trains on sub-trajectories of {required} steps, but the replay keeps {capacity // num_envs} steps per env. "
            "Raise memory.capacity, or lower world_model.horizon or the k and horizon of world_model.levels"
        )
    if train.seed_steps < required * num_envs:
        raise ConfigError(
            f"invalid value {train.seed_steps!r} for 'train.seed_steps'; the world model {config.world_model.name!r} trains on "
            f"sub-trajectories of {required} steps, so the first update needs at least {required * num_envs} seed steps. "
            "Raise train.seed_steps, or lower world_model.horizon or the k and horizon of world_model.levels"
        )
