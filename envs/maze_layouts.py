"""Maze layouts as character grids, their geometry in metres and shortest paths between cells.

A layout is a list of equal-length rows of walls ``#`` and free cells ``.``. Row 0 is the top
(largest y) row. Cell ``(row, col)`` is a square of ``cell_size`` metres centred at
``cell_center(cell)``, and the grid is centred on the world origin.
"""

from __future__ import annotations

import functools
from collections import deque
from dataclasses import dataclass

import numpy as np

WALL = "#"
FREE = "."

Cell = tuple[int, int]
"""``(row, col)`` index of a grid cell. Row 0 is the top row."""

_NEIGHBOR_OFFSETS = ((-1, 0), (1, 0), (0, -1), (0, 1))


@dataclass(frozen=True)
class MazeLayout:
    """A maze grid enclosed by walls, with every free cell reachable from every other.

    Moves between cells are the 4-neighbour moves, so a path length in cells is the number of
    moves between adjacent free cells.
    """

    name: str
    rows: tuple[str, ...]
    cell_size: float = 1.0
    """Side of a grid cell in metres."""
    eval_min_path_cells: int = 1
    """Default shortest-path length, in cells, below which a start/goal pair is too close for the held-out set."""

    def __post_init__(self) -> None:
        self._check_grid()
        unreachable = set(self.free_cells) - set(self.path_lengths_from(self.free_cells[0]))
        if unreachable:
            raise ValueError(
                f"maze layout {self.name!r} has free cells {sorted(unreachable)} that cannot be reached from "
                f"{self.free_cells[0]}; connect them or turn them into walls '{WALL}'"
            )
        if not 1 <= self.eval_min_path_cells <= self.diameter:
            raise ValueError(
                f"invalid eval_min_path_cells {self.eval_min_path_cells} for maze layout {self.name!r}: "
                f"it must lie in [1, {self.diameter}], the maze's diameter (maximum shortest-path length)"
            )

    def _check_grid(self) -> None:
        if len(self.rows) < 3 or len({len(row) for row in self.rows}) != 1 or len(self.rows[0]) < 3:
            raise ValueError(
                f"maze layout {self.name!r} must be a rectangle of at least 3 x 3 cells, all rows of one length; "
                f"got row lengths {[len(row) for row in self.rows]}"
            )
        for row_index, row in enumerate(self.rows):
            invalid = set(row) - {WALL, FREE}
            if invalid:
                raise ValueError(
                    f"maze layout {self.name!r} row {row_index} {row!r} contains {sorted(invalid)}; "
                    f"use only walls '{WALL}' and free cells '{FREE}'"
                )
        border = self.rows[0] + self.rows[-1] + "".join(row[0] + row[-1] for row in self.rows)
        if set(border) != {WALL}:
            raise ValueError(f"maze layout {self.name!r} must be enclosed by walls '{WALL}' on all four sides")
        if len(self.free_cells) < 2:
            raise ValueError(f"maze layout {self.name!r} needs at least 2 free cells '{FREE}' for a start and a goal")
        if not self.cell_size > 0:
            raise ValueError(f"invalid cell_size {self.cell_size} for maze layout {self.name!r}; use a positive size in metres")

    @property
    def num_rows(self) -> int:
        return len(self.rows)

    @property
    def num_cols(self) -> int:
        return len(self.rows[0])

    @functools.cached_property
    def free_cells(self) -> tuple[Cell, ...]:
        """Free cells in row-major order."""
        return tuple(
            (row, col) for row in range(self.num_rows) for col in range(self.num_cols) if self.rows[row][col] == FREE
        )

    @functools.cached_property
    def wall_cells(self) -> tuple[Cell, ...]:
        """Wall cells in row-major order."""
        return tuple(
            (row, col) for row in range(self.num_rows) for col in range(self.num_cols) if self.rows[row][col] == WALL
        )

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """``(x_min, x_max, y_min, y_max)`` of the whole grid, outer walls included, in metres."""
        half_width = self.num_cols * self.cell_size / 2
        half_height = self.num_rows * self.cell_size / 2
        return -half_width, half_width, -half_height, half_height

    @property
    def interior_extent(self) -> tuple[float, float, float, float]:
        """``(x_min, x_max, y_min, y_max)`` inside the outer walls, in metres: where a start or goal may lie."""
        x_min, x_max, y_min, y_max = self.extent
        return x_min + self.cell_size, x_max - self.cell_size, y_min + self.cell_size, y_max - self.cell_size

    def cell_center(self, cell: Cell) -> tuple[float, float]:
        """Return the ``(x, y)`` centre of ``cell`` in metres."""
        row, col = cell
        x = (col - (self.num_cols - 1) / 2) * self.cell_size
        y = ((self.num_rows - 1) / 2 - row) * self.cell_size
        return x, y

    def cell_at(self, x: float, y: float) -> Cell | None:
        """Return the cell that contains the point ``(x, y)``, or None outside the grid.

        A point on the edge between two cells belongs to the cell to its right or below it.
        """
        x_min, _, _, y_max = self.extent
        col = int(np.floor((x - x_min) / self.cell_size))
        row = int(np.floor((y_max - y) / self.cell_size))
        if 0 <= row < self.num_rows and 0 <= col < self.num_cols:
            return row, col
        return None

    def is_free(self, cell: Cell) -> bool:
        row, col = cell
        return 0 <= row < self.num_rows and 0 <= col < self.num_cols and self.rows[row][col] == FREE

    def wall_distance(self, x: float, y: float) -> float:
        """Return the distance in metres from ``(x, y)`` to the nearest wall cell; 0 inside a wall."""
        distances = []
        for cell in self.wall_cells:
            center_x, center_y = self.cell_center(cell)
            # Distance from a point to an axis-aligned square: clamp the offset to the square.
            dx = max(abs(x - center_x) - self.cell_size / 2, 0.0)
            dy = max(abs(y - center_y) - self.cell_size / 2, 0.0)
            distances.append(np.hypot(dx, dy))
        return float(min(distances))

    def neighbors(self, cell: Cell) -> list[Cell]:
        """Return the free cells next to ``cell`` (up, down, left, right)."""
        row, col = cell
        candidates = [(row + d_row, col + d_col) for d_row, d_col in _NEIGHBOR_OFFSETS]
        return [candidate for candidate in candidates if self.is_free(candidate)]

    def path_lengths_from(self, start: Cell) -> dict[Cell, int]:
        """Return the shortest-path length in cells from ``start`` to every free cell, by breadth-first search."""
        if not self.is_free(start):
            raise ValueError(f"cell {start} is not a free cell of maze layout {self.name!r}")
        lengths = {start: 0}
        queue = deque([start])
        while queue:
            cell = queue.popleft()
            for neighbor in self.neighbors(cell):
                if neighbor not in lengths:
                    lengths[neighbor] = lengths[cell] + 1
                    queue.append(neighbor)
        return lengths

    def shortest_path(self, start: Cell, goal: Cell) -> list[Cell]:
        """Return the cells of a shortest path from ``start`` to ``goal``, both included."""
        lengths_to_goal = self.path_lengths_from(goal)
        if start not in lengths_to_goal:
            raise ValueError(f"cell {start} is not a free cell of maze layout {self.name!r}")
        path = [start]
        while path[-1] != goal:
            # Every cell on a shortest path has a neighbour one move closer to the goal.
            path.append(min(self.neighbors(path[-1]), key=lambda cell: lengths_to_goal[cell]))
        return path

    @functools.cached_property
    def path_length_table(self) -> dict[Cell, dict[Cell, int]]:
        """Shortest-path lengths in cells between every pair of free cells."""
        return {cell: self.path_lengths_from(cell) for cell in self.free_cells}

    @property
    def diameter(self) -> int:
        """Maximum shortest-path length between two free cells, in cells: the diameter of the maze's graph."""
        return max(max(lengths.values()) for lengths in self.path_length_table.values())

    @property
    def radius(self) -> int:
        """Minimum over free cells of the maximum shortest-path length from that cell, in cells: the graph's radius."""
        return min(max(lengths.values()) for lengths in self.path_length_table.values())


