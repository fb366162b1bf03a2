"""``PointMazeEnv`` through Gymnasium: spaces, reset options, sparse reward, time limits and rendering."""

from __future__ import annotations

import ctypes.util
import json
import os
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from ami.config import EnvConfig
from envs import make_env
from envs.maze_layouts import LARGE_MAZE, U_MAZE
from envs.point_maze import BALL_RADIUS, PointMazeEnv
from envs.state import env_state_dict, load_env_state_dict

TASKS = ["ami/PointMazeU-v0", "ami/PointMazeLarge-v0"]
U_TASK = "ami/PointMazeU-v0"

# The U maze's free cells, by centre: the top corridor is y = 1, the bottom one y = -1.
TOP_LEFT = (-1.0, 1.0)
TOP_RIGHT = (1.0, 1.0)
BOTTOM_LEFT = (-1.0, -1.0)


def check_env_strictly(env: gym.Env) -> None:
    """Run check_env with every warning as an error, except two that it gives for every MuJoCo task or wrapped env."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # Velocities have no bounds, as in Gymnasium's own MuJoCo tasks.
        warnings.filterwarnings("ignore", message=".*infinity.*")
        warnings.filterwarnings("ignore", message=".*different from the unwrapped.*")
        # Rendering needs MUJOCO_GL before mujoco is imported; test_render_top_down checks it in a subprocess.
        check_env(env, skip_render_check=True)


@pytest.mark.parametrize("task", TASKS)
def test_check_env_unwrapped(task):
    check_env_strictly(gym.make(task).unwrapped)


@pytest.mark.parametrize("task", TASKS)
def test_check_env_through_make(task):
    check_env_strictly(gym.make(task))


@pytest.mark.parametrize(("task", "max_steps"), [(U_TASK, 300), ("ami/PointMazeLarge-v0", 800)])
def test_registered_time_limit(task, max_steps):
    assert gym.spec(task).max_episode_steps == max_steps


def test_make_env_emits_no_warnings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = make_env(EnvConfig(task=U_TASK))
        env.reset(seed=0)
        env.step(np.zeros(2, dtype=np.float32))

    assert [str(warning.message) for warning in caught] == []


def test_observation_layout():
    env = PointMazeEnv("u")

    obs, info = env.reset(seed=0, options={"start": TOP_LEFT, "goal": BOTTOM_LEFT})

    assert obs.dtype == np.float64
    assert obs.shape == (6,)
    assert np.allclose(obs[:2], TOP_LEFT)
    assert np.allclose(obs[2:4], 0.0)
    assert np.allclose(obs[4:6], BOTTOM_LEFT)
    assert info["success"] is False
    assert info["distance_to_goal"] == pytest.approx(2.0)


def test_goal_stays_in_observation():
    env = PointMazeEnv("u")
    env.reset(seed=0, options={"goal": BOTTOM_LEFT})

    for _ in range(20):
        obs, *_ = env.step(env.action_space.sample())

    assert np.allclose(obs[4:6], BOTTOM_LEFT)
    assert np.allclose(env.goal, BOTTOM_LEFT)


def test_reset_start_only_draws_goal():
    env = PointMazeEnv("u", min_goal_cells=3)

    for seed in range(20):
        obs, _ = env.reset(seed=seed, options={"start": TOP_LEFT})
        goal_cell = U_MAZE.cell_at(*obs[4:6])
        assert np.allclose(obs[:2], TOP_LEFT)
        assert U_MAZE.is_free(goal_cell), seed
        assert U_MAZE.path_length_table[(1, 1)][goal_cell] >= 3, seed


def test_reset_goal_only_draws_start():
    env = PointMazeEnv("u", min_goal_cells=3)

    for seed in range(20):
        obs, _ = env.reset(seed=seed, options={"goal": BOTTOM_LEFT})
        start_cell = U_MAZE.cell_at(*obs[:2])
        assert np.allclose(obs[4:6], BOTTOM_LEFT)
        assert U_MAZE.wall_distance(*obs[:2]) >= BALL_RADIUS, seed
        assert U_MAZE.path_length_table[start_cell][(3, 1)] >= 3, seed


def test_random_resets_respect_min_goal_cells():
    env = PointMazeEnv("large", min_goal_cells=5)

    for seed in range(50):
        obs, _ = env.reset(seed=seed)
        start_cell = LARGE_MAZE.cell_at(*obs[:2])
        goal_cell = LARGE_MAZE.cell_at(*obs[4:6])
        assert LARGE_MAZE.path_length_table[start_cell][goal_cell] >= 5, seed
        assert LARGE_MAZE.wall_distance(*obs[:2]) >= BALL_RADIUS, seed


def test_random_resets_cover_all_cells():
    env = PointMazeEnv("u")

    starts = {U_MAZE.cell_at(*env.reset(seed=seed)[0][:2]) for seed in range(200)}

    assert starts == set(U_MAZE.free_cells)


def test_seeded_reset_repeats():
    env = PointMazeEnv("large")

    first, _ = env.reset(seed=7)
    env.reset(seed=8)
    second, _ = env.reset(seed=7)

    assert np.array_equal(first, second)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"goal": (0.0, 0.0)}, "inside the wall cell (2, 2)"),
        ({"start": (0.0, 0.0)}, "inside the wall cell (2, 2)"),
        ({"goal": (5.0, 0.0)}, "outside maze 'u'; use x in [-1.5, 1.5] and y in [-1.5, 1.5]"),
        ({"goal": (-2.0, 1.0)}, "outside maze 'u'"),
        ({"goal": (1.0, 1.0, 0.0)}, "expected an (x, y) pair of finite numbers"),
        ({"goal": (1.0,)}, "expected an (x, y) pair"),
        ({"goal": (float("nan"), 1.0)}, "finite numbers"),
        ({"goal": "top"}, "expected an (x, y) pair"),
        ({"goal": ("1", "1")}, "invalid reset option goal=('1', '1'): expected an (x, y) pair of numbers"),
        ({"start": (True, False)}, "invalid reset option start=(True, False): expected an (x, y) pair of numbers"),
        ({"start": (-1.45, 1.0)}, "would overlap it; keep a start at least 0.1 m from walls"),
        ({"target": (1.0, 1.0)}, "unknown reset options ['target']; valid options are ['start', 'goal']"),
    ],
)
def test_invalid_reset_option_rejected(options, message):
    env = PointMazeEnv("u")

    with pytest.raises(ValueError) as raised:
        env.reset(seed=0, options=options)

    assert message in str(raised.value)


def test_wall_goal_error_names_value_and_fix():
    env = PointMazeEnv("u")

    with pytest.raises(ValueError) as raised:
        env.reset(options={"goal": (-0.8, 0.1)})

    message = str(raised.value)
    assert "goal=(-0.8, 0.1)" in message
    assert "nearest free cell centre (-1, 1)" in message


def test_goal_near_wall_accepted():
    # Only a start must keep the ball clear of the walls; a goal may lie anywhere in a free cell.
    env = PointMazeEnv("u")

    obs, _ = env.reset(seed=0, options={"goal": (-1.45, 1.0)})

    assert np.allclose(obs[4:6], (-1.45, 1.0))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"layout": "spiral"}, "unknown maze layout 'spiral'; valid layouts are ['large', 'u']"),
        ({"success_radius": 0.0}, "invalid success_radius 0.0"),
        ({"success_radius": 1.5}, "invalid success_radius 1.5"),
        ({"min_goal_cells": 4}, "invalid min_goal_cells 4 for maze layout 'u'; use a value in [0, 3]"),
        ({"render_mode": "human"}, "invalid render_mode 'human'"),
        ({"width": 0}, "invalid width 0"),
    ],
)
def test_invalid_constructor_argument_rejected(kwargs, message):
    with pytest.raises(ValueError) as raised:
        PointMazeEnv(**kwargs)

    assert message in str(raised.value)


def test_step_rejects_wrong_action_shape():
    env = PointMazeEnv("u")
    env.reset(seed=0)

    with pytest.raises(ValueError, match=r"invalid action of shape \(3,\)"):
        env.step(np.zeros(3, dtype=np.float32))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_step_rejects_non_finite_action(bad):
    env = PointMazeEnv("u")
    env.reset(seed=0)

    with pytest.raises(ValueError, match=r"invalid action \[.*\]: the controls must be finite numbers"):
        env.step(np.array([bad, 0.0], dtype=np.float32))


def test_success_at_goal_terminates():
    env = PointMazeEnv("u")
    env.reset(seed=0, options={"start": TOP_RIGHT, "goal": (1.1, 1.0)})

    obs, reward, terminated, truncated, info = env.step(np.zeros(2, dtype=np.float32))

    assert reward == 1.0
    assert terminated is True
    assert truncated is False
    assert info["success"] is True
    assert info["distance_to_goal"] == pytest.approx(0.1)


def test_no_reward_away_from_goal():
    env = PointMazeEnv("u")
    env.reset(seed=0, options={"start": TOP_RIGHT, "goal": TOP_LEFT})

    obs, reward, terminated, truncated, info = env.step(np.zeros(2, dtype=np.float32))

    assert reward == 0.0
    assert terminated is False
    assert truncated is False
    assert info["success"] is False


def test_success_without_termination():
    env = PointMazeEnv("u", terminate_on_success=False)
    env.reset(seed=0, options={"start": TOP_RIGHT, "goal": TOP_RIGHT})

    rewards, terminations = [], []
    for _ in range(3):
        _, reward, terminated, _, info = env.step(np.zeros(2, dtype=np.float32))
        rewards.append(reward)
        terminations.append(terminated)
        assert info["success"] is True

    assert rewards == [1.0, 1.0, 1.0]
    assert terminations == [False, False, False]


def test_walls_stop_the_ball():
    env = PointMazeEnv("u")
    env.reset(seed=0, options={"start": TOP_LEFT, "goal": BOTTOM_LEFT})

    # Push down into the wall row under the top-left cell for 2 s.
    for _ in range(40):
        obs, *_ = env.step(np.array([0.0, -1.0], dtype=np.float32))

    assert obs[1] > 0.5 + BALL_RADIUS - 0.02
    assert U_MAZE.cell_at(*obs[:2]) == (1, 1)


def test_ball_slides_along_walls():
    env = PointMazeEnv("u")
    env.reset(seed=0, options={"start": TOP_LEFT, "goal": BOTTOM_LEFT})

    # Push down and right for 1 s: the wall row below stops the fall, and the ball slides right.
    for _ in range(20):
        obs, *_ = env.step(np.array([1.0, -1.0], dtype=np.float32))

    assert obs[1] == pytest.approx(0.5 + BALL_RADIUS, abs=0.02)
    assert obs[0] > TOP_LEFT[0] + 1.0
    assert obs[2] > 1.5


def test_time_limit_truncates():
    env = gym.make(U_TASK)
    env.reset(seed=0, options={"start": TOP_LEFT, "goal": BOTTOM_LEFT})

    for step in range(1, 301):
        _, _, terminated, truncated, _ = env.step(np.zeros(2, dtype=np.float32))
        if terminated or truncated:
            break

    assert step == 300
    assert truncated is True
    assert terminated is False


def _follow_shortest_path(env: gym.Env, start, goal) -> int | None:
    """Drive the ball through the cell centres of a shortest path; return the steps to success, or None."""
    layout = env.unwrapped.layout
    obs, _ = env.reset(seed=0, options={"start": start, "goal": goal})
    cells = layout.shortest_path(layout.cell_at(*start), layout.cell_at(*goal))
    waypoints = [np.array(layout.cell_center(cell)) for cell in cells[1:-1]] + [np.array(goal)]
    target = 0
    for step in range(1, 10_000):
        position, velocity = obs[:2], obs[2:4]
        while target < len(waypoints) - 1 and np.linalg.norm(waypoints[target] - position) < 0.4:
            target += 1
        action = np.clip(4.0 * (waypoints[target] - position) - 0.5 * velocity, -1.0, 1.0).astype(np.float32)
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated:
            return step
        if truncated:
            return None
    return None


@pytest.mark.parametrize(
    ("task", "start_cell", "goal_cell", "max_steps"), [(U_TASK, (1, 1), (3, 1), 100), ("ami/PointMazeLarge-v0", (1, 2), (7, 7), 450)]
)
def test_farthest_goal_reachable_in_time(task, start_cell, goal_cell, max_steps):
    env = gym.make(task)
    layout = env.unwrapped.layout
    assert layout.path_length_table[start_cell][goal_cell] == layout.diameter

    steps = _follow_shortest_path(env, layout.cell_center(start_cell), layout.cell_center(goal_cell))

    assert steps is not None
    assert steps <= max_steps


def test_state_dict_restores_goal():
    env = make_env(EnvConfig(task="ami/PointMazeLarge-v0"))
    env.reset(seed=3)
    for _ in range(5):
        env.step(env.action_space.sample())
    state = env_state_dict(env)
    expected_next, *_ = env.step(np.array([0.5, -0.5], dtype=np.float32))

    restored = make_env(EnvConfig(task="ami/PointMazeLarge-v0"))
    restored.reset(seed=99)
    assert load_env_state_dict(restored, state)
    next_obs, *_ = restored.step(np.array([0.5, -0.5], dtype=np.float32))

    assert np.array_equal(next_obs, expected_next)


def test_no_renderer_before_render():
    env = gym.make(U_TASK, render_mode="rgb_array")
    env.reset(seed=0)
    env.step(env.action_space.sample())

    assert env.unwrapped._renderer is None


RENDER_SCRIPT = """
import json, warnings
import gymnasium as gym
import numpy as np
import envs
from gymnasium.utils.env_checker import check_env

