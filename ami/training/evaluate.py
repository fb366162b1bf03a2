"""Deterministic evaluation episodes in one acting mode."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from agents.ami_agent import AMIAgent
from ami.config.schema import Mode


EVAL_SEED_OFFSET = 10_000
"""Evaluation episodes use seeds from ``seed + EVAL_SEED_OFFSET``, apart from training seeds."""


@dataclass(frozen=True)
class EvalResult:
    mode: str
    """Acting mode of the AMI agent, or the label of another agent's policy."""
    returns: tuple[float, ...]
    lengths: tuple[int, ...]
    ms_per_action: float

    @property
    def mean_return(self) -> float:
        return float(np.mean(self.returns))

    @property
    def std_return(self) -> float:
        return float(np.std(self.returns))

    @property
    def mean_length(self) -> float:
        return float(np.mean(self.lengths))


def evaluate(
    agent: AMIAgent, env: gym.Env, mode: Mode, episodes: int, seed: int, reset_options: Sequence[dict[str, Any]] | None = None
) -> EvalResult:
    """Run ``episodes`` deterministic episodes; episode ``i`` starts from ``reset(seed=seed + i)``.

    With ``reset_options``, episode ``i`` also passes ``options=reset_options[i]``, e.g. the
    held-out start and goal of a maze task.

    The same seeds in every evaluation and for every mode make the modes comparable state by
    state. Evaluation uses its own short-term memory, reset before each episode, so a training
    episode that it interrupts keeps its context and warm start.

    The planner's sampling noise is drawn from a random state seeded with ``seed`` and forked from
    the global one, so evaluation is reproducible and leaves the training random stream as it was.
    """
    devices = [agent.device] if agent.device.type == "cuda" else []
    with agent.separate_memory(), torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        return run_episodes(
            lambda obs: agent.act(obs, deterministic=True, mode=mode), env, mode, episodes, seed, on_reset=agent.reset,
            reset_options=reset_options,
        )


def run_episodes(
    act: Callable[[np.ndarray], np.ndarray],
    env: gym.Env,
    label: str,
    episodes: int,
    seed: int,
    on_reset: Callable[[], None] | None = None,
    reset_options: Sequence[dict[str, Any]] | None = None,
) -> EvalResult:
    """Run ``episodes`` episodes with ``act``; episode ``i`` starts from ``reset(seed=seed + i)``.

    Every agent of a comparison is evaluated by this loop, so all see the same start states.
    ``on_reset`` runs before each episode, e.g. to clear an agent's short-term memory.
    ``reset_options[i]``, when given, is passed as the ``options`` of episode ``i``'s reset.
    """
    if reset_options is not None and len(reset_options) < episodes:
        raise ValueError(f"{len(reset_options)} reset options for {episodes} episodes; give one per episode")
    returns, lengths = [], []
    acting_seconds, num_actions = 0.0, 0
    for episode in range(episodes):
        options = reset_options[episode] if reset_options is not None else None
        obs, _ = env.reset(seed=seed + episode, options=options)
        if on_reset is not None:
            on_reset()
        episode_return, length, done = 0.0, 0, False
        while not done:
            start = time.perf_counter()
            action = act(obs)
            acting_seconds += time.perf_counter() - start
            num_actions += 1
            obs, reward, terminated, truncated, _ = env.step(action)
            episode_return += float(reward)
            length += 1
            done = terminated or truncated
        returns.append(episode_return)
        lengths.append(length)
    return EvalResult(label, tuple(returns), tuple(lengths), 1000 * acting_seconds / max(num_actions, 1))