U_MAZE = MazeLayout(
    name="u",
    rows=(
        "#####",
        "#...#",
        "###.#",
        "#...#",
        "#####",
    ),
    eval_min_path_cells=4,
)
"""Seven free cells bent into a U: the two arm ends are 6 cells apart, but only 2 m apart in a straight line."""

LARGE_MAZE = MazeLayout(
    name="large",
    rows=(
        "############",
        "#....#.....#",
        "#.##.#.###.#",
        "#.#..#...#.#",
        "#.#.####.#.#",
        "#...#....#.#",
        "###.#.####.#",
        "#.....#....#",
        "############",
    ),
    eval_min_path_cells=15,
)
"""7 x 10 interior with 44 free cells, winding corridors and two dead ends. Its two farthest free cells are 35 cells apart."""

LAYOUTS: dict[str, MazeLayout] = {layout.name: layout for layout in (U_MAZE, LARGE_MAZE)}
"""Built-in layouts by name."""


def get_layout(layout: str | MazeLayout) -> MazeLayout:
    """Return the built-in layout named ``layout``, or ``layout`` itself when it is already a ``MazeLayout``."""
    if isinstance(layout, MazeLayout):
        return layout
    if layout not in LAYOUTS:
        raise ValueError(f"unknown maze layout {layout!r}; valid layouts are {sorted(LAYOUTS)}, or pass a MazeLayout")
    return LAYOUTS[layout]


def sample_point_in_cell(layout: MazeLayout, cell: Cell, rng: np.random.Generator, spread: float) -> np.ndarray:
    """Draw a point uniformly from the square of side ``2 * spread * cell_size`` centred on ``cell``.

    Returns an array of shape ``(2,)``: the ``(x, y)`` point in metres.
    """
    center = np.asarray(layout.cell_center(cell))
    return center + rng.uniform(-spread, spread, size=2) * layout.cell_size
