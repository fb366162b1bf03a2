"""Goal-cost landscape of a maze: the goal cost against the shortest-path distance, by cell.

A planner that minimizes a goal cost reaches a goal only if that cost falls along the corridors
toward it. For one goal, every free cell's centre becomes the observation of the ball at rest
there, with the goal in the observation. Its goal cost (the distance that the cost module's
first goal term computes, or the mean squared latent distance without one) is compared with
the cell's shortest-path distance to the goal's cell, in moves between cells, at every level of
the world model.

The Spearman rank correlation summarizes the comparison. At 1 the cost ranks cells as the maze
does, so greedy descent on it leads to the goal. The lower it is, the more the cost misleads
at detours, and the further the planner's horizon, or a cost beyond it, must reach.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure

from ami.actor.landmarks import LandmarkGraph, place_latents
from ami.configurator.goal import GoalSetter, latents_by_level
from ami.cost.goal import goal_pair_distance
from ami.world_model.base import WorldModel
from envs.maze_layouts import Cell, MazeLayout


@dataclass(frozen=True)
class GoalLandscape:
    """Goal cost and shortest-path distance of every free cell, for one goal cell."""

    goal_cell: Cell
    cells: tuple[Cell, ...]
    """Free cells in the layout's order."""
    path_cells: np.ndarray
    """Shortest-path distance ``(num_cells,)`` of each cell to the goal's cell, in moves."""
    latent_distances: dict[int, np.ndarray]
    """Goal cost ``(num_cells,)`` of each cell by level: the goal term's distance from its latent to the goal latent."""

    def rank_correlation(self, level: int) -> float:
        """Return the Spearman rank correlation between the cost of ``level`` and the path distance, over cells other than the goal's."""
        others = self.path_cells > 0
        return spearman(self.latent_distances[level][others], self.path_cells[others])


def cell_observations(goal_setter: GoalSetter, obs_dim: int, positions: np.ndarray, goal: tuple[float, float]) -> torch.Tensor:
    """Return observations ``(n, obs_dim)`` of the ball at rest at ``positions (n, 2)``, with ``goal`` in the observation.

    Every entry other than the position and the goal is 0, so the velocities are 0.
    """
    obs = torch.zeros(len(positions), obs_dim)
    obs[:, goal_setter.goal_indices] = torch.tensor(goal, dtype=torch.float32)
    obs[:, goal_setter.position_indices] = torch.as_tensor(positions, dtype=torch.float32)
    return obs


@torch.no_grad()
def goal_landscape(
    world_model: WorldModel,
    goal_setter: GoalSetter,
    obs_dim: int,
    layout: MazeLayout,
    goal_cell: Cell,
    device: torch.device,
    cost: torch.nn.Module | None = None,
) -> GoalLandscape:
    """Compute the goal cost of every free cell's centre toward the centre of ``goal_cell``.

    The cost is the ``pair_distance`` of the first goal term of ``cost``. Without one, it is the
    mean squared latent distance of ``goal_latent_distance``.
    """
    if not layout.is_free(goal_cell):
        raise ValueError(f"invalid goal cell {goal_cell} for maze layout {layout.name!r}: it is a wall or outside the grid")
    if not goal_setter.enabled:
        raise ValueError("the goal landscape needs configurator.goal.goal_indices and position_indices; the task's config sets none")
    cells = layout.free_cells
    goal = layout.cell_center(goal_cell)
    positions = np.array([layout.cell_center(cell) for cell in cells])
    obs = cell_observations(goal_setter, obs_dim, positions, goal).to(device)

    cell_latents = latents_by_level(world_model, obs)
    goal_latents = latents_by_level(world_model, goal_setter.goal_observation(obs[:1]))
    distance = goal_pair_distance(cost)
    distances = {
        level: distance(latents, goal_latent.expand_as(latents), level).cpu().numpy()
        for level, (latents, goal_latent) in enumerate(zip(cell_latents, goal_latents))
    }
    path_lengths = layout.path_lengths_from(goal_cell)
    path_cells = np.array([path_lengths[cell] for cell in cells])
    return GoalLandscape(goal_cell, cells, path_cells, distances)


