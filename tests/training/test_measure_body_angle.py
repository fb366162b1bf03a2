"""Upside-down steps counted from the body pitch in the real observation."""

from __future__ import annotations

import numpy as np
import pytest

from ami.training.measure import EpisodeMeasures, episode_means

HALF_CHEETAH_OBS_DIM = 17
"""Observation entry 1 of HalfCheetah-v5 is the pitch of the front tip, in radians."""


def measured_episode(angles: list[float], task: str = "HalfCheetah-v5") -> EpisodeMeasures:
    measures = EpisodeMeasures()
    for angle in angles:
        obs = np.zeros(HALF_CHEETAH_OBS_DIM)
        obs[1] = angle
        measures.record_step(task, reward=0.0, obs=obs, info={}, safety={})
    return measures


def test_upside_down_counts_negative_cosine():
    # A full turn (2 pi) is upright again.
    summary = measured_episode([0.0, 2.0, 3.1, 2 * np.pi]).summary({})

    assert summary["upside_down_share"] == pytest.approx(0.5)
    assert summary["first_upside_down_step"] == 1


def test_upright_episode_has_no_first_step():
    summary = measured_episode([0.1, -0.3]).summary({})

    assert summary["upside_down_share"] == 0.0
    assert summary["first_upside_down_step"] is None


@pytest.mark.parametrize("task", ["InvertedPendulum-v5", "Hopper-v5"])
def test_task_without_body_angle_reports_nothing(task):
    summary = measured_episode([3.0], task=task).summary({})

    assert "upside_down_share" not in summary


def test_pixel_observation_reports_nothing():
    measures = EpisodeMeasures()
    frames = np.zeros((3, 64, 64, 3), dtype=np.uint8)

    measures.record_step("HalfCheetah-v5", reward=0.0, obs=frames, info={"x_velocity": 1.0}, safety={})

    assert "upside_down_share" not in measures.summary({})


def test_episode_means_average_upside_down_share():
    result = episode_means([measured_episode([0.0, 3.0]), measured_episode([0.0, 0.0])], {})

    assert result["upside_down_share"] == pytest.approx(0.25)
