"""The goal-cost landscape of a maze: rank correlation of the latent goal distance with the path distance."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from ami.config.schema import GoalConfig
from ami.configurator.goal import GoalSetter
from ami.training.goal_landscape import average_ranks, goal_landscape, landscape_figure, mean_rank_correlations, spearman
from envs.maze_layouts import U_MAZE, MazeLayout
from tests.actor.test_planner_optimum import LinearQuadraticModel
from tests.tiny import tiny_spec

OBS_DIM = 6
"""Point-maze observation: ball position (2), velocity (2), goal (2)."""

GOAL_SETTER = GoalSetter(
    GoalConfig(goal_indices=(4, 5), position_indices=(0, 1), zero_indices=(2, 3)), tiny_spec(obs_dim=OBS_DIM)
)

CORRIDOR = MazeLayout(name="corridor", rows=("#######", "#.....#", "#######"))


class PositionModel(LinearQuadraticModel):
    """A world model whose latent is the ball position, so the goal cost is half the squared Euclidean distance."""

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        return obs[..., :2]


def landscape(layout: MazeLayout, goal_cell):
    return goal_landscape(PositionModel(), GOAL_SETTER, OBS_DIM, layout, goal_cell, torch.device("cpu"))


def test_average_ranks_share_ties():
    np.testing.assert_array_equal(average_ranks(np.array([3.0, 1.0, 3.0, 2.0])), [2.5, 0.0, 2.5, 1.0])


def test_spearman_known_values():
    assert spearman(np.array([1.0, 2.0, 3.0, 4.0]), np.array([10, 20, 30, 40])) == pytest.approx(1.0)
    assert spearman(np.array([4.0, 3.0, 2.0, 1.0]), np.array([10, 20, 30, 40])) == pytest.approx(-1.0)
    # Ranks [0, 1, 2, 3] against tied ranks [0.5, 0.5, 2.5, 2.5]: covariance 4, variances 5 and 4.
    assert spearman(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1, 1, 2, 2])) == pytest.approx(4 / math.sqrt(20))


@pytest.mark.parametrize(
    ("values", "reference"),
    [([1.0, 1.0, 1.0], [1, 2, 3]), ([1.0, np.nan, 3.0, 4.0], [1, 2, 3, 4]), ([1.0], [1]), ([], [])],
    ids=["constant", "nan", "one", "empty"],
)
def test_spearman_undefined_is_nan(values, reference):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(spearman(np.array(values), np.array(reference)))


class CollapsedModel(PositionModel):
    """Every observation has the same latent, so the goal cost is 0 everywhere."""

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.zeros(obs.shape[0], 2)


def test_mean_rank_correlations_collapsed_is_none():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        correlations = mean_rank_correlations(CollapsedModel(), GOAL_SETTER, OBS_DIM, U_MAZE, torch.device("cpu"))

    assert correlations == {0: None}


def test_landscape_corridor_ranks_like_path():
    result = landscape(CORRIDOR, (1, 1))

    np.testing.assert_array_equal(result.path_cells, [0, 1, 2, 3, 4])
    np.testing.assert_allclose(result.latent_distances[0], [0.0, 0.5, 2.0, 4.5, 8.0])
    assert result.rank_correlation(0) == pytest.approx(1.0)


def test_landscape_u_maze_arm_end_misleads():
    # From the end of the top arm, the far arm's end is 6 moves away but 2 m away in a straight line.
    result = landscape(U_MAZE, (1, 1))

    far_end = result.cells.index((3, 1))
    assert result.path_cells[far_end] == 6
    assert result.latent_distances[0][far_end] == pytest.approx(2.0)
    # Ranks [0, 1.5, 3.5, 5, 3.5, 1.5] of the costs against path ranks [0, ..., 5].
    assert result.rank_correlation(0) == pytest.approx(7.5 / math.sqrt(16.5 * 17.5))


def test_mean_rank_correlations_corridor():
    correlations = mean_rank_correlations(PositionModel(), GOAL_SETTER, OBS_DIM, CORRIDOR, torch.device("cpu"))

    assert correlations == {0: pytest.approx(1.0)}


def test_landscape_rejects_wall_goal():
    with pytest.raises(ValueError, match=r"invalid goal cell \(0, 0\) for maze layout 'u': it is a wall"):
        landscape(U_MAZE, (0, 0))


def test_landscape_figure_has_two_panels():
    figure = landscape_figure(U_MAZE, landscape(U_MAZE, (1, 1)), level=0)

    assert len(figure.axes) == 4  # two maps and their colour bars
    assert figure.axes[0].get_title() == "level 0 goal cost"
