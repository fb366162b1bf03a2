"""Upper bound of the hierarchical planner on a saved maze run: waypoints from the maze's true shortest path.

An oracle replaces the high level. At every step the waypoint is the ball at rest in the centre
of the cell ``CELLS`` moves along the maze's breadth-first-search path from the ball's cell to
the goal's cell. Its observation keeps the episode's goal, and on the last ``CELLS`` moves the
goal observation replaces it. The low level steers to the waypoint's level-1 latent, as with
``actor.planner.high_level.subgoal = "waypoint"``. Pairs that it fails are pairs that the
level-0 world model and the low level cannot finish, whatever waypoints a learned high level
proposes.

Usage: python experiments/results/maze/oracle_waypoints.py RUN_DIR PAIRS PAIR_SEED CELLS OUTPUT [KEY=VALUE ...]
The ``KEY=VALUE`` overrides are those of ``ami maze-eval --planner-set``, e.g. ``num_samples=58``,
except ``high_level.subgoal`` and ``high_level.landmarks``, which the oracle sets.
"""

import argparse
import dataclasses
import json
from pathlib import Path

import torch

from ami.actor.budget import flat_transitions_per_action
from ami.actor.hierarchical import HierarchicalPlanner
from ami.training.evaluate import EVAL_SEED_OFFSET
from ami.training.maze_evaluation import evaluate_held_out, maze_layout, planner_swapped
from envs.make import make_env
from envs.maze_eval import held_out_pairs
from experiments.arguments import non_negative_int, positive_int
from experiments.cli import load_run
from experiments.maze_eval import check_output_spares_run, check_planner, hierarchical_planner_config


class OracleWaypointPlanner(HierarchicalPlanner):
    """The hierarchical planner with ``subgoal = "waypoint"``, whose waypoints come from the maze layout instead of a graph."""

    def __init__(self, config, spec, layout, cells: int) -> None:
        super().__init__(config, spec)
        self.layout, self.cells = layout, cells
        self._obs, self._goal_setter = None, None

    def prepare(self, world_model, cost, replay, goal_setter=None) -> None:
        """Build no graph: the layout gives the waypoints."""

    def condition(self, obs, world_model, goal_setter=None) -> None:
        self._obs, self._goal_setter = obs, goal_setter

    def _waypoint(self, latent, world_model, cost, level):
        """Return the level-1 latents ``(batch, D1)`` of the waypoint places, the path lengths in cells and whether the goal is the waypoint."""
        obs, goal_setter = self._obs, self._goal_setter
        targets = goal_setter.goal_observation(obs)  # (batch, obs_dim): goal position, at rest, episode's goal
        lengths, at_goal = [], []
        for row, target in zip(obs.tolist(), targets):
            ball = self.layout.cell_at(row[goal_setter.position_indices[0]], row[goal_setter.position_indices[1]])
            goal = self.layout.cell_at(row[goal_setter.goal_indices[0]], row[goal_setter.goal_indices[1]])
            path = self.layout.shortest_path(ball, goal)
            lengths.append(len(path) - 1)
            at_goal.append(len(path) - 1 <= self.cells)
            if not at_goal[-1]:
                target[goal_setter.position_indices] = torch.tensor(self.layout.cell_center(path[self.cells]), dtype=target.dtype)
        waypoint = level.abstract(world_model.encode(targets))
        return waypoint.to(latent.dtype), torch.tensor(lengths, dtype=torch.float32), torch.tensor(at_goal)


ORACLE_FIELDS = ("high_level.subgoal", "high_level.landmarks")
"""Planner fields that the oracle sets itself."""


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Evaluate a maze run's low level with waypoints from the maze's true shortest path.")
    parser.add_argument("run_dir", help="run folder of a point-maze run with a hierarchical world model")
    parser.add_argument("pairs", type=positive_int, help="start/goal pairs, one episode each")
    parser.add_argument("pair_seed", type=non_negative_int, help="seed of the pairs (0: the held-out pairs of ami maze-eval)")
    parser.add_argument("cells", type=positive_int, help="cells along the shortest path from the ball's cell to the waypoint")
    parser.add_argument("output", type=Path, help="JSON file to write")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="planner overrides, as ami maze-eval --planner-set")
    args = parser.parse_args()
    for override in args.overrides:
        if override.partition("=")[0] in ORACLE_FIELDS:
            parser.error(f"{override!r} sets a field that the oracle sets itself ({', '.join(ORACLE_FIELDS)}); remove it")
    if not args.output.parent.is_dir():
        parser.error(f"the folder of OUTPUT {str(args.output)!r} does not exist; create it or choose another path")
    try:
        check_output_spares_run(args.output, args.run_dir)
    except ValueError as error:
        parser.error(str(error).replace("--output", "OUTPUT"))
    return args


def main() -> None:
    args = parse_arguments()
    run_dir, num_pairs, pair_seed, cells, output = args.run_dir, args.pairs, args.pair_seed, args.cells, args.output
    try:
        trainer, metadata = load_run(argparse.Namespace(run_dir=run_dir, device=None))
    except (ValueError, OSError) as error:
        raise SystemExit(f"oracle_waypoints.py: error: {error}") from None
    layout = maze_layout(trainer.eval_env)
    if layout is None or trainer.config.world_model.name != "hjepa":
        raise SystemExit(
            f"oracle_waypoints.py: error: {run_dir} is a {trainer.config.env.task} run with world_model.name = "
            f"{trainer.config.world_model.name!r}; give a point-maze run with world_model.name = \"hjepa\""
        )
    try:
        config = hierarchical_planner_config(trainer.config, args.overrides)
        # ``landmarks`` only passes the config check of ``subgoal = "waypoint"``; no graph is built.
        config = dataclasses.replace(config, high_level=dataclasses.replace(config.high_level, subgoal="waypoint", landmarks=2))
        planner = OracleWaypointPlanner(config, trainer.spec, layout, cells)
        check_planner(trainer, config, planner, num_pairs)
    except ValueError as error:
        raise SystemExit(f"oracle_waypoints.py: error: {error}") from None

    pairs = held_out_pairs(layout, num_pairs, pair_seed)
    envs = [trainer.eval_env] + [make_env(trainer.config.env) for _ in range(num_pairs - 1)]
    budget = flat_transitions_per_action(config)
    with planner_swapped(trainer.agent, planner):
        result = evaluate_held_out(trainer.agent, envs, pairs, trainer.config.seed + EVAL_SEED_OFFSET, "oracle_waypoints", budget)

    record = {"run_dir": run_dir, "step": metadata["step"], "pair_seed": pair_seed, "cells_ahead": cells,
              "planner_config": dataclasses.asdict(config), **result.summary()}
    with open(output, "w") as file:
        json.dump(record, file, indent=1)
    print(f"oracle waypoints {cells} cell(s) ahead: success rate {result.success_rate:.2f}, "
          f"mean final distance {result.mean_final_distance:.2f} m over {num_pairs} pairs")


if __name__ == "__main__":
    main()
