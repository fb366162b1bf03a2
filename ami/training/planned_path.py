"""Pictures of a planned path over the maze: walls, start, goal, executed path and decoded subgoals.

The world model never predicts positions, so a subgoal (a level-1 latent) is shown at the
position of the stored observation whose level-1 abstraction is nearest to it, in squared
Euclidean distance, among observations sampled from the replay buffer. The decoded position is
therefore only as good as the replay's coverage of the maze and the latent's geometry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from ami.actor.base import Planner, PlanResult
from ami.actor.budget import transitions_per_action
from ami.configurator.goal import latents_by_level
from ami.memory.replay import TrajectoryReplay
from ami.training.evaluate import EVAL_SEED_OFFSET, EvalResult
from ami.training.goal_landscape import goal_landscape, landscape_figure, mean_rank_correlations
from ami.training.maze_evaluation import HELD_OUT_SEED, evaluate_held_out, maze_layout, planner_swapped
from ami.world_model.base import WorldModel
from envs.maze_drawing import draw_maze
from envs.maze_eval import MazePair, held_out_pairs
from envs.maze_layouts import MazeLayout

if TYPE_CHECKING:
    from ami.training.trainer import Trainer


LOOKUP_POOL = 4096
"""Stored observations sampled from replay as candidate subgoal positions."""
POSITION_INDICES = (0, 1)
"""Entries of a point-maze observation that hold the ball position ``(x, y)``."""


class RecordingPlanner(Planner):
    """Delegates to ``planner`` and keeps the subgoal of every call for the first env of the batch."""

    def __init__(self, planner: Planner) -> None:
        self.planner = planner
        self.subgoals: list[torch.Tensor] = []
        """Level-1 subgoal ``(latent_dim_1,)`` of each call, in call order; empty for flat planners."""

    def plan(self, latent, world_model, cost, policy, previous_plan=None, deterministic=False) -> PlanResult:
        result = self.planner.plan(latent, world_model, cost, policy, previous_plan, deterministic)
        if result.subgoal is not None:
            self.subgoals.append(result.subgoal[0].detach())
        return result

    def prepare(self, world_model, cost, replay, goal_setter=None) -> None:
        self.planner.prepare(world_model, cost, replay, goal_setter)

    def condition(self, obs, world_model, goal_setter=None) -> None:
        self.planner.condition(obs, world_model, goal_setter)


class PathRecorder:
    """Keeps the pair and the ball positions of the last episode (``EpisodeRecorder`` of ``evaluate_held_out``)."""

    def __init__(self) -> None:
        self.pair: MazePair | None = None
        self.positions: list[np.ndarray] = []
        self.later_calls = 0
        """Planner calls after the episode ended, made for the other episodes of its batch."""

    def start_episode(self, pair: MazePair, position: np.ndarray) -> None:
        self.pair = pair
        self.positions = [position]
        self.later_calls = 0

    def record_step(self, position: np.ndarray) -> None:
        self.positions.append(position)

    def end_episode(self, later_calls: int) -> None:
        self.later_calls = later_calls

    def episode_subgoals(self, subgoals: list[torch.Tensor]) -> list[torch.Tensor]:
        """Return the recorded episode's part of ``subgoals``, which has one subgoal per planner call of the evaluation, in call order."""
        steps = len(self.positions) - 1
        end = len(subgoals) - self.later_calls
        return subgoals[max(end - steps, 0) : end] if steps > 0 else []


class LatentPositionLookup:
    """Ball positions ``(pool, 2)`` of stored observations and their latents at every level, for nearest-neighbour decoding."""

    def __init__(self, positions: torch.Tensor, latents_by_level: list[torch.Tensor]) -> None:
        self.positions = positions
        self.latents_by_level = latents_by_level

    @classmethod
    @torch.no_grad()
    def from_replay(
        cls, world_model: WorldModel, replay: TrajectoryReplay, pool: int = LOOKUP_POOL, seed: int = 0
    ) -> LatentPositionLookup:
        """Encode up to ``pool`` stored observations, drawn without replacement, with the online encoder."""
        rows = replay.stored_rows()
        if len(rows) == 0:
            raise ValueError("the replay buffer stores no observations to decode subgoals with; load the run's replay first")
        generator = torch.Generator().manual_seed(seed)
        chosen = rows[torch.randperm(len(rows), generator=generator)[:pool]].to(replay.obs.device)
        obs = replay.obs[chosen]  # (pool, obs_dim)
        return cls(obs[:, list(POSITION_INDICES)], latents_by_level(world_model, obs))

    @torch.no_grad()
    def nearest_positions(self, latents: torch.Tensor, level: int) -> np.ndarray:
        """Return the stored positions ``(n, 2)`` nearest to ``latents (n, latent_dim_level)`` at ``level``."""
        if level >= len(self.latents_by_level):
            raise ValueError(f"invalid level {level}: the lookup contains latents of levels 0 to {len(self.latents_by_level) - 1}")
        stored = self.latents_by_level[level]
        distances = torch.cdist(latents.to(stored.device, stored.dtype), stored)  # (n, pool)
        return self.positions[distances.argmin(dim=1)].cpu().numpy()


