"""Goal-conditioned point-mass navigation in a maze, simulated in MuJoCo.

A ball on two slide joints (x, y), pushed by two motors against viscous joint damping, moves
through a maze built from a ``MazeLayout`` grid. Each episode has a start and a goal position.
Training resets sample both at random from the env's seeded ``np_random``. Held-out evaluation
resets with the fixed pairs of ``envs.maze_eval.held_out_pairs`` through
``reset(options={"start": ..., "goal": ...})``. The periodic evaluation of ``ami run`` and
``ami maze-eval`` reset with those pairs too.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from envs.gl_backend import select_gl_backend
from envs.maze_layouts import Cell, MazeLayout, get_layout, sample_point_in_cell
from envs.pixels import FrameRenderer

BALL_RADIUS = 0.1
"""Radius of the ball in metres."""
BALL_MASS = 1.0
"""Mass of the ball in kg."""
JOINT_DAMPING = 2.5
"""Viscous damping of each slide joint in N s/m: velocity relaxes to its steady state with time constant mass / damping = 0.4 s."""
MOTOR_GEAR = 5.0
"""Force in N at control 1, so the top speed along one axis is gear / damping = 2 m/s."""
WALL_HEIGHT = 0.4
"""Height of the walls in metres, only seen in renders."""
TIMESTEP = 0.01
"""MuJoCo integration step in seconds."""
FRAME_SKIP = 5
"""MuJoCo steps per env step, so one env step lasts 0.05 s."""
POSITION_SPREAD = 0.25
"""Sampled starts and goals lie within this fraction of the cell size from a free cell's centre.

