"""Goal cost: the latent distance to an encoded goal observation, at every level of the world model."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ami.cost.base import INTRINSIC_COSTS, IntrinsicCost
from ami.spec import TaskSpec


@INTRINSIC_COSTS.register("goal_latent_distance")
class GoalLatentDistance(IntrinsicCost):
    """Mean squared distance between a latent and the latent of the goal, 0 while no goal is set.

    The configurator sets the goal from the current observation (``configurator.goal``): it
    encodes an observation whose position entries are the goal, and abstracts that latent to
    every level of a hierarchical world model. A new goal therefore needs no retraining.
    ``forward`` scores level-0 latents; the hierarchical planner calls ``distance`` with
    ``level = 1``.

    Goals have one row per env. Planners stack candidates sample-major, ``(num_samples *
    num_envs, latent_dim)``, so a latent batch of ``n * num_envs`` rows is compared row by row
    with the goals repeated ``n`` times.

    The goal changes from episode to episode, so the term is ``planning_only`` and the critic's
    TD targets leave it out.
    """

    planning_only = True

    def __init__(self, spec: TaskSpec) -> None:
        super().__init__()
        self.goal_latents: list[torch.Tensor] = []
        """Goal latent ``(num_envs, latent_dim_l)`` of each level ``l``, level 0 first; empty while no goal is set."""

    @property
    def has_goal(self) -> bool:
        return bool(self.goal_latents)

    def set_goal(self, goal_latents: list[torch.Tensor]) -> None:
        """Set the goal latents ``(num_envs, latent_dim_l)`` of levels 0, 1, ... (detached)."""
        if not goal_latents:
            raise ValueError("set_goal needs the goal latent of level 0 at least; call clear_goal to remove the goal")
        num_envs = goal_latents[0].shape[0]
        for level, latent in enumerate(goal_latents):
            if latent.dim() != 2 or latent.shape[0] != num_envs:
                raise ValueError(
                    f"goal latent of level {level} has shape {tuple(latent.shape)}; expected (num_envs, latent_dim) with num_envs={num_envs}"
                )
        self.goal_latents = [latent.detach() for latent in goal_latents]

    def clear_goal(self) -> None:
        self.goal_latents = []

    def goal_latent(self, level: int = 0) -> torch.Tensor | None:
        """Goal latent ``(num_envs, latent_dim_l)`` of ``level``, or None when no goal of that level is set."""
        return self.goal_latents[level] if level < len(self.goal_latents) else None

    def distance(self, latent: torch.Tensor, level: int = 0) -> torch.Tensor:
        """Mean squared distance ``(..., rows)`` of ``latent (..., rows, latent_dim_l)`` to the goal of ``level``."""
        goal = self.goal_latent(level)
        if goal is None:
            return latent.new_zeros(latent.shape[:-1])
        if latent.dim() < 2 or latent.shape[-1] != goal.shape[-1]:
            raise ValueError(
                f"latent of shape {tuple(latent.shape)} cannot be compared with the level-{level} goal of shape {tuple(goal.shape)}; "
                "expected (..., rows, latent_dim) with the goal's latent_dim"
            )
        rows, num_envs = latent.shape[-2], goal.shape[0]
        if rows % num_envs != 0:
            raise ValueError(
                f"{rows} latent rows do not split into the goals of {num_envs} envs; planners stack candidates "
                "sample-major, num_samples * num_envs rows"
            )
        goal = goal.to(latent.dtype).repeat(rows // num_envs, 1)  # (rows, latent_dim), sample-major
        return self.pair_distance(latent, goal.expand_as(latent), level)

    def pair_distance(self, latent: torch.Tensor, goal: torch.Tensor, level: int = 0) -> torch.Tensor:
        """Return the distance ``(...)`` from each ``latent (..., latent_dim_l)`` to its own ``goal (..., latent_dim_l)``."""
        return squared_distance(latent, goal, level)

    def forward(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.distance(latent, level=0)


def squared_distance(latent: torch.Tensor, goal: torch.Tensor, level: int = 0) -> torch.Tensor:
    """Return the mean squared distance ``(...)`` between ``latent`` and ``goal``, both ``(..., D)``. ``level`` is unused."""
    return (latent - goal).square().mean(dim=-1)


def goal_pair_distance(cost: torch.nn.Module | None) -> Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]:
    """Return the ``pair_distance`` of the cost module's first goal term, or ``squared_distance`` without one."""
    terms = named_goal_terms(cost) if cost is not None else []
    return terms[0][2].pair_distance if terms else squared_distance


def find_goal_terms(cost: torch.nn.Module) -> list[tuple[float, GoalLatentDistance]]:
    """Return ``(weight, term)`` of every goal term of the cost module, in ``cost.intrinsic`` and ``cost.terms``."""
    return [(weight, term) for _, weight, term in named_goal_terms(cost)]


def named_goal_terms(cost: torch.nn.Module) -> list[tuple[str, float, GoalLatentDistance]]:
    """Return ``(name, weight, term)`` of every goal term of the cost module. The name keys its cost in ``TrajectoryCost.terms``."""
    found = []
    # ``terms`` (task terms) exists only in cost modules that support task term tables.
    for modules_name, weights_name in (("intrinsic", "intrinsic_weights"), ("terms", "term_weights")):
        modules = getattr(cost, modules_name, None)
        if modules is None:
            continue
        weights = getattr(cost, weights_name)
        for name, term in modules.items():
            if isinstance(term, GoalLatentDistance):
                found.append((name, float(weights[name]), term))
    return found