def mean_rank_correlations(
    world_model: WorldModel,
    goal_setter: GoalSetter,
    obs_dim: int,
    layout: MazeLayout,
    device: torch.device,
    cost: torch.nn.Module | None = None,
) -> dict[int, float | None]:
    """Return each level's rank correlation averaged over every free cell as the goal.

    Goals whose correlation is undefined (a cost equal at every cell, as with collapsed latents)
    are left out. A level with no defined correlation gets None.
    """
    by_level: dict[int, list[float]] = {}
    for goal_cell in layout.free_cells:
        landscape = goal_landscape(world_model, goal_setter, obs_dim, layout, goal_cell, device, cost)
        for level in landscape.latent_distances:
            by_level.setdefault(level, []).append(landscape.rank_correlation(level))
    means: dict[int, float | None] = {}
    for level, values in by_level.items():
        defined = [value for value in values if not np.isnan(value)]
        means[level] = float(np.mean(defined)) if defined else None
    return means


@torch.no_grad()
def graph_rank_correlation(graph: LandmarkGraph, world_model: WorldModel, goal_setter: GoalSetter, obs_dim: int, layout: MazeLayout, device: torch.device) -> float | None:
    """Return the rank correlation of a ``LandmarkGraph``'s path lengths with the path distance, averaged over every free cell as the goal.

    Cells and goals query the graph as the hierarchical planner does, by the level-1 latents of their places.
    """
    cells = layout.free_cells
    positions = np.array([layout.cell_center(cell) for cell in cells])
    values = []
    for goal_cell in cells:
        obs = cell_observations(goal_setter, obs_dim, positions, layout.cell_center(goal_cell)).to(device)
        starts = place_latents(world_model, goal_setter, obs, graph.goal_fill)
        goal = place_latents(world_model, goal_setter, goal_setter.goal_observation(obs[:1]), graph.goal_fill)
        lengths = graph.path_length(starts, goal.expand_as(starts)).cpu().numpy()
        path_lengths = layout.path_lengths_from(goal_cell)
        path_cells = np.array([path_lengths[cell] for cell in cells])
        others = path_cells > 0
        values.append(spearman(lengths[others], path_cells[others]))
    defined = [value for value in values if not np.isnan(value)]
    return float(np.mean(defined)) if defined else None


def spearman(values: np.ndarray, reference: np.ndarray) -> float:
    """Return the Spearman rank correlation of two equal-length arrays, with tied values sharing their mean rank.

    Returns NaN when either array contains NaN or has fewer than two distinct values.
    """
    if len(values) != len(reference):
        raise ValueError(f"spearman needs arrays of one length, got {len(values)} and {len(reference)}")
    if len(values) < 2 or np.isnan(values).any() or np.isnan(reference).any():
        return float("nan")
    ranks, reference_ranks = average_ranks(values), average_ranks(reference)
    if ranks.std() == 0 or reference_ranks.std() == 0:
        return float("nan")
    return float(np.corrcoef(ranks, reference_ranks)[0, 1])


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Return the ranks (0 for the smallest) of ``values``, each group of ties at the mean rank of the group."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    _, group, counts = np.unique(values, return_inverse=True, return_counts=True)
    return np.bincount(group, weights=ranks)[group] / counts[group]


def landscape_figure(layout: MazeLayout, landscape: GoalLandscape, level: int) -> Figure:
    """Draw each free cell coloured by its goal cost at ``level`` (walls grey, goal marked) beside its path distance."""
    figure = Figure(figsize=(8, 3.5))
    panels = figure.subplots(1, 2)
    maps = [(landscape.latent_distances[level], f"level {level} goal cost"), (landscape.path_cells, "path distance (cells)")]
    for axes, (values, title) in zip(panels, maps):
        grid = np.full((layout.num_rows, layout.num_cols), np.nan)
        for (row, col), value in zip(landscape.cells, values):
            grid[row, col] = value
        axes.set_facecolor("0.35")
        image = axes.imshow(grid, cmap="viridis")
        row, col = landscape.goal_cell
        axes.plot(col, row, marker="*", color="red", markersize=14)
        axes.set_xticks([])
        axes.set_yticks([])
        axes.set_title(title)
        figure.colorbar(image, ax=axes, fraction=0.046)
    correlation = landscape.rank_correlation(level)
    figure.suptitle("Spearman correlation undefined" if np.isnan(correlation) else f"Spearman correlation {correlation:.2f}")
    figure.tight_layout()
    return figure