def planned_path_image(
    layout: MazeLayout,
    recorder: PathRecorder,
    subgoals: list[torch.Tensor],
    lookup: LatentPositionLookup | None,
    subgoal_every: int,
) -> np.ndarray:
    """Draw the recorded episode: executed path, start, goal and the decoded subgoal of every ``subgoal_every``-th step.

    Returns ``uint8 (height, width, 3)``. Without subgoals or a lookup no subgoal is drawn.
    """
    if recorder.pair is None:
        raise ValueError("no episode was recorded; run evaluate_held_out with this recorder first")
    subgoal_positions = None
    if subgoals and lookup is not None:
        chosen = torch.stack(subgoals[::subgoal_every])  # (num_subgoals, latent_dim_1)
        subgoal_positions = lookup.nearest_positions(chosen, level=1)
    return draw_maze(
        layout, start=recorder.pair.start, goal=recorder.pair.goal, path=np.stack(recorder.positions), subgoals=subgoal_positions
    )


class MazeEvalDiagnostics:
    """Trainer evaluation hook on maze tasks: success rate, the planned-path picture and the goal-cost landscape.

    Logs ``eval/<mode>/success_rate`` from the evaluation's returns, since a maze episode
    earns reward only at steps within the success radius. After a deliberative evaluation it
    replays the first held-out pair with a recording planner and logs the picture as
    ``eval/<mode>/planned_path``. That one episode is run again for the picture, so each
    evaluation costs one episode more.
    """

    def __init__(self, trainer: Trainer) -> None:
        layout = maze_layout(trainer.eval_env)
        if layout is None:
            raise ValueError("maze diagnostics need a point-maze evaluation env (ami/PointMazeU-v0, ami/PointMazeLarge-v0)")
        if trainer.spec.pixels:
            raise ValueError("maze diagnostics decode subgoals from stored state vectors, so they need env.pixels = false")
        self.trainer = trainer
        self.layout = layout

    def on_evaluation(self, step: int, result: EvalResult) -> None:
        self.trainer.metrics.scalars({f"eval/{result.mode}/success_rate": float(np.mean(np.array(result.returns) > 0))}, step)
        if result.mode != "deliberative":
            return
        image = record_planned_path(self.trainer, self.layout)
        self.trainer.metrics.image(f"eval/{result.mode}/planned_path", image, step)
        self.log_goal_landscape(step)

    def log_goal_landscape(self, step: int) -> None:
        """Log how each level's goal cost ranks cells against their path distance (``ami.training.goal_landscape``).

        Scalars ``eval/goal_cost/level_<l>/rank_correlation`` average over every free cell as
        the goal. The figure ``eval/goal_cost/level_<l>`` shows the goal of the first held-out pair.
        """
        trainer = self.trainer
        modules = trainer.agent.modules
        goal_setter = modules.configurator.goal_setter
        if not goal_setter.enabled:
            return
        args = (modules.world_model, goal_setter, trainer.spec.obs_dim, self.layout)
        correlations = mean_rank_correlations(*args, trainer.device, modules.cost)
        defined = {level: value for level, value in correlations.items() if value is not None}
        trainer.metrics.scalars({f"eval/goal_cost/level_{level}/rank_correlation": value for level, value in defined.items()}, step)

        goal = held_out_pairs(self.layout, 1, HELD_OUT_SEED)[0].goal
        landscape = goal_landscape(*args, self.layout.cell_at(*goal), trainer.device, modules.cost)
        for level in landscape.latent_distances:
            trainer.metrics.figure(f"eval/goal_cost/level_{level}", landscape_figure(self.layout, landscape, level), step)


def record_planned_path(trainer: Trainer, layout: MazeLayout) -> np.ndarray:
    """Run the first held-out pair with the agent's planner and return its planned-path picture."""
    agent = trainer.agent
    recording = RecordingPlanner(agent.modules.actor.planner)
    recorder = PathRecorder()
    pair = held_out_pairs(layout, 1, HELD_OUT_SEED)
    planner_config = trainer.config.actor.planner
    with planner_swapped(agent, recording):
        evaluate_held_out(
            agent, trainer.eval_env, pair, trainer.config.seed + EVAL_SEED_OFFSET, "planned_path",
            transitions_per_action(planner_config), recorder,
        )
    lookup = None
    if recording.subgoals:
        lookup = LatentPositionLookup.from_replay(agent.modules.world_model, agent.modules.replay)
    return planned_path_image(layout, recorder, recording.subgoals, lookup, subgoal_every=planner_config.horizon)
