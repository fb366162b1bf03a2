"""A fixed, held-out set of far-apart start/goal pairs for evaluating maze navigation.

Training resets of ``PointMazeEnv`` draw a random start and goal from the env's ``np_random``,
near or far. Evaluation of long-horizon navigation instead resets with these pairs,
``env.reset(options=pair.reset_options())``, so that every agent and every evaluation gets the
same far-apart pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.maze_layouts import MazeLayout, get_layout, sample_point_in_cell
from envs.point_maze import POSITION_SPREAD


@dataclass(frozen=True)
class MazePair:
    """A start and a goal position in metres, and the shortest-path length between their cells."""

    start: tuple[float, float]
    goal: tuple[float, float]
    path_cells: int
    """Shortest-path length from the start's cell to the goal's cell, in moves between adjacent free cells."""

    def reset_options(self) -> dict[str, tuple[float, float]]:
        """Return the ``reset`` options that start an episode from this pair."""
        return {"start": self.start, "goal": self.goal}


def held_out_pairs(
    layout: str | MazeLayout, num_pairs: int = 50, seed: int = 0, min_path_cells: int | None = None
) -> list[MazePair]:
    """Draw ``num_pairs`` start/goal pairs whose cells are at least ``min_path_cells`` moves apart.

    The same layout, ``num_pairs``, seed and ``min_path_cells`` always give the same pairs, and
    the pairs for a smaller ``num_pairs`` are the first pairs of a larger one. Each pair takes
    a cell pair uniformly from all ordered pairs of free cells that are far enough apart, then
    a start and a goal point uniformly within ``POSITION_SPREAD`` cells of those cells'
    centres, as training resets do. Small mazes have few far cell pairs, so pairs may share cells.

    ``min_path_cells`` defaults to the layout's ``eval_min_path_cells``.
    """
    layout = get_layout(layout)
    if min_path_cells is None:
        min_path_cells = layout.eval_min_path_cells
    if not isinstance(num_pairs, int) or num_pairs < 1:
        raise ValueError(f"invalid num_pairs {num_pairs!r}; use a positive number of pairs")
    if not 1 <= min_path_cells <= layout.diameter:
        raise ValueError(
            f"invalid min_path_cells {min_path_cells!r} for maze layout {layout.name!r}; use a value in "
            f"[1, {layout.diameter}], the maze's diameter (maximum shortest-path length)"
        )

    cell_pairs = [
        (start, goal, length)
        for start, lengths in layout.path_length_table.items()
        for goal, length in lengths.items()
        if length >= min_path_cells
    ]
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(num_pairs):
        start_cell, goal_cell, length = cell_pairs[int(rng.integers(len(cell_pairs)))]
        start = sample_point_in_cell(layout, start_cell, rng, POSITION_SPREAD)
        goal = sample_point_in_cell(layout, goal_cell, rng, POSITION_SPREAD)
        pairs.append(MazePair(start=tuple(map(float, start)), goal=tuple(map(float, goal)), path_cells=length))
    return pairs
