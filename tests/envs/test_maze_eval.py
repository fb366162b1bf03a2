"""``held_out_pairs``: deterministic, far-apart start/goal pairs that the env accepts."""

from __future__ import annotations

import numpy as np
import pytest

from envs.maze_eval import MazePair, held_out_pairs
from envs.maze_layouts import LARGE_MAZE, U_MAZE
from envs.point_maze import BALL_RADIUS, PointMazeEnv


def test_pairs_deterministic():
    assert held_out_pairs("large", seed=3) == held_out_pairs("large", seed=3)


def test_pairs_depend_on_seed():
    assert held_out_pairs("large", seed=3) != held_out_pairs("large", seed=4)


def test_pairs_default_count():
    assert len(held_out_pairs("u")) == 50


def test_fewer_pairs_are_a_prefix():
    assert held_out_pairs("large", num_pairs=10, seed=1) == held_out_pairs("large", num_pairs=50, seed=1)[:10]


@pytest.mark.parametrize("layout", [U_MAZE, LARGE_MAZE], ids=["u", "large"])
def test_pairs_valid_and_far_apart(layout):
    pairs = held_out_pairs(layout, num_pairs=100, seed=0)

    for pair in pairs:
        start_cell = layout.cell_at(*pair.start)
        goal_cell = layout.cell_at(*pair.goal)
        assert layout.is_free(start_cell), pair
        assert layout.is_free(goal_cell), pair
        assert layout.wall_distance(*pair.start) >= BALL_RADIUS, pair
        assert pair.path_cells == layout.path_length_table[start_cell][goal_cell], pair
        assert pair.path_cells >= layout.eval_min_path_cells, pair


def test_pairs_reach_farthest_cells():
    lengths = {pair.path_cells for pair in held_out_pairs("large", num_pairs=200, seed=0)}

    assert min(lengths) == LARGE_MAZE.eval_min_path_cells
    assert max(lengths) == LARGE_MAZE.diameter


def test_min_path_cells_override():
    pairs = held_out_pairs("u", seed=0, min_path_cells=6)

    assert {pair.path_cells for pair in pairs} == {6}


def test_pair_resets_env():
    env = PointMazeEnv("large")
    pair = held_out_pairs("large", num_pairs=1, seed=0)[0]

    obs, info = env.reset(seed=0, options=pair.reset_options())

    assert np.allclose(obs[:2], pair.start)
    assert np.allclose(obs[4:6], pair.goal)
    assert info["success"] is False


def test_pair_fields():
    pair = held_out_pairs("u", num_pairs=1, seed=0)[0]

    assert isinstance(pair, MazePair)
    assert all(isinstance(value, float) for value in pair.start + pair.goal)
    assert isinstance(pair.path_cells, int)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_pairs": 0}, "invalid num_pairs 0"),
        ({"min_path_cells": 7}, r"invalid min_path_cells 7 for maze layout 'u'; use a value in \[1, 6\]"),
        ({"min_path_cells": 0}, "invalid min_path_cells 0"),
    ],
)
def test_invalid_arguments_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        held_out_pairs("u", **kwargs)
