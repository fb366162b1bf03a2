"""Create Gymnasium tasks with the wrappers every agent shares."""

from __future__ import annotations

import difflib
import functools

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import RescaleAction

from ami.config.schema import EnvConfig
from envs.guard import StabilityGuard
from envs.pixels import PixelObservation


class UnknownTaskError(ValueError):
    """The task id is not registered with Gymnasium."""


def check_task(task: str, key: str | None = "env.task") -> None:
    """Raise UnknownTaskError, with close registered ids, unless ``task`` is registered.

    ``key`` names the setting that gave the task in the message; None leaves it out, e.g. where
    argparse already names the flag.
    """
    if task in gym.registry:
        return
    close = difflib.get_close_matches(task, list(gym.registry), n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    source = f" for {key}" if key is not None else ""
    raise UnknownTaskError(
        f"unknown task {task!r}{source}: it is not registered with Gymnasium.{hint} "
        "MuJoCo tasks are named like 'HalfCheetah-v5'; list them with "
        "`python -c \"import gymnasium; gymnasium.pprint_registry()\"`."
    )


def make_env(config: EnvConfig, render_mode: str | None = None) -> gym.Env:
    """Build the task of ``config`` with its time limit, a stability guard and, by default, actions in [-1, 1]."""
    check_task(config.task)
    kwargs = {}
    if config.max_episode_steps > 0:
        kwargs["max_episode_steps"] = config.max_episode_steps
    env = gym.make(config.task, render_mode=render_mode, **kwargs)
    if not isinstance(env.action_space, gym.spaces.Box):
        env.close()
        raise ValueError(
            f"task {config.task!r} has action space {env.action_space}; the agents need a continuous "
            "Box action space, as in the MuJoCo tasks"
        )
    # Unstable steps end the episode, so NaNs never reach an agent's memory.
    env = StabilityGuard(env)
    if config.normalize_actions:
        # float32 bounds: Gymnasium warns about float64 Box bounds, which Python floats would give.
        env = RescaleAction(env, min_action=np.float32(-1.0), max_action=np.float32(1.0))
    if config.pixels:
        env = wrap_pixels(env, config)
    return env


def wrap_pixels(env: gym.Env, config: EnvConfig) -> gym.Env:
    """Wrap ``env`` in ``PixelObservation`` with the settings of ``config``; close ``env`` if that fails."""
    try:
        return PixelObservation(
            env,
            image_size=config.image_size,
            frame_stack=config.frame_stack,
            camera=config.camera,
            include_state=config.include_state,
            shadows=config.shadows,
            reflections=config.reflections,
            skybox=config.skybox,
        )
    except BaseException:
        env.close()
        raise


def make_vector_env(config: EnvConfig) -> gym.vector.VectorEnv:
    """Build ``config.num_envs`` copies of ``make_env(config)`` as one Gymnasium vector env.

    ``config.vectorization`` picks ``SyncVectorEnv`` (this process) or ``AsyncVectorEnv``
    (one subprocess per env). Both use Gymnasium's default next-step autoreset: the step after
    an env's episode ends ignores its action and returns the first observation of a new episode,
    with reward 0 and both flags False.
    """
    check_task(config.task)
    env_fns = [functools.partial(make_env, config)] * config.num_envs
    if config.vectorization == "async":
        return gym.vector.AsyncVectorEnv(env_fns, autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP)
    return gym.vector.SyncVectorEnv(env_fns, autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP)
