"""Draw a maze, a start, a goal, a path and subgoals into an RGB array with NumPy alone.

Drawing needs no OpenGL context, so it works in training processes and tests on machines
without a display, for example to log planned paths as TensorBoard images.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.maze_layouts import MazeLayout, get_layout

FLOOR_COLOR = (235, 235, 225)
WALL_COLOR = (90, 97, 115)
PATH_COLOR = (40, 110, 220)
SUBGOAL_COLOR = (240, 160, 20)
START_COLOR = (200, 40, 30)
GOAL_COLOR = (30, 170, 60)


def draw_maze(
    layout: str | MazeLayout,
    start: Any = None,
    goal: Any = None,
    path: Any = None,
    subgoals: Any = None,
    pixels_per_cell: int = 32,
) -> np.ndarray:
    """Draw ``layout`` seen from above, with optional positions in metres on top of it.

    Args:
        layout: built-in layout name or a ``MazeLayout``.
        start: ``(x, y)`` of the start, drawn as a red disc.
        goal: ``(x, y)`` of the goal, drawn as a green disc.
        path: points of shape ``(num_points, 2)``, drawn as a blue polyline in their order.
        subgoals: points of shape ``(num_subgoals, 2)``, drawn as orange discs.
        pixels_per_cell: side of a grid cell in pixels.

    Positions may be NumPy arrays, sequences or PyTorch tensors on any device. Points outside
    the grid are clipped away. Returns a ``uint8`` array of shape
    ``(num_rows * pixels_per_cell, num_cols * pixels_per_cell, 3)``; x grows to the right and
    y grows upwards, as in the top-down render of ``PointMazeEnv``.
    """
    layout = get_layout(layout)
    if not isinstance(pixels_per_cell, int) or pixels_per_cell < 4:
        raise ValueError(f"invalid pixels_per_cell {pixels_per_cell!r}; use an integer of at least 4")
    image = np.empty((layout.num_rows * pixels_per_cell, layout.num_cols * pixels_per_cell, 3), dtype=np.uint8)
    image[:] = FLOOR_COLOR
    for row, col in layout.wall_cells:
        image[row * pixels_per_cell : (row + 1) * pixels_per_cell, col * pixels_per_cell : (col + 1) * pixels_per_cell] = WALL_COLOR

    canvas = _Canvas(image, layout, pixels_per_cell)
    if path is not None:
        canvas.polyline(_as_points(path, "path"), PATH_COLOR, radius=max(1, pixels_per_cell // 16))
    if subgoals is not None:
        for point in _as_points(subgoals, "subgoals"):
            canvas.disc(point, SUBGOAL_COLOR, radius=max(2, pixels_per_cell // 6))
    if start is not None:
        canvas.disc(_as_points(start, "start", single=True)[0], START_COLOR, radius=max(2, pixels_per_cell // 5))
    if goal is not None:
        canvas.disc(_as_points(goal, "goal", single=True)[0], GOAL_COLOR, radius=max(2, pixels_per_cell // 4))
    return image


def _as_points(value: Any, name: str, single: bool = False) -> np.ndarray:
    """Convert ``value`` to a float array of shape ``(num_points, 2)``, or ``(1, 2)`` for one point."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    points = np.asarray(value, dtype=np.float64)
    expected = "(2,)" if single else "(num_points, 2)"
    if single and points.shape == (2,):
        return points[None]
    if single or points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"invalid {name} of shape {points.shape}; expected shape {expected}: (x, y) positions in metres")
    return points


class _Canvas:
    """Pixel operations on ``image`` with positions given in metres."""

    def __init__(self, image: np.ndarray, layout: MazeLayout, pixels_per_cell: int) -> None:
        self.image = image
        x_min, _, _, y_max = layout.extent
        self.origin = np.array([x_min, y_max])
        self.scale = pixels_per_cell / layout.cell_size
        """Pixels per metre."""

    def to_pixels(self, points: np.ndarray) -> np.ndarray:
        """Map positions of shape ``(num_points, 2)`` in metres to ``(column, row)`` pixel coordinates."""
        return np.stack([(points[:, 0] - self.origin[0]) * self.scale, (self.origin[1] - points[:, 1]) * self.scale], axis=1)

    def disc(self, point: np.ndarray, color: tuple[int, int, int], radius: int) -> None:
        self._stamp(self.to_pixels(point[None]), color, radius)

    def polyline(self, points: np.ndarray, color: tuple[int, int, int], radius: int) -> None:
        pixels = self.to_pixels(points)
        if len(pixels) == 1:
            self._stamp(pixels, color, radius)
            return
        # Sample each segment every half pixel, then stamp a small disc on every sample.
        samples = []
        for begin, end in zip(pixels[:-1], pixels[1:]):
            num_samples = int(np.ceil(2 * np.linalg.norm(end - begin))) + 1
            fractions = np.linspace(0.0, 1.0, num_samples)[:, None]
            samples.append(begin + fractions * (end - begin))
        self._stamp(np.concatenate(samples), color, radius)

    def _stamp(self, centers: np.ndarray, color: tuple[int, int, int], radius: int) -> None:
        """Fill discs of ``radius`` pixels around each ``(column, row)`` centre, clipped to the image."""
        offsets = np.array(
            [(dx, dy) for dx in range(-radius, radius + 1) for dy in range(-radius, radius + 1) if dx * dx + dy * dy <= radius * radius]
        )
        pixels = (np.floor(centers)[:, None, :] + offsets[None]).reshape(-1, 2).astype(np.int64)
        height, width = self.image.shape[:2]
        inside = (pixels[:, 0] >= 0) & (pixels[:, 0] < width) & (pixels[:, 1] >= 0) & (pixels[:, 1] < height)
        pixels = pixels[inside]
        self.image[pixels[:, 1], pixels[:, 0]] = color
