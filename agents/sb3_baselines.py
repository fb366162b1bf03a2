"""Stable-Baselines3 SAC, TD3 and PPO, trained by SB3's own ``learn`` and evaluated on the comparison protocol."""

from __future__ import annotations

import collections.abc
import inspect
import logging
import re
import time
import types
import typing
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3 import PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.noise import NormalActionNoise

from agents.base import Agent
from ami.config.schema import EnvConfig
from ami.training.evaluate import run_episodes
from envs.make import make_env
from experiments.compare.protocol import EvalRecorder, RunSpec

logger = logging.getLogger(__name__)

ALGORITHMS: dict[str, type[BaseAlgorithm]] = {"sac": SAC, "td3": TD3, "ppo": PPO}
"""``RunSpec.kind`` values served by ``run_sb3``, with their SB3 class."""

RESERVED_ARGUMENTS = ("self", "env", "seed", "tensorboard_log", "_init_setup_model")
"""Constructor arguments that ``run_sb3`` sets itself, so options may not set them."""


class SB3Agent(Agent):
    """Policy of an SB3 model. The model learns in ``model.learn``, not through ``observe`` and ``update``."""

    def __init__(self, model: BaseAlgorithm) -> None:
        self.model = model

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        action, _ = self.model.predict(obs, deterministic=deterministic)
        return action