0.25 keeps a ball at a sampled start at least 0.25 - 0.1 = 0.15 cells clear of the walls.
"""
OPTION_KEYS = ("start", "goal")
CAMERA_NAME = "top_down"
CAMERA_FOVY = 45.0
"""Vertical field of view of the top-down camera in degrees."""


class PointMazeEnv(gym.Env):
    """Drive a point mass to a goal position in a maze, with a sparse reward.

    Observation, shape ``(6,)`` float64: ball position ``(x, y)`` in m, ball velocity
    ``(vx, vy)`` in m/s and goal position ``(x, y)`` in m. Action, shape ``(2,)`` float32 in
    [-1, 1]: motor controls along x and y.

    Reward: 1.0 at a step that ends with the ball centre within ``success_radius`` of the goal,
    else 0.0. ``info["success"]`` (bool) is True at exactly those steps. With
    ``terminate_on_success`` (the default) such a step also ends the episode with
    ``terminated=True``. Otherwise the episode continues and every step spent at the goal earns 1.0.

    ``reset(options=...)`` accepts ``"start"`` and ``"goal"``, each an ``(x, y)`` position in
    metres. A goal must lie in a free cell and a start must, in addition, keep the ball clear of
    the walls. Either one left out is drawn uniformly: a free cell, then a point within
    ``POSITION_SPREAD`` cells of its centre. A drawn goal lies at least ``min_goal_cells``
    moves from the start's cell.

    The goal is stored as the position of a mocap body in ``MjData``. Saving and restoring
    ``MjData``, as checkpoints do, therefore restores the goal with the ball.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": round(1 / (TIMESTEP * FRAME_SKIP))}

    def __init__(
        self,
        layout: str | MazeLayout = "u",
        render_mode: str | None = None,
        terminate_on_success: bool = True,
        success_radius: float = 0.3,
        min_goal_cells: int = 1,
        width: int = 480,
        height: int = 480,
    ) -> None:
        """Build the maze model.

        Args:
            layout: built-in layout name (``"u"``, ``"large"``) or a ``MazeLayout``.
            render_mode: ``"rgb_array"`` or None.
            terminate_on_success: end the episode at the first step that reaches the goal.
            success_radius: distance in metres from the goal that counts as reaching it.
            min_goal_cells: shortest-path length in cells, at least, from the start's cell to a drawn goal's cell.
            width: width in pixels of rendered images.
            height: height in pixels of rendered images.
        """
        self.layout = get_layout(layout)
        self._check_arguments(render_mode, success_radius, min_goal_cells, width, height)
        self.render_mode = render_mode
        self.terminate_on_success = terminate_on_success
        self.success_radius = float(success_radius)
        self.min_goal_cells = int(min_goal_cells)
        self.width = width
        self.height = height

        self.model = mujoco.MjModel.from_xml_string(maze_xml(self.layout, self.success_radius, width, height))
        self.data = mujoco.MjData(self.model)
        # Created on the first render() call, so an env that never renders needs no OpenGL.
        self._renderer: FrameRenderer | None = None

        x_min, x_max, y_min, y_max = self.layout.interior_extent
        position_low = np.array([x_min, y_min])
        position_high = np.array([x_max, y_max])
        self.observation_space = gym.spaces.Box(
            low=np.concatenate([position_low, [-np.inf, -np.inf], position_low]),
            high=np.concatenate([position_high, [np.inf, np.inf], position_high]),
            dtype=np.float64,
        )
        self.action_space = gym.spaces.Box(low=-1.0, high=1.0, shape=(2,), dtype=np.float32)

    def _check_arguments(
        self, render_mode: str | None, success_radius: float, min_goal_cells: int, width: int, height: int
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"invalid render_mode {render_mode!r}; valid modes are {self.metadata['render_modes']} or None")
        if not 0 < success_radius < self.layout.cell_size:
            raise ValueError(
                f"invalid success_radius {success_radius}; use a distance in metres in (0, {self.layout.cell_size}), "
                "below the cell size"
            )
        if not 0 <= min_goal_cells <= self.layout.radius:
            raise ValueError(
                f"invalid min_goal_cells {min_goal_cells} for maze layout {self.layout.name!r}; use a value in "
                f"[0, {self.layout.radius}], so that every start cell has a goal cell that far away"
            )
        for name, size in (("width", width), ("height", height)):
            if not isinstance(size, int) or size <= 0:
                raise ValueError(f"invalid {name} {size!r}; use a positive number of pixels")

    @property
    def dt(self) -> float:
        """Duration of one env step in seconds."""
        return TIMESTEP * FRAME_SKIP

    @property
    def goal(self) -> np.ndarray:
        """Goal position ``(x, y)`` in metres, shape ``(2,)``."""
        return self.data.mocap_pos[0, :2].copy()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        start, goal = self._start_and_goal(options or {})

        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[:] = start
        self.data.mocap_pos[0, :2] = goal
        mujoco.mj_forward(self.model, self.data)

        obs = self._observation()
        return obs, self._info(obs)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (2,):
            raise ValueError(f"invalid action of shape {action.shape}; expected shape (2,): the x and y controls")
        if not np.all(np.isfinite(action)):
            # MuJoCo would only print a warning and ignore the controls.
            raise ValueError(f"invalid action {action.tolist()}: the controls must be finite numbers")
        # The motors' ctrlrange clamps the controls to [-1, 1].
        self.data.ctrl[:] = action
        mujoco.mj_step(self.model, self.data, nstep=FRAME_SKIP)

        obs = self._observation()
        info = self._info(obs)
        reward = 1.0 if info["success"] else 0.0
        terminated = info["success"] and self.terminate_on_success
        return obs, reward, terminated, False, info

    def render(self) -> np.ndarray | None:
        """Return a top-down RGB image of shape ``(height, width, 3)`` of the whole maze, or None without a render mode.

        The OpenGL backend is the one of pixel observations (``select_gl_backend``): ``MUJOCO_GL``
        when it is set, otherwise the first of EGL and OSMesa that works, so a machine without a
        display renders too.
        """
        if self.render_mode is None:
            gym.logger.warn("render() was called without a render_mode; create the env with render_mode='rgb_array'")
            return None
        if self._renderer is None:
            self._renderer = FrameRenderer(self.model, self.height, self.width, CAMERA_NAME, select_gl_backend(), scene_flags={})
        return self._renderer.render(self.data)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def _observation(self) -> np.ndarray:
        return np.concatenate([self.data.qpos, self.data.qvel, self.data.mocap_pos[0, :2]])

    def _info(self, obs: np.ndarray) -> dict[str, Any]:
        distance = float(np.linalg.norm(obs[:2] - obs[4:6]))
        return {"success": distance <= self.success_radius, "distance_to_goal": distance}

    def _start_and_goal(self, options: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Read the start and goal of ``options``, drawing the ones left out."""
        unknown = sorted(set(options) - set(OPTION_KEYS))
        if unknown:
            raise ValueError(f"unknown reset options {unknown}; valid options are {list(OPTION_KEYS)}")
        start = self._parse_position("start", options["start"]) if options.get("start") is not None else None
        goal = self._parse_position("goal", options["goal"]) if options.get("goal") is not None else None

        if start is None and goal is None:
            start_cell = self._random_cell(self.layout.free_cells)
            start = sample_point_in_cell(self.layout, start_cell, self.np_random, POSITION_SPREAD)
        if goal is None:
            goal_cell = self._random_cell(self._cells_far_from(self.layout.cell_at(*start)))
            goal = sample_point_in_cell(self.layout, goal_cell, self.np_random, POSITION_SPREAD)
        if start is None:
            start_cell = self._random_cell(self._cells_far_from(self.layout.cell_at(*goal)))
            start = sample_point_in_cell(self.layout, start_cell, self.np_random, POSITION_SPREAD)
        return start, goal

    def _cells_far_from(self, cell: Cell) -> list[Cell]:
        lengths = self.layout.path_length_table[cell]
        return [other for other, length in lengths.items() if length >= self.min_goal_cells]

    def _random_cell(self, cells: list[Cell] | tuple[Cell, ...]) -> Cell:
        return cells[int(self.np_random.integers(len(cells)))]

    def _parse_position(self, name: str, value: Any) -> np.ndarray:
        """Check that ``value`` is a valid ``start`` or ``goal`` and return it as an array of shape ``(2,)``."""
        x_min, x_max, y_min, y_max = self.layout.interior_extent
        valid_range = f"x in [{x_min:g}, {x_max:g}] and y in [{y_min:g}, {y_max:g}] m, inside a free cell"
        # Strings and booleans would convert silently ("1" to 1.0, True to 1.0), so only real numbers pass.
        items = np.asarray(value, dtype=object).ravel()
        if not all(isinstance(item, (int, float, np.integer, np.floating)) and not isinstance(item, (bool, np.bool_)) for item in items):
            raise ValueError(f"invalid reset option {name}={value!r}: expected an (x, y) pair of numbers")
        position = np.asarray(items, dtype=np.float64).reshape(np.shape(value))
        if position.shape != (2,) or not np.all(np.isfinite(position)):
            raise ValueError(
                f"invalid reset option {name}={value!r}: expected an (x, y) pair of finite numbers with {valid_range}"
            )

        x, y = position
        if not (x_min <= x <= x_max and y_min <= y <= y_max):
            raise ValueError(
                f"invalid reset option {name}={value!r}: it lies outside maze {self.layout.name!r}; use {valid_range}"
            )
        cell = self.layout.cell_at(x, y)
        if cell is None or not self.layout.is_free(cell):
            nearest = self._nearest_free_center(position)
            raise ValueError(
                f"invalid reset option {name}={value!r}: it lies inside the wall cell {cell} of maze "
                f"{self.layout.name!r}; use {valid_range}, for example the nearest free cell centre ({nearest[0]:g}, {nearest[1]:g})"
            )
        if name == "start" and self.layout.wall_distance(x, y) < BALL_RADIUS:
            raise ValueError(
                f"invalid reset option {name}={value!r}: it is {self.layout.wall_distance(x, y):.3g} m from a wall, "
                f"so the ball of radius {BALL_RADIUS} m would overlap it; keep a start at least {BALL_RADIUS} m from walls"
            )
        return position

    def _nearest_free_center(self, position: np.ndarray) -> tuple[float, float]:
        centers = [self.layout.cell_center(cell) for cell in self.layout.free_cells]
        return min(centers, key=lambda center: float(np.hypot(*(position - center))))


def maze_xml(layout: MazeLayout, goal_radius: float, width: int = 480, height: int = 480) -> str:
    """Write the MJCF model of ``layout``: walls, ball, goal marker and a top-down camera.

    The floor collides with nothing, so the ball only touches walls. Its contacts are
    frictionless, so the ball slides along a wall instead of sticking to it. MuJoCo gives a
    contact the larger ``condim`` of its two geoms, so the walls and the ball both set
    ``condim="1"``; with the default of 3 on the walls, a push into a wall would hold the ball by friction.
    """
    half_cell = layout.cell_size / 2
    walls = "\n".join(
        f'    <geom name="wall_{row}_{col}" type="box" pos="{x:g} {y:g} {WALL_HEIGHT / 2:g}" '
        f'size="{half_cell:g} {half_cell:g} {WALL_HEIGHT / 2:g}" condim="1" material="wall"/>'
        for row, col in layout.wall_cells
        for x, y in [layout.cell_center((row, col))]
    )
    x_min, x_max, y_min, y_max = layout.extent
    # Raise the camera until the grid fills the frame along its tighter dimension, with a 5% margin.
    aspect = width / height
    half_view = 1.05 * max((y_max - y_min) / 2, (x_max - x_min) / 2 / aspect)
    camera_z = WALL_HEIGHT + half_view / np.tan(np.radians(CAMERA_FOVY) / 2)
    return f"""<mujoco model="point_maze_{layout.name}">
  <option timestep="{TIMESTEP:g}"/>
  <visual>
    <global offwidth="{max(width, 640)}" offheight="{max(height, 480)}"/>
  </visual>
  <asset>
    <material name="floor" rgba="0.92 0.92 0.88 1"/>
    <material name="wall" rgba="0.35 0.38 0.45 1"/>
  </asset>
  <worldbody>
    <light pos="0 0 {camera_z + 2:g}" dir="0 0 -1" directional="true"/>
    <camera name="{CAMERA_NAME}" pos="0 0 {camera_z:.4g}" xyaxes="1 0 0 0 1 0" fovy="{CAMERA_FOVY:g}"/>
    <geom name="floor" type="plane" size="{x_max:g} {y_max:g} 0.1" material="floor" contype="0" conaffinity="0"/>
{walls}
    <body name="ball" pos="0 0 {BALL_RADIUS:g}">
      <joint name="ball_x" type="slide" axis="1 0 0" damping="{JOINT_DAMPING:g}"/>
      <joint name="ball_y" type="slide" axis="0 1 0" damping="{JOINT_DAMPING:g}"/>
      <geom name="ball" type="sphere" size="{BALL_RADIUS:g}" mass="{BALL_MASS:g}" condim="1" rgba="0.85 0.2 0.15 1"/>
    </body>
    <body name="goal" mocap="true" pos="0 0 0.005">
      <geom name="goal" type="cylinder" size="{goal_radius:g} 0.005" contype="0" conaffinity="0" rgba="0.1 0.7 0.2 0.6"/>
    </body>
  </worldbody>
  <actuator>
    <motor name="motor_x" joint="ball_x" gear="{MOTOR_GEAR:g}" ctrlrange="-1 1" ctrllimited="true"/>
    <motor name="motor_y" joint="ball_y" gear="{MOTOR_GEAR:g}" ctrlrange="-1 1" ctrllimited="true"/>
  </actuator>
</mujoco>
"""


MAX_EPISODE_STEPS = {"u": 300, "large": 800}
"""Time limits of the registered tasks, in env steps.

A controller that follows the breadth-first-search path through cell centres at top speed
needs 73 steps between the two farthest cells of the U maze (6 cells apart) and 407 steps in
the large maze (35 cells apart). The limits leave about 4x and 2x that, so an agent that still
explores can reach far goals before the time runs out. ``test_farthest_goal_reachable_in_time``
runs that controller.
"""

TASK_LAYOUTS = {"ami/PointMazeU-v0": "u", "ami/PointMazeLarge-v0": "large"}
"""Gymnasium task id of each built-in layout."""


def register_point_maze_tasks() -> None:
    """Register the point-maze tasks with Gymnasium; ids that are already registered are left alone."""
    for task_id, layout in TASK_LAYOUTS.items():
        if task_id in gym.registry:
            continue
        gym.register(
            id=task_id,
            entry_point="envs.point_maze:PointMazeEnv",
            max_episode_steps=MAX_EPISODE_STEPS[layout],
            kwargs={"layout": layout},
        )
