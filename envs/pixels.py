"""Pixel observations for any MuJoCo task: stacked camera frames rendered offscreen."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
import torch

from envs.gl_backend import gl_context_class, select_gl_backend

AUTO_CAMERA = "auto"
"""``env.camera`` value that takes the task's entry of ``TASK_CAMERAS``."""


@dataclass(frozen=True)
class FreeCamera:
    """A free MuJoCo camera: it looks at ``lookat`` from ``distance`` metres (angles in degrees)."""

    lookat: tuple[float, float, float]
    distance: float
    azimuth: float
    elevation: float


TASK_CAMERAS: dict[str, str | FreeCamera] = {
    # The cart slides along x in [-1, 1] and the pole is 0.6 m long: a side view of the rail.
    "InvertedPendulum": FreeCamera(lookat=(0.0, 0.0, 0.2), distance=2.8, azimuth=90.0, elevation=-10.0),
    "InvertedDoublePendulum": FreeCamera(lookat=(0.0, 0.0, 0.5), distance=3.2, azimuth=90.0, elevation=-10.0),
    # Top-down view of the 0.6 m square arena, so the arm and the target are never hidden.
    "Reacher": FreeCamera(lookat=(0.0, 0.0, 0.0), distance=0.85, azimuth=90.0, elevation=-90.0),
    # Cameras named "track" in the Gymnasium models follow the centre of mass from the side.
    "HalfCheetah": "track",
    "Hopper": "track",
    "Walker2d": "track",
    "Ant": "track",
    "Swimmer": "track",
}
"""Default camera of a task (its Gymnasium id without the ``-vN`` suffix): a camera name of the
model or a free camera. Tasks not listed use the model's ``track`` camera when it has one, and
otherwise a free camera on the model's centre that frames its whole extent."""

SCENE_FLAGS = {
    "shadows": mujoco.mjtRndFlag.mjRND_SHADOW,
    "reflections": mujoco.mjtRndFlag.mjRND_REFLECTION,
    "skybox": mujoco.mjtRndFlag.mjRND_SKYBOX,
}
"""Scene effects that cost most in software rendering, by wrapper keyword. HalfCheetah-v5 at
64x64 rendered 161 frames/s with all three off and 10 frames/s with all three on, on Mesa's
llvmpipe through EGL with 2 busy CPU cores (a loop over ``FrameRenderer.render``)."""


def task_family(task_id: str) -> str:
    """Return the task name without its version, e.g. ``HalfCheetah`` for ``HalfCheetah-v5``."""
    name = task_id.rsplit("/", 1)[-1]
    base, separator, version = name.rpartition("-v")
    return base if separator and version.isdigit() else name


