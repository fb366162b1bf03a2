"""Held-out start/goal evaluation on the point-maze tasks: success rate, steps to success and final distance.

Every episode resets with a pair of ``envs.maze_eval.held_out_pairs`` drawn with
``HELD_OUT_SEED``, so every run, planner and evaluation gets the same far-apart pairs.
``evaluate_held_out`` acts deliberatively with whatever planner the agent's actor holds, and
``planner_swapped`` puts in another one, e.g. a flat planner on a run trained with ``hjepa``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch

from agents.ami_agent import AMIAgent
from ami.actor.base import PLANNERS, Planner
from ami.build import instantiate
from ami.config.schema import PlannerConfig
from ami.spec import TaskSpec
from envs.maze_eval import MazePair, held_out_pairs
from envs.maze_layouts import MazeLayout
from envs.point_maze import PointMazeEnv

HELD_OUT_SEED = 0
"""Seed of ``held_out_pairs`` in every maze evaluation."""


class EpisodeRecorder(Protocol):
    """Receives the ball position at the start of an episode and after every step."""

    def start_episode(self, pair: MazePair, position: np.ndarray) -> None: ...

    def record_step(self, position: np.ndarray) -> None: ...

    def end_episode(self, later_calls: int) -> None:
        """Close the episode. Its batch made ``later_calls`` more planner calls for its other episodes."""


@dataclass(frozen=True)
class MazeEpisode:
    """Outcome of one held-out episode; positions in metres."""

    start: tuple[float, float]
    goal: tuple[float, float]
    path_cells: int
    """Shortest-path length between the start's and the goal's cells, in moves between free cells."""
    success: bool
    """Whether the ball centre came within the env's ``success_radius`` of the goal."""
    steps: int
    """Env steps to the first success, or the episode length without one."""
    final_distance: float
    """Distance from the ball centre to the goal after the last step, in metres."""


@dataclass(frozen=True)
class HeldOutResult:
    """Held-out episodes of one planner."""

    planner: str
    transitions_per_action: int
    """Latent transitions of one planner call (``ami.actor.budget``)."""
    episodes: tuple[MazeEpisode, ...]
    ms_per_action: float

    @property
    def success_rate(self) -> float:
        return float(np.mean([episode.success for episode in self.episodes]))

    @property
    def mean_steps_to_success(self) -> float | None:
        """Mean env steps to success over the successful episodes; None without one."""
        steps = [episode.steps for episode in self.episodes if episode.success]
        return float(np.mean(steps)) if steps else None

    @property
    def mean_final_distance(self) -> float:
        return float(np.mean([episode.final_distance for episode in self.episodes]))

    def summary(self) -> dict[str, Any]:
        """Return the figures and the episodes as JSON-ready values."""
        return {
            "planner": self.planner,
            "transitions_per_action": self.transitions_per_action,
            "num_episodes": len(self.episodes),
            "success_rate": self.success_rate,
            "mean_steps_to_success": self.mean_steps_to_success,
            "mean_final_distance": self.mean_final_distance,
            "ms_per_action": self.ms_per_action,
            "episodes": [dataclasses.asdict(episode) for episode in self.episodes],
        }


def find_maze_env(env: gym.Env) -> PointMazeEnv | None:
    """Return the ``PointMazeEnv`` under ``env``'s wrappers, or None for another task."""
    unwrapped = env.unwrapped
    return unwrapped if isinstance(unwrapped, PointMazeEnv) else None


def maze_layout(env: gym.Env) -> MazeLayout | None:
    """Return the layout of a point-maze env, or None for another task."""
    maze = find_maze_env(env)
    return maze.layout if maze is not None else None


def held_out_reset_options(env: gym.Env, num_pairs: int) -> list[dict[str, Any]] | None:
    """Return the ``reset`` options of the first ``num_pairs`` held-out pairs, or None when ``env`` is no maze."""
    layout = maze_layout(env)
    if layout is None:
        return None
    return [pair.reset_options() for pair in held_out_pairs(layout, num_pairs, HELD_OUT_SEED)]


def build_planner(config: PlannerConfig, spec: TaskSpec) -> Planner:
    """Build the planner that ``config.name`` names, as the agent's builder does."""
    return instantiate(PLANNERS, config.name, "actor.planner.name", config, spec, **config.options)


@contextmanager
def planner_swapped(agent: AMIAgent, planner: Planner) -> Iterator[None]:
    """Act deliberatively with ``planner`` inside the block, then restore the agent's own planner."""
    actor = agent.modules.actor
    saved = actor.planner
    actor.planner = planner
    try:
        yield
    finally:
        actor.planner = saved


