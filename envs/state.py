"""Save and restore the state of an episode in progress, so a resumed run continues it exactly."""

from __future__ import annotations

import logging
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
import torch

logger = logging.getLogger(__name__)

def env_state_dict(env: gym.Env) -> dict[str, Any]:
    """Capture the simulation, the time-limit counter and the reset RNG of ``env``.

    Returns plain data and tensors only. For a task that is not a MuJoCo env the simulation
    is missing, and ``load_env_state_dict`` then starts a new episode instead.
    """
    unwrapped = env.unwrapped
    state: dict[str, Any] = {
        "np_random": unwrapped.np_random.bit_generator.state,
        "elapsed_steps": [getattr(wrapper, "_elapsed_steps", None) for wrapper in wrapper_chain(env)],
    }
    # Wrappers with their own episode state, such as the frame stack of pixel observations.
    wrapper_states = [wrapper.episode_state_dict() for wrapper in wrapper_chain(env) if hasattr(wrapper, "episode_state_dict")]
    if wrapper_states:
        state["wrappers"] = wrapper_states
    data = getattr(unwrapped, "data", None)
    if isinstance(data, mujoco.MjData):
        state["mujoco"] = mujoco_state_dict(unwrapped.model, data)
    return state


def mujoco_state_dict(model: mujoco.MjModel, data: mujoco.MjData) -> dict[str, Any]:
    """Copy the time and every model-sized array of ``data``.

    Besides the integration state (positions, velocities, controls, warm start) this keeps the
    quantities that the last ``mj_forward`` derived, such as body positions, because some
    tasks read them before they simulate the next step. Arrays sized by the contacts of the
    moment are left out: the next step recomputes them before using them.
    """
    arrays = {name: torch.from_numpy(getattr(data, name).copy()) for name in model_sized_fields(model)}
    return {"time": float(data.time), "arrays": arrays}


def model_sized_fields(model: mujoco.MjModel) -> list[str]:
    """Names of the ``MjData`` arrays whose size the model fixes; contact-sized arrays are empty in fresh data."""
    fresh = mujoco.MjData(model)
    return [
        name
        for name in dir(fresh)
        if not name.startswith("_") and isinstance(getattr(fresh, name), np.ndarray) and getattr(fresh, name).size > 0
    ]


def load_env_state_dict(env: gym.Env, state: dict[str, Any]) -> bool:
    """Put ``env``, already reset, in the episode state of ``state``.

    Returns False when the state contains no simulation to restore (a task that is not a MuJoCo
    env): the caller then keeps the fresh episode that its reset started. Raises ValueError
    when the saved simulation does not fit this task's model.
    """
    unwrapped = env.unwrapped
    unwrapped.np_random.bit_generator.state = state["np_random"]
    if "mujoco" not in state:
        logger.warning("%s is not a MuJoCo env, so its episode in progress cannot be restored; starting a new one", env)
        return False
    load_mujoco_state_dict(unwrapped.data, state["mujoco"])

    wrappers = wrapper_chain(env)
    if len(wrappers) != len(state["elapsed_steps"]):
        raise ValueError(f"the saved env has {len(state['elapsed_steps'])} wrappers but this env has {len(wrappers)}")
    for wrapper, elapsed_steps in zip(wrappers, state["elapsed_steps"]):
        if elapsed_steps is not None:
            wrapper._elapsed_steps = elapsed_steps
    stateful = [wrapper for wrapper in wrappers if hasattr(wrapper, "load_episode_state_dict")]
    saved_wrapper_states = state.get("wrappers", [])
    if len(stateful) != len(saved_wrapper_states):
        raise ValueError(f"the saved env has {len(saved_wrapper_states)} wrappers with episode state but this env has {len(stateful)}")
    for wrapper, saved in zip(stateful, saved_wrapper_states):
        wrapper.load_episode_state_dict(saved)
    return True


def load_mujoco_state_dict(data: mujoco.MjData, state: dict[str, Any]) -> None:
    """Copy saved arrays into ``data``, checking each name and shape before writing any."""
    targets = {}
    for name, saved in state["arrays"].items():
        target = getattr(data, name, None)
        if not isinstance(target, np.ndarray) or target.shape != tuple(saved.shape):
            found = "missing" if not isinstance(target, np.ndarray) else f"of shape {target.shape}"
            raise ValueError(f"the saved MuJoCo array {name!r} of shape {tuple(saved.shape)} does not fit this model: it is {found}")
        targets[name] = target
    for name, target in targets.items():
        target[...] = state["arrays"][name].numpy()
    data.time = state["time"]


def wrapper_chain(env: gym.Env) -> list[gym.Env]:
    """Return the wrappers of ``env``, outermost first, then the unwrapped env."""
    chain = [env]
    while isinstance(chain[-1], gym.Wrapper):
        chain.append(chain[-1].env)
    return chain


def vector_env_state_dict(env: gym.vector.VectorEnv) -> dict[str, Any]:
    """Capture every sub-env of a ``SyncVectorEnv`` and which of them reset at the next step.

    An ``AsyncVectorEnv`` keeps its sub-envs in other processes, out of reach, so its state
    contains no sub-envs and ``load_vector_env_state_dict`` then starts new episodes.
    """
    if not isinstance(env, gym.vector.SyncVectorEnv):
        return {"envs": None}
    # _autoreset_envs is private to Gymnasium's vector envs (1.x): the sub-envs whose next step is a reset.
    autoreset = torch.from_numpy(np.array(env._autoreset_envs, dtype=bool))
    return {"envs": [env_state_dict(sub_env) for sub_env in env.envs], "autoreset": autoreset}


def load_vector_env_state_dict(env: gym.vector.VectorEnv, state: dict[str, Any]) -> bool:
    """Put ``env``, already reset, in the episodes of ``state``.

    Returns False, and restores nothing, when ``state`` or ``env`` cannot hold the sub-envs'
    simulations (an async vector env, or tasks that are not MuJoCo envs). Raises ValueError when
    the number of sub-envs differs.
    """
    saved_envs = state["envs"]
    if saved_envs is None or not isinstance(env, gym.vector.SyncVectorEnv):
        logger.warning("the sub-envs of %s cannot be restored, so every env starts a new episode", type(env).__name__)
        return False
    if len(saved_envs) != len(env.envs):
        raise ValueError(f"the saved vector env has {len(saved_envs)} sub-envs but this one has {len(env.envs)}")
    if not all("mujoco" in saved for saved in saved_envs):
        logger.warning("the sub-envs are not MuJoCo envs, so their episodes in progress cannot be restored; starting new ones")
        return False
    for sub_env, saved in zip(env.envs, saved_envs):
        load_env_state_dict(sub_env, saved)
    env._autoreset_envs = state["autoreset"].numpy().copy()
    return True
