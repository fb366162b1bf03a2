"""``MazeLayout`` geometry, breadth-first-search path lengths and layout validation."""

from __future__ import annotations

import pytest

from envs.maze_layouts import LARGE_MAZE, LAYOUTS, U_MAZE, MazeLayout, get_layout


def test_u_maze_path_lengths():
    lengths = U_MAZE.path_lengths_from((1, 1))

    assert lengths == {(1, 1): 0, (1, 2): 1, (1, 3): 2, (2, 3): 3, (3, 3): 4, (3, 2): 5, (3, 1): 6}


@pytest.mark.parametrize(("layout", "diameter", "radius", "num_free"), [(U_MAZE, 6, 3, 7), (LARGE_MAZE, 35, 18, 44)])
def test_layout_sizes(layout, diameter, radius, num_free):
    assert layout.diameter == diameter
    assert layout.radius == radius
    assert len(layout.free_cells) == num_free


def test_large_maze_dead_ends():
    dead_ends = [cell for cell in LARGE_MAZE.free_cells if len(LARGE_MAZE.neighbors(cell)) == 1]

    assert dead_ends == [(7, 1), (7, 7)]


@pytest.mark.parametrize("layout", list(LAYOUTS.values()), ids=list(LAYOUTS))
def test_cell_center_round_trip(layout):
    for row in range(layout.num_rows):
        for col in range(layout.num_cols):
            assert layout.cell_at(*layout.cell_center((row, col))) == (row, col)


def test_cell_center_orientation():
    # Row 0 is the top row (largest y) and column 0 the left column (smallest x).
    assert U_MAZE.cell_center((0, 0)) == (-2.0, 2.0)
    assert U_MAZE.cell_center((4, 4)) == (2.0, -2.0)
    assert U_MAZE.cell_center((2, 2)) == (0.0, 0.0)


def test_cell_at_outside_grid():
    assert U_MAZE.cell_at(2.6, 0.0) is None
    assert U_MAZE.cell_at(0.0, -2.6) is None


def test_extents():
    assert U_MAZE.extent == (-2.5, 2.5, -2.5, 2.5)
    assert U_MAZE.interior_extent == (-1.5, 1.5, -1.5, 1.5)
    assert LARGE_MAZE.extent == (-6.0, 6.0, -4.5, 4.5)


def test_wall_distance():
    assert U_MAZE.wall_distance(-1.0, 1.0) == pytest.approx(0.5)
    assert U_MAZE.wall_distance(-1.3, 1.0) == pytest.approx(0.2)
    assert U_MAZE.wall_distance(0.0, 0.0) == 0.0


@pytest.mark.parametrize("layout", list(LAYOUTS.values()), ids=list(LAYOUTS))
def test_shortest_path_steps_between_neighbors(layout):
    for start in layout.free_cells:
        for goal, length in layout.path_length_table[start].items():
            path = layout.shortest_path(start, goal)
            assert path[0] == start
            assert path[-1] == goal
            assert len(path) == length + 1
            for cell, next_cell in zip(path[:-1], path[1:]):
                assert next_cell in layout.neighbors(cell), (start, goal)


def test_get_layout_by_name():
    assert get_layout("large") is LARGE_MAZE
    assert get_layout(U_MAZE) is U_MAZE


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (("###", "#.#", "###"), "needs at least 2 free cells"),
        (("####", "#..#", "#...", "####"), "must be enclosed by walls"),
        (("####", "#..#", "#..", "####"), "all rows of one length"),
        (("#####", "#.o.#", "#####"), "contains ['o']"),
        (("#####", "#.#.#", "#####"), "free cells [(1, 3)] that cannot be reached from (1, 1)"),
    ],
)
def test_invalid_layout_rejected(rows, message):
    with pytest.raises(ValueError) as raised:
        MazeLayout(name="bad", rows=rows)

    assert message in str(raised.value)


def test_eval_threshold_beyond_diameter_rejected():
    with pytest.raises(ValueError, match=r"invalid eval_min_path_cells 7 for maze layout 'u2': it must lie in \[1, 6\]"):
        MazeLayout(name="u2", rows=U_MAZE.rows, eval_min_path_cells=7)


def test_path_lengths_from_wall_rejected():
    with pytest.raises(ValueError, match=r"cell \(0, 0\) is not a free cell of maze layout 'u'"):
        U_MAZE.path_lengths_from((0, 0))