class FrameRenderer:
    """Renders RGB frames ``(height, width, 3)`` uint8 of one model from one camera, offscreen.

    It owns an OpenGL context of ``backend`` and makes it current before each frame, so several
    renderers (a training env and an evaluation env) can share a thread.
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        height: int,
        width: int,
        camera: str | FreeCamera,
        backend: str,
        scene_flags: dict[str, bool],
    ) -> None:
        self.model = model
        self.height, self.width = height, width
        self.camera = build_camera(model, camera)

        # The offscreen buffer must be at least as large as the frame; it is a visual setting only.
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, width)
        model.vis.global_.offheight = max(model.vis.global_.offheight, height)
        self.gl_context = gl_context_class(backend)(width, height)
        self.gl_context.make_current()
        self.mjr_context = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_100)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self.mjr_context)

        self.scene = mujoco.MjvScene(model, maxgeom=2 * model.ngeom + 100)
        for name, flag in SCENE_FLAGS.items():
            self.scene.flags[flag] = bool(scene_flags.get(name, False))
        self.scene_option = mujoco.MjvOption()
        self.viewport = mujoco.MjrRect(0, 0, width, height)
        self._pixels = np.empty((height, width, 3), dtype=np.uint8)

    def render(self, data: mujoco.MjData) -> np.ndarray:
        """Return a new frame of ``data``, top row first."""
        self.gl_context.make_current()
        mujoco.mjv_updateScene(
            self.model, data, self.scene_option, None, self.camera, mujoco.mjtCatBit.mjCAT_ALL, self.scene
        )
        mujoco.mjr_render(self.viewport, self.scene, self.mjr_context)
        mujoco.mjr_readPixels(self._pixels, None, self.viewport, self.mjr_context)
        # OpenGL returns the bottom row first.
        return np.flipud(self._pixels).copy()

    def close(self) -> None:
        if self.gl_context is None:
            return
        self.gl_context.make_current()
        self.mjr_context.free()
        self.gl_context.free()
        self.gl_context = None


def build_camera(model: mujoco.MjModel, camera: str | FreeCamera) -> mujoco.MjvCamera:
    """Return an ``MjvCamera`` for a camera name of ``model`` or a free camera; a name not in the model raises ValueError."""
    view = mujoco.MjvCamera()
    if isinstance(camera, FreeCamera):
        view.type = mujoco.mjtCamera.mjCAMERA_FREE
        view.lookat[:] = camera.lookat
        view.distance = camera.distance
        view.azimuth = camera.azimuth
        view.elevation = camera.elevation
        return view

    camera_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
    if camera_id < 0:
        names = [model.camera(i).name for i in range(model.ncam)]
        listed = ", ".join(map(repr, names)) if names else "none"
        raise ValueError(
            f"unknown camera {camera!r} for env.camera; this model's cameras: {listed}. "
            f"Use env.camera = {AUTO_CAMERA!r} for the task's default view"
        )
    view.type = mujoco.mjtCamera.mjCAMERA_FIXED
    view.fixedcamid = camera_id
    return view


def default_camera(task_id: str, model: mujoco.MjModel) -> str | FreeCamera:
    """Return the camera of ``TASK_CAMERAS`` for the task, else ``track``, else a free camera framing the model."""
    listed = TASK_CAMERAS.get(task_family(task_id))
    if listed is not None:
        return listed
    if mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, "track") >= 0:
        return "track"
    center = tuple(float(x) for x in model.stat.center)
    return FreeCamera(lookat=center, distance=2.0 * float(model.stat.extent), azimuth=90.0, elevation=-20.0)


class PixelObservation(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Replace a MuJoCo task's observation with its last ``frame_stack`` camera frames.

    Observation: ``(frame_stack, image_size, image_size, 3)`` uint8, oldest frame first. After a
    reset the first frame fills the whole stack. With ``include_state`` the observation is a
    dict ``{"pixels": frames, "state": the task's own observation}``.

    Shadows, reflections and the skybox are off unless asked for, because they dominate the
    cost of software rendering and carry little information about the state.

    With ``record = True`` the wrapper keeps the newest frame and the action of every step of
    the current episode in ``episode_frames`` and ``episode_actions``, cleared at each reset,
    so an evaluation episode can be shown as a video.
    """

    def __init__(
        self,
        env: gym.Env,
        image_size: int = 64,
        frame_stack: int = 3,
        camera: str = AUTO_CAMERA,
        include_state: bool = False,
        shadows: bool = False,
        reflections: bool = False,
        skybox: bool = False,
        backend: str | None = None,
    ) -> None:
        # Recording the arguments lets Gymnasium recreate the wrapped env from its spec (check_env does).
        gym.utils.RecordConstructorArgs.__init__(
            self, image_size=image_size, frame_stack=frame_stack, camera=camera, include_state=include_state,
            shadows=shadows, reflections=reflections, skybox=skybox, backend=backend,
        )
        super().__init__(env)
        model = getattr(env.unwrapped, "model", None)
        if not isinstance(model, mujoco.MjModel):
            raise ValueError(f"{env} is not a MuJoCo env: pixel observations render a MuJoCo model (env.pixels = true)")
        if image_size < 1:
            raise ValueError(f"invalid env.image_size {image_size!r}; it must be a positive number of pixels")
        if frame_stack < 1:
            raise ValueError(f"invalid env.frame_stack {frame_stack!r}; it must be at least 1")

        self.image_size = image_size
        self.frame_stack = frame_stack
        self.include_state = include_state
        task_id = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
        view = default_camera(task_id, model) if camera == AUTO_CAMERA else camera
        scene_flags = {"shadows": shadows, "reflections": reflections, "skybox": skybox}
        self.renderer = FrameRenderer(model, image_size, image_size, view, backend or select_gl_backend(), scene_flags)

        pixels_space = gym.spaces.Box(0, 255, (frame_stack, image_size, image_size, 3), dtype=np.uint8)
        if include_state:
            self.observation_space = gym.spaces.Dict({"pixels": pixels_space, "state": env.observation_space})
        else:
            self.observation_space = pixels_space
        self.frames: deque[np.ndarray] = deque(maxlen=frame_stack)
        self.record = False
        self.episode_frames: list[np.ndarray] = []
        self.episode_actions: list[np.ndarray] = []

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        state, info = self.env.reset(seed=seed, options=options)
        frame = self.renderer.render(self.env.unwrapped.data)
        self.frames.clear()
        self.frames.extend([frame] * self.frame_stack)
        self.episode_frames = [frame] if self.record else []
        self.episode_actions = []
        return self._observation(state), info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        state, reward, terminated, truncated, info = self.env.step(action)
        frame = self.renderer.render(self.env.unwrapped.data)
        self.frames.append(frame)
        if self.record:
            self.episode_frames.append(frame)
            self.episode_actions.append(np.asarray(action, dtype=np.float32).copy())
        return self._observation(state), reward, terminated, truncated, info

    def _observation(self, state: Any) -> Any:
        pixels = np.stack(self.frames)  # (frame_stack, height, width, 3)
        if self.include_state:
            return {"pixels": pixels, "state": state}
        return pixels

    def episode_state_dict(self) -> dict[str, Any]:
        """Return the frames of the stack, so a resumed episode continues with the same observations."""
        return {"frames": torch.from_numpy(np.stack(self.frames))}

    def load_episode_state_dict(self, state: dict[str, Any]) -> None:
        frames = state["frames"].numpy()
        expected = (self.frame_stack, self.image_size, self.image_size, 3)
        if frames.shape != expected:
            raise ValueError(f"the saved frame stack has shape {frames.shape}; this env stacks {expected}")
        self.frames.clear()
        self.frames.extend(frame.copy() for frame in frames)

    def close(self) -> None:
        self.renderer.close()
        super().close()


def find_pixel_wrapper(env: gym.Env) -> PixelObservation | None:
    """Return the ``PixelObservation`` wrapper in ``env``'s wrapper chain, or None."""
    while isinstance(env, gym.Wrapper):
        if isinstance(env, PixelObservation):
            return env
        env = env.env
    return None
