"""``envs.pixels.PixelObservation`` on real MuJoCo tasks, rendered offscreen."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import gymnasium as gym
import mujoco
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from ami.config import EnvConfig
from ami.spec import TaskSpec
from envs.make import make_env
from envs.pixels import PixelObservation, find_pixel_wrapper
from envs.state import env_state_dict, load_env_state_dict
from tests.tiny import REPO_ROOT

SIZE = 32


def pixel_env(task: str = "InvertedPendulum-v5", **options) -> PixelObservation:
    return PixelObservation(gym.make(task), image_size=SIZE, **options)


def test_pixel_env_passes_check_env():
    env = pixel_env()

    check_env(env, skip_render_check=True)
    env.close()


def test_pixel_env_with_state_passes_check_env():
    env = pixel_env(include_state=True)

    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"pixels", "state"}
    assert obs["state"].shape == (4,)
    env.close()


def test_observation_shape_and_dtype():
    env = pixel_env(frame_stack=4)
    obs, _ = env.reset(seed=0)

    assert env.observation_space.shape == (4, SIZE, SIZE, 3)
    assert obs.shape == (4, SIZE, SIZE, 3)
    assert obs.dtype == np.uint8
    assert env.observation_space.contains(obs)
    env.close()


def test_reset_repeats_first_frame():
    env = pixel_env()
    obs, _ = env.reset(seed=0)

    assert np.array_equal(obs[0], obs[1])
    assert np.array_equal(obs[1], obs[2])
    # The frame shows something: the pole and the rail are not the background colour.
    assert len(np.unique(obs[-1].reshape(-1, 3), axis=0)) > 5
    env.close()


def test_step_shifts_frame_stack():
    env = pixel_env()
    obs, _ = env.reset(seed=0)
    next_obs, *_ = env.step(np.array([3.0], dtype=np.float32))

    assert np.array_equal(next_obs[:-1], obs[1:])
    assert not np.array_equal(next_obs[-1], obs[-1])
    env.close()


def test_same_seed_renders_same_frames():
    env = pixel_env()
    first, _ = env.reset(seed=3)
    second, _ = env.reset(seed=3)

    assert np.array_equal(first, second)
    env.close()


def test_scene_flags_off_by_default():
    env = pixel_env()
    flags = env.renderer.scene.flags

    assert flags[mujoco.mjtRndFlag.mjRND_SHADOW] == 0
    assert flags[mujoco.mjtRndFlag.mjRND_REFLECTION] == 0
    assert flags[mujoco.mjtRndFlag.mjRND_SKYBOX] == 0
    env.close()


def test_scene_flags_on_when_requested():
    env = pixel_env(shadows=True, reflections=True, skybox=True)
    flags = env.renderer.scene.flags

    assert flags[mujoco.mjtRndFlag.mjRND_SHADOW] == 1
    assert flags[mujoco.mjtRndFlag.mjRND_REFLECTION] == 1
    assert flags[mujoco.mjtRndFlag.mjRND_SKYBOX] == 1
    env.close()


def test_named_camera_of_model():
    env = pixel_env("HalfCheetah-v5", camera="track")
    obs, _ = env.reset(seed=0)

    assert env.renderer.camera.type == mujoco.mjtCamera.mjCAMERA_FIXED
    assert obs.shape == (3, SIZE, SIZE, 3)
    env.close()


def test_unknown_camera_lists_model_cameras():
    with pytest.raises(ValueError, match=r"unknown camera 'top'.*'track'"):
        pixel_env("HalfCheetah-v5", camera="top")


def test_frame_larger_than_model_buffer():
    env = PixelObservation(gym.make("InvertedPendulum-v5"), image_size=800, frame_stack=1)
    obs, _ = env.reset(seed=0)

    assert obs.shape == (1, 800, 800, 3)
    env.close()


def test_make_env_wraps_pixels_outermost():
    env = make_env(EnvConfig(task="InvertedPendulum-v5", pixels=True, image_size=SIZE, frame_stack=2))
    spec = TaskSpec.from_env(env, "InvertedPendulum-v5")

    assert isinstance(env, PixelObservation)
    assert find_pixel_wrapper(env) is env
    assert spec.pixels
    assert spec.obs_shape == (2, SIZE, SIZE, 3)
    assert spec.obs_dim == 2 * SIZE * SIZE * 3
    # Actions are still normalized to [-1, 1] under the pixel wrapper.
    assert np.array_equal(env.action_space.low, [-1.0])
    env.close()


def test_task_spec_rejects_dict_observation():
    env = make_env(EnvConfig(task="InvertedPendulum-v5", pixels=True, image_size=SIZE, include_state=True))

    with pytest.raises(ValueError, match="env.include_state = false"):
        TaskSpec.from_env(env, "InvertedPendulum-v5")
    env.close()


def test_env_state_restores_frame_stack():
    env = make_env(EnvConfig(task="InvertedPendulum-v5", pixels=True, image_size=SIZE))
    env.reset(seed=0)
    for _ in range(4):
        env.step(np.array([0.5], dtype=np.float32))
    state = env_state_dict(env)
    expected, *_ = env.step(np.array([-0.5], dtype=np.float32))

    env.reset(seed=1)
    assert load_env_state_dict(env, state)
    restored, *_ = env.step(np.array([-0.5], dtype=np.float32))

    assert np.array_equal(restored, expected)
    env.close()


def test_state_run_sets_no_gl_backend():
    # A fresh interpreter without MUJOCO_GL builds a state-only trainer and steps its env.
    script = textwrap.dedent(
        """
        import os, sys
        from ami.config import load_config
        from ami.training.trainer import Trainer
        import envs.gl_backend as gl_backend

        trainer = Trainer(load_config("experiments/configs/debug.toml"), show_progress=False)
        trainer.env.reset(seed=0)
        trainer.env.step(trainer.env.action_space.sample())
        print(os.environ.get("MUJOCO_GL"), gl_backend._selected, "mujoco.egl" in sys.modules, "mujoco.osmesa" in sys.modules)
        """
    )
    env = {key: value for key, value in os.environ.items() if key not in ("MUJOCO_GL", "PYOPENGL_PLATFORM")}
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["None", "None", "False", "False"]