results = {}
for task in ["ami/PointMazeU-v0", "ami/PointMazeLarge-v0"]:
    env = gym.make(task, render_mode="rgb_array", width=160, height=120)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*infinity.*")
        check_env(env.unwrapped)
    env.reset(seed=0, options={"start": (1.0, 1.0), "goal": (1.0, -1.0)})
    image = env.render()
    results[task] = {"shape": list(image.shape), "dtype": str(image.dtype), "colors": int(len(np.unique(image.reshape(-1, 3), axis=0)))}
    env.close()
print(json.dumps(results))
"""


@pytest.mark.skipif(ctypes.util.find_library("EGL") is None, reason="libEGL is not installed")
@pytest.mark.parametrize("gl_backend", ["egl", None], ids=["egl", "unset"])
def test_render_top_down(gl_backend):
    # MuJoCo reads MUJOCO_GL when it is imported, so each case renders in a fresh process. Without
    # MUJOCO_GL the env picks a headless backend itself.
    env = {key: value for key, value in os.environ.items() if key != "MUJOCO_GL"}
    if gl_backend is not None:
        env["MUJOCO_GL"] = gl_backend
    completed = subprocess.run([sys.executable, "-c", RENDER_SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr

    results = json.loads(completed.stdout.strip().splitlines()[-1])
    for task in TASKS:
        assert results[task]["shape"] == [120, 160, 3], task
        assert results[task]["dtype"] == "uint8", task
        # Floor, walls, ball and goal give many shades; a blank frame would give one.
        assert results[task]["colors"] > 10, task


def test_render_without_mode_returns_none():
    env = PointMazeEnv("u")
    env.reset(seed=0)

    with pytest.warns(UserWarning, match="without a render_mode"):
        assert env.render() is None
