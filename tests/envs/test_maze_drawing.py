"""``draw_maze``: a top-down RGB image of a maze with a start, goal, path and subgoals, without OpenGL."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from envs.maze_drawing import FLOOR_COLOR, GOAL_COLOR, PATH_COLOR, START_COLOR, SUBGOAL_COLOR, WALL_COLOR, draw_maze
from envs.maze_layouts import LARGE_MAZE, U_MAZE
from tests.tiny import DEVICES

PIXELS_PER_CELL = 20


def pixel_at(image: np.ndarray, layout, x: float, y: float) -> tuple[int, ...]:
    """Return the colour of the pixel under the position ``(x, y)`` in metres."""
    x_min, _, _, y_max = layout.extent
    column = int((x - x_min) / layout.cell_size * PIXELS_PER_CELL)
    row = int((y_max - y) / layout.cell_size * PIXELS_PER_CELL)
    return tuple(int(value) for value in image[row, column])


@pytest.mark.parametrize(("layout", "shape"), [(U_MAZE, (100, 100, 3)), (LARGE_MAZE, (180, 240, 3))], ids=["u", "large"])
def test_draw_shape(layout, shape):
    image = draw_maze(layout, pixels_per_cell=PIXELS_PER_CELL)

    assert image.shape == shape
    assert image.dtype == np.uint8


def test_draw_walls_and_floor():
    image = draw_maze("large", pixels_per_cell=PIXELS_PER_CELL)

    for cell in LARGE_MAZE.wall_cells:
        assert pixel_at(image, LARGE_MAZE, *LARGE_MAZE.cell_center(cell)) == WALL_COLOR, cell
    for cell in LARGE_MAZE.free_cells:
        assert pixel_at(image, LARGE_MAZE, *LARGE_MAZE.cell_center(cell)) == FLOOR_COLOR, cell


def test_draw_start_goal_subgoals():
    image = draw_maze(
        "u", start=(-1.0, 1.0), goal=(-1.0, -1.0), subgoals=[(1.0, 1.0), (1.0, -1.0)], pixels_per_cell=PIXELS_PER_CELL
    )

    assert pixel_at(image, U_MAZE, -1.0, 1.0) == START_COLOR
    assert pixel_at(image, U_MAZE, -1.0, -1.0) == GOAL_COLOR
    assert pixel_at(image, U_MAZE, 1.0, 1.0) == SUBGOAL_COLOR
    assert pixel_at(image, U_MAZE, 1.0, -1.0) == SUBGOAL_COLOR


def test_draw_path_polyline():
    path = np.array([(-1.0, 1.0), (1.0, 1.0), (1.0, -1.0)])

    image = draw_maze("u", path=path, pixels_per_cell=PIXELS_PER_CELL)

    # Points between the vertices lie on the drawn segments.
    assert pixel_at(image, U_MAZE, 0.0, 1.0) == PATH_COLOR
    assert pixel_at(image, U_MAZE, 1.0, 0.0) == PATH_COLOR
    assert pixel_at(image, U_MAZE, -1.0, -1.0) == FLOOR_COLOR


@pytest.mark.parametrize("device", DEVICES)
def test_draw_accepts_tensors(device):
    path = torch.tensor([[-1.0, 1.0], [1.0, 1.0]], device=device)

    from_tensor = draw_maze("u", goal=torch.tensor([1.0, -1.0], device=device), path=path, pixels_per_cell=PIXELS_PER_CELL)
    from_array = draw_maze("u", goal=(1.0, -1.0), path=[(-1.0, 1.0), (1.0, 1.0)], pixels_per_cell=PIXELS_PER_CELL)

    assert np.array_equal(from_tensor, from_array)


def test_draw_clips_points_outside():
    inside_only = draw_maze("u", path=[(-1.0, 1.0), (1.0, 1.0)], pixels_per_cell=PIXELS_PER_CELL)
    with_outside = draw_maze("u", path=[(-1.0, 1.0), (1.0, 1.0)], subgoals=[(50.0, 50.0)], pixels_per_cell=PIXELS_PER_CELL)

    assert np.array_equal(inside_only, with_outside)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"path": np.zeros((4, 3))}, r"invalid path of shape \(4, 3\); expected shape \(num_points, 2\)"),
        ({"goal": np.zeros((2, 2))}, r"invalid goal of shape \(2, 2\); expected shape \(2,\)"),
        ({"pixels_per_cell": 2}, "invalid pixels_per_cell 2"),
    ],
)
def test_draw_invalid_input_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        draw_maze("u", **kwargs)