def evaluate_held_out(
    agent: AMIAgent,
    envs: gym.Env | Sequence[gym.Env],
    pairs: list[MazePair],
    seed: int,
    label: str,
    transitions_per_action: int,
    recorder: EpisodeRecorder | None = None,
) -> HeldOutResult:
    """Run one deterministic deliberative episode per pair; episode ``i`` resets with ``seed + i`` and pair ``i``.

    With a list of ``n`` envs the pairs run in batches of ``n`` episodes, one planner call for
    the whole batch per step (``AMIAgent.act_batch``), which is how a GPU or a many-core CPU
    plans fastest. Envs whose episode ended wait for the rest of their batch. ``recorder`` gets
    the first episode of every batch; with one env, every episode.

    An episode ends at its first success, even in an env created with ``terminate_on_success=False``.

    As in ``ami.training.evaluate.evaluate``, the episodes use their own short-term memory and a
    forked random state seeded with ``seed``, so they leave training state as it was.
    ``ms_per_action`` is the acting time divided by the actions of the episodes still running.
    """
    envs = [envs] if isinstance(envs, gym.Env) else list(envs)
    mazes = [find_maze_env(env) for env in envs]
    if not envs or any(maze is None for maze in mazes):
        names = [env.spec.id if env.spec is not None else repr(env) for env in envs]
        raise ValueError(f"held-out evaluation needs point-maze envs (ami/PointMazeU-v0, ami/PointMazeLarge-v0), got {names}")
    devices = [agent.device] if agent.device.type == "cuda" else []
    episodes = []
    acting_seconds, num_actions = 0.0, 0
    with agent.separate_memory(), torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        for first in range(0, len(pairs), len(envs)):
            batch = BatchEpisodes(envs, mazes, pairs[first : first + len(envs)], seed + first)
            agent.reset()
            if recorder is not None:
                recorder.start_episode(batch.pairs[0], batch.positions[0])
            while not batch.all_done:
                start = time.perf_counter()
                actions = agent.act_batch(batch.obs, deterministic=True, mode="deliberative")
                acting_seconds += time.perf_counter() - start
                num_actions += batch.num_running
                recorded = not batch.done[0]
                batch.step(actions)
                if recorder is not None and recorded:
                    recorder.record_step(batch.positions[0])
            if recorder is not None:
                recorder.end_episode(batch.calls - batch.steps[0])
            episodes.extend(batch.episodes())
    return HeldOutResult(label, transitions_per_action, tuple(episodes), 1000 * acting_seconds / max(num_actions, 1))


class BatchEpisodes:
    """The episodes of one batch of held-out pairs, one env each, stepped together."""

    def __init__(self, envs: list[gym.Env], mazes: list[PointMazeEnv], pairs: list[MazePair], seed: int) -> None:
        self.envs, self.mazes, self.pairs = envs[: len(pairs)], mazes[: len(pairs)], pairs
        resets = [env.reset(seed=seed + i, options=pair.reset_options()) for i, (env, pair) in enumerate(zip(self.envs, pairs))]
        self.obs = np.stack([obs for obs, _ in resets])
        self.infos = [info for _, info in resets]
        self.success = [bool(info["success"]) for info in self.infos]
        self.done = list(self.success)
        self.steps = [0] * len(pairs)
        self.calls = 0
        """Planner calls of the batch so far."""
        self.positions = [maze.data.qpos[:2].copy() for maze in self.mazes]

    @property
    def all_done(self) -> bool:
        return all(self.done)

    @property
    def num_running(self) -> int:
        return self.done.count(False)

    def step(self, actions: np.ndarray) -> None:
        """Step every running env with its row of ``actions (n, action_dim)``."""
        self.calls += 1
        for i, env in enumerate(self.envs):
            if self.done[i]:
                continue
            self.obs[i], _, terminated, truncated, self.infos[i] = env.step(actions[i])
            self.steps[i] += 1
            self.positions[i] = self.mazes[i].data.qpos[:2].copy()
            self.success[i] = bool(self.infos[i]["success"])
            self.done[i] = self.success[i] or terminated or truncated

    def episodes(self) -> list[MazeEpisode]:
        return [
            MazeEpisode(pair.start, pair.goal, pair.path_cells, self.success[i], self.steps[i], float(self.infos[i]["distance_to_goal"]))
            for i, pair in enumerate(self.pairs)
        ]
