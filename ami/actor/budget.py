"""Planning compute per action, counted in latent transitions, and a flat budget matched to a hierarchical one.

One latent transition is one predictor call for one candidate at one step, at any level. A
flat planner makes ``num_samples * iterations * horizon`` of them per action. The
hierarchical planner makes ``high_level.num_samples * high_level.iterations *
high_level.horizon`` level-1 transitions plus ``num_samples * iterations * k`` level-0
transitions, where its low-level horizon is ``k`` (the level-0 transitions alone when its
subgoal is a landmark graph's waypoint). The count ignores the cost of a transition,
so a level-1 step (chunk encoder and level-1 predictor) counts as much as a level-0 step.
"""

from __future__ import annotations

from ami.config.schema import PlannerConfig


def flat_transitions_per_action(config: PlannerConfig) -> int:
    """Return the latent transitions of one call of a flat planner (``mppi`` or ``cem``)."""
    return config.num_samples * config.iterations * config.horizon


def hierarchical_transitions_per_action(config: PlannerConfig) -> int:
    """Return the level-1 plus level-0 latent transitions of one call of the ``hierarchical`` planner.

    With ``high_level.subgoal = "waypoint"`` the high level is a search of the landmark graph
    and rolls out no latents, so only the low level's transitions count.
    """
    high = config.high_level
    if high.subgoal == "waypoint":
        return flat_transitions_per_action(config)
    return high.num_samples * high.iterations * high.horizon + flat_transitions_per_action(config)


def transitions_per_action(config: PlannerConfig) -> int:
    """Return the latent transitions per action of the planner that ``config.name`` names."""
    if config.name == "hierarchical":
        return hierarchical_transitions_per_action(config)
    return flat_transitions_per_action(config)


def matched_flat_num_samples(budget: int, horizon: int, iterations: int) -> int:
    """Return the ``num_samples`` of a flat planner whose transitions per action are nearest to ``budget``.

    The result is at least 1, so the match is within half a sample's ``horizon * iterations``
    transitions whenever ``budget >= horizon * iterations``.
    """
    for name, value in (("budget", budget), ("horizon", horizon), ("iterations", iterations)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"invalid {name} {value!r}; use a positive integer")
    return max(1, round(budget / (horizon * iterations)))