def default_options(kind: str, total_steps: int, action_dim: int) -> dict[str, Any]:
    """Constructor arguments for ``kind`` on MuJoCo tasks; options of the run override them.

    Unlisted arguments keep the SB3 defaults, which for SAC and PPO are the MuJoCo settings of
    their papers (SAC: lr 3e-4, batch 256, [256, 256] networks; PPO: 2048 steps per rollout,
    minibatch 64, 10 epochs, lr 3e-4, GAE lambda 0.95). Off-policy methods act randomly for
    10,000 steps before learning, as rl-baselines3-zoo's MuJoCo settings do, but for at most a
    tenth of the budget so that short runs still learn. TD3 explores with Gaussian noise of std
    0.1, as there.
    """
    if kind in ("sac", "td3"):
        options: dict[str, Any] = {"learning_starts": min(10_000, total_steps // 10)}
        if kind == "td3":
            options["action_noise"] = NormalActionNoise(mean=np.zeros(action_dim), sigma=0.1 * np.ones(action_dim))
        return options
    if kind == "ppo":
        # One rollout must fit the budget, and minibatches must divide the rollout.
        n_steps = max(64, min(2048, total_steps))
        return {"n_steps": n_steps, "batch_size": min(64, n_steps)}
    raise ValueError(f"unknown Stable-Baselines3 kind {kind!r}; expected one of {sorted(ALGORITHMS)}")


def constructor_arguments(algorithm: type[BaseAlgorithm]) -> list[str]:
    """Names of the keyword arguments of ``algorithm`` that run options may set."""
    parameters = inspect.signature(algorithm.__init__).parameters
    return [name for name in parameters if name not in RESERVED_ARGUMENTS]


def check_options(kind: str, options: dict[str, Any]) -> None:
    """Raise ValueError naming an option that the constructor of ``kind`` does not take or whose value has the wrong type."""
    if kind not in ALGORITHMS:
        raise ValueError(f"unknown Stable-Baselines3 kind {kind!r}; expected one of {sorted(ALGORITHMS)}")
    algorithm = ALGORITHMS[kind]
    valid = constructor_arguments(algorithm)
    parameters = inspect.signature(algorithm.__init__).parameters
    for name, value in options.items():
        if name not in valid:
            raise ValueError(
                f"invalid option {name!r} for {algorithm.__name__}: it is not a constructor argument "
                f"that runs may set; valid options are {', '.join(valid)}"
            )
        annotation = parameters[name].annotation
        if value_matches(annotation, value) is False:
            int_as_float = annotation is int and isinstance(value, float)
            hint = ", written without a decimal point or exponent, e.g. 10_000" if int_as_float else ""
            raise ValueError(
                f"invalid value {value!r} for option {name!r} of {algorithm.__name__}: expected {type_name(annotation)}{hint}"
            )


def value_matches(annotation: Any, value: Any) -> bool | None:
    """Return whether ``value`` fits a constructor's type ``annotation``, or None where the annotation is too loose to tell.

    SB3 annotates its constructors with classes and unions of them, e.g. ``int``,
    ``float | Callable[[float], float]`` or ``dict[str, Any] | None``. An int fits ``float``, and a
    bool fits only ``bool``.
    """
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        matches = [value_matches(member, value) for member in typing.get_args(annotation)]
        if True in matches:
            return True
        return None if None in matches else False
    if origin is not None:
        # Parametrized generics: dict[...], tuple[...], type[...], Callable[...].
        if origin is collections.abc.Callable:
            return callable(value)
        if origin is tuple:
            # TOML has arrays but no tuples; build_model turns such a list into a tuple.
            return tuple_matches(typing.get_args(annotation), value)
        return isinstance(value, origin)
    if annotation is None or annotation is type(None):
        return value is None
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    return None


def tuple_matches(members: tuple[Any, ...], value: Any) -> bool | None:
    """Return whether a tuple or list ``value`` fits ``tuple[members]``, element by element, or None where an element type is too loose to check."""
    if not isinstance(value, (tuple, list)):
        return False
    if Ellipsis in members:
        return None
    if len(value) != len(members):
        return False
    matches = [value_matches(member, item) for member, item in zip(members, value)]
    if False in matches:
        return False
    return None if None in matches else True


def accepts_tuple(annotation: Any) -> bool:
    """Return whether ``annotation`` is a tuple type or a union with one."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(accepts_tuple(member) for member in typing.get_args(annotation))
    return typing.get_origin(annotation) is tuple


def constructor_options(algorithm: type[BaseAlgorithm], options: dict[str, Any]) -> dict[str, Any]:
    """Return ``options`` with each list given for a tuple argument turned into a tuple.

    TOML has no tuples, and SB3 rejects a list ``train_freq = [1, "episode"]`` because it reads it as a step count.
    """
    parameters = inspect.signature(algorithm.__init__).parameters
    converted = {}
    for name, value in options.items():
        if isinstance(value, list) and name in parameters and accepts_tuple(parameters[name].annotation):
            value = tuple(value)
        converted[name] = value
    return converted


def type_name(annotation: Any) -> str:
    """Return an annotation as text without module paths, e.g. ``float | Callable[[float], float]``."""
    text = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    return re.sub(r"\b(?:\w+\.)+(\w+)", r"\1", text)


def build_model(spec: RunSpec, env: gym.Env) -> BaseAlgorithm:
    """Create the SB3 model of ``spec.kind`` on ``env``, with ``spec.options`` as constructor arguments.

    Raises ValueError naming an option that the constructor does not take, with the valid names.
    """
    check_options(spec.kind, spec.options)
    algorithm = ALGORITHMS[spec.kind]

    action_dim = int(np.prod(env.action_space.shape))
    arguments: dict[str, Any] = {"policy": "MlpPolicy", "device": "cpu", "verbose": 0}
    arguments.update(default_options(spec.kind, spec.total_steps, action_dim))
    arguments.update(constructor_options(algorithm, spec.options))
    return algorithm(env=env, seed=spec.seed, tensorboard_log=str(Path(spec.run_dir) / "train"), **arguments)


class EvalRecorderCallback(BaseCallback):
    """Evaluates the model every ``spec.eval_every`` env steps and at the end of training, and records each result.

    Env steps are ``model.num_timesteps``, summed over the training envs. Each evaluation runs
    ``spec.eval_episodes`` deterministic episodes on ``eval_env`` from ``spec.eval_seed``.
    """

    def __init__(self, spec: RunSpec, eval_env: gym.Env, recorder: EvalRecorder, start_time: float) -> None:
        super().__init__()
        self.spec = spec
        self.eval_env = eval_env
        self.recorder = recorder
        self.start_time = start_time
        self.last_evaluated_step = -1

    def _on_step(self) -> bool:
        at_end = self.num_timesteps >= self.spec.total_steps
        if self.num_timesteps % self.spec.eval_every == 0 or at_end:
            self.evaluate()
        # Stopping here keeps PPO, which collects whole rollouts of n_steps, from training past
        # total_steps, so every agent's last evaluation is at the same env step.
        return not at_end

    def _on_training_end(self) -> None:
        if self.last_evaluated_step != self.num_timesteps:
            self.evaluate()

    def evaluate(self) -> None:
        """Evaluate the current policy deterministically and record it at the current env step."""
        agent = SB3Agent(self.model)
        spec = self.spec
        result = run_episodes(
            lambda obs: agent.act(obs, deterministic=True), self.eval_env, spec.agent, spec.eval_episodes, spec.eval_seed
        )
        self.recorder.record(self.num_timesteps, result, time.perf_counter() - self.start_time)
        self.last_evaluated_step = self.num_timesteps
        logger.info(
            "%s on %s, seed %d: mean return %.1f after %d env steps",
            spec.agent, spec.task, spec.seed, result.mean_return, self.num_timesteps,
        )


def run_sb3(spec: RunSpec) -> dict[str, Any]:
    """Train ``spec.kind`` on ``spec.task`` for ``spec.total_steps`` env steps, evaluating along the way.

    SB3 writes its own training logs to ``run_dir/train``, and evaluations go through
    ``EvalRecorder``. The callback stops training at ``total_steps`` even where PPO's rollout
    of ``n_steps`` would go further. Returns ``wall_seconds`` and the ``env_steps`` trained.
    """
    start_time = time.perf_counter()
    train_env = make_env(EnvConfig(task=spec.task))
    eval_env = make_env(EnvConfig(task=spec.task))
    recorder = EvalRecorder(spec, spec.agent)
    try:
        model = build_model(spec, train_env)
        callback = EvalRecorderCallback(spec, eval_env, recorder, start_time)
        model.learn(total_timesteps=spec.total_steps, callback=callback)
        env_steps = model.num_timesteps
    finally:
        recorder.close()
        train_env.close()
        eval_env.close()
    return {"wall_seconds": time.perf_counter() - start_time, "env_steps": env_steps}
