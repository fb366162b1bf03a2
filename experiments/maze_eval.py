"""``ami maze-eval``: evaluate a trained maze run on held-out start/goal pairs, flat vs hierarchical planner at equal compute.

The hierarchical planner is built from the run's ``actor.planner`` (with ``name =
"hierarchical"``), so it needs a run trained with ``world_model.name = "hjepa"``. The flat
planner is MPPI on the same world model's level 0, a complete flat JEPA model, with
``num_samples`` chosen so that its latent transitions per action match the hierarchical
planner's (``ami.actor.budget``).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import typing
from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter

from ami.actor.budget import flat_transitions_per_action, hierarchical_transitions_per_action, matched_flat_num_samples
from ami.build import check_planner_fits
from ami.config.schema import HighLevelPlannerConfig, PlannerConfig, RunConfig
from ami.config.validate import validate_config
from ami.training.evaluate import EVAL_SEED_OFFSET
from ami.training.goal_landscape import graph_rank_correlation, mean_rank_correlations
from ami.training.run_dir import RUN_FILES
from ami.training.maze_evaluation import HELD_OUT_SEED, build_planner, evaluate_held_out, maze_layout, planner_swapped
from ami.training.planned_path import LatentPositionLookup, PathRecorder, RecordingPlanner, planned_path_image
from envs.maze_eval import held_out_pairs
from envs.make import make_env
from experiments.arguments import non_negative_int, positive_int
from experiments.benchmarks.record import output_path
from experiments.benchmarks.record import write_record as write_json_record

logger = logging.getLogger(__name__)

PLANNER_CHOICES = ("flat", "hierarchical")
MAZE_EVAL_DIR = "maze_eval"
"""Folder of the run folder that receives the TensorBoard event file of ``ami maze-eval``."""


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``maze-eval`` subcommand to the ``ami`` parser."""
    parser = commands.add_parser(
        "maze-eval", help="evaluate a maze run on held-out start/goal pairs with the flat and the hierarchical planner"
    )
    parser.add_argument("run_dir", help="run folder of a point-maze run written by `ami run`")
    parser.add_argument("--held-out", type=positive_int, default=50, metavar="N", help="held-out start/goal pairs, one episode each (default 50)")
    parser.add_argument(
        "--planners", nargs="+", choices=PLANNER_CHOICES, default=list(PLANNER_CHOICES),
        help="planners to evaluate (default: both); hierarchical needs a run trained with world_model.name = \"hjepa\"",
    )
    parser.add_argument(
        "--flat-horizon", type=positive_int, default=None, help="horizon of the flat planner in env steps (default: the run's actor.planner.horizon)"
    )
    parser.add_argument(
        "--flat-iterations", type=positive_int, default=None, help="iterations of the flat planner (default: the run's actor.planner.iterations)"
    )
    parser.add_argument(
        "--planner-set", dest="planner_overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a field of the run's actor.planner for both planners before the budgets are matched, "
        "e.g. num_samples=128, high_level.iterations=3 or high_level.subgoal=waypoint (repeatable)",
    )
    parser.add_argument(
        "--batch", type=positive_int, default=None, metavar="N",
        help="episodes planned together, one env each, with one planner call per step (default: every pair at once)",
    )
    parser.add_argument("--output", type=output_path, default=None, help="JSON file to write (default: RUN_DIR/maze_eval.json)")
    parser.add_argument(
        "--pair-seed", type=non_negative_int, default=HELD_OUT_SEED, metavar="SEED",
        help=f"seed of the start/goal pairs (default {HELD_OUT_SEED}, the held-out pairs); tune planner settings on another seed "
        "and report the default one",
    )
    parser.add_argument("--seed", type=non_negative_int, default=None, help="seed of the first episode (default: the run's evaluation seed)")
    parser.add_argument("--device", default=None, help="override the run's device, e.g. cpu")
    parser.add_argument("--num-threads", type=positive_int, default=None, help="override the run's num_threads (CPU threads of PyTorch)")


def apply_planner_overrides(config: PlannerConfig, overrides: list[str]) -> PlannerConfig:
    """Return ``config`` with ``KEY=VALUE`` overrides of its numeric and text fields and of ``high_level.<field>``.

    The planner's ``name`` stays, because each evaluated planner sets its own. Text values must
    be among the field's choices.

    Planning fields change no module's parameters, so a checkpoint still loads after them.
    """
    for override in overrides:
        key, separator, text = override.partition("=")
        if not separator:
            raise ValueError(f"invalid --planner-set {override!r}; expected KEY=VALUE, e.g. num_samples=128")
        section_name, _, field_name = key.rpartition(".")
        if section_name not in ("", "high_level"):
            raise ValueError(f"invalid --planner-set key {key!r}; use a field of actor.planner or high_level.<field>")
        section = config.high_level if section_name else config
        fields = {field.name: getattr(section, field.name) for field in dataclasses.fields(section)}
        settable = sorted(name for name, value in fields.items() if type(value) in (int, float, str) and name != "name")
        if field_name not in settable:
            raise ValueError(f"invalid --planner-set key {key!r}; valid fields are {settable} and high_level.<field>")
        value_type = type(fields[field_name])
        if value_type is str:
            choices = typing.get_args(typing.get_type_hints(type(section))[field_name])
            if choices and text not in choices:
                raise ValueError(f"invalid --planner-set value {text!r} for {key!r}; valid choices: {', '.join(map(repr, choices))}")
            value = text
        else:
            try:
                value = value_type(text)
            except ValueError:
                expected = "an integer" if value_type is int else "a number"
                raise ValueError(f"invalid --planner-set value {text!r} for {key!r}; expected {expected}") from None
        section = dataclasses.replace(section, **{field_name: value})
        config = dataclasses.replace(config, high_level=section) if section_name else section
    return config


def hierarchical_planner_config(config: RunConfig, overrides: list[str] = ()) -> PlannerConfig:
    return dataclasses.replace(apply_planner_overrides(config.actor.planner, list(overrides)), name="hierarchical")


def flat_planner_config(
    config: RunConfig, horizon: int | None, iterations: int | None, overrides: list[str] = ()
) -> PlannerConfig:
    """Return the run's planner config as flat MPPI whose budget matches the hierarchical planner's."""
    run_planner = apply_planner_overrides(config.actor.planner, list(overrides))
    horizon = run_planner.horizon if horizon is None else horizon
    iterations = run_planner.iterations if iterations is None else iterations
    budget = hierarchical_transitions_per_action(hierarchical_planner_config(config, overrides))
    num_samples = matched_flat_num_samples(budget, horizon, iterations)
    # The high level's fields are reset, because flat MPPI has none; the budget above counts them.
    return dataclasses.replace(
        run_planner, name="mppi", horizon=horizon, iterations=iterations, num_samples=num_samples,
        num_elites=min(run_planner.num_elites, num_samples), high_level=HighLevelPlannerConfig(),
    )


def run_maze_eval(args: argparse.Namespace, trainer, metadata: dict[str, Any]) -> dict[str, Any]:
    """Evaluate ``trainer``'s agent on ``args.held_out`` pairs with each planner; return the JSON record."""
    config = trainer.config
    layout = maze_layout(trainer.eval_env)
    if layout is None:
        raise ValueError(f"ami maze-eval needs a point-maze run (ami/PointMazeU-v0, ami/PointMazeLarge-v0), got task {config.env.task!r}")
    if "hierarchical" in args.planners and config.world_model.name != "hjepa":
        raise ValueError(
            f"the hierarchical planner needs a run trained with world_model.name = \"hjepa\", but this run has "
            f"{config.world_model.name!r}; pass --planners flat"
        )
    pairs = held_out_pairs(layout, args.held_out, args.pair_seed)
    seed = args.seed if args.seed is not None else config.seed + EVAL_SEED_OFFSET

    planner_configs = {
        "hierarchical": hierarchical_planner_config(config, args.planner_overrides),
        "flat": flat_planner_config(config, args.flat_horizon, args.flat_iterations, args.planner_overrides),
    }
    budgets = {
        "hierarchical": hierarchical_transitions_per_action(planner_configs["hierarchical"]),
        "flat": flat_transitions_per_action(planner_configs["flat"]),
    }
    batch = min(args.batch or len(pairs), len(pairs))
    # Build and check every planner first, so an invalid --planner-set value fails before any episode or picture.
    planners = {}
    for name in args.planners:
        planner = build_planner(planner_configs[name], trainer.spec)
        check_planner(trainer, planner_configs[name], planner, batch)
        planners[name] = RecordingPlanner(planner)
    mismatch = budgets["flat"] / budgets["hierarchical"] - 1
    print(
        f"latent transitions per action: hierarchical {budgets['hierarchical']}, flat {budgets['flat']} "
        f"(num_samples {planner_configs['flat'].num_samples}, {100 * mismatch:+.2f}%)",
        flush=True,
    )
    results = {}
    envs = [trainer.eval_env] + [make_env(config.env) for _ in range(batch - 1)]
    writer = SummaryWriter(str(Path(args.run_dir) / MAZE_EVAL_DIR))
    try:
        for name in args.planners:
            planner_config = planner_configs[name]
            planner = planners[name]
            recorder = PathRecorder()
            logger.info("evaluating the %s planner on %d held-out pairs", name, len(pairs))
            with planner_swapped(trainer.agent, planner):
                result = evaluate_held_out(trainer.agent, envs, pairs, seed, name, budgets[name], recorder)
            results[name] = result.summary()
            logger.info(
                "%s: success rate %.2f, mean final distance %.2f m, %.1f ms per action",
                name, result.success_rate, result.mean_final_distance, result.ms_per_action,
            )
            write_planned_path(writer, trainer, layout, name, planner, recorder, planner_config.horizon, metadata["step"])
    finally:
        writer.close()
        for env in envs[1:]:
            env.close()

    return {
        "run_dir": str(args.run_dir),
        "task": config.env.task,
        "step": metadata["step"],
        "num_pairs": len(pairs),
        "batch": batch,
        "pair_seed": args.pair_seed,
        "episode_seed": seed,
        "transitions_per_action": budgets,
        "planner_overrides": list(args.planner_overrides),
        "planner_configs": {name: dataclasses.asdict(planner_configs[name]) for name in args.planners},
        "planners": results,
        "goal_cost_rank_correlation": goal_cost_correlations(trainer, layout),
        "landmark_graph": landmark_graph_record(trainer, layout, planners.get("hierarchical")),
    }


def check_planner(trainer, planner_config: PlannerConfig, planner, batch: int) -> None:
    """Raise ConfigError or ValueError if the run cannot plan with ``planner_config`` for ``batch`` envs at once.

    These are the checks of ``ami run`` (config rules, the world model, the memory of one
    planning call), with the run's planner replaced.
    """
    config = trainer.config
    validate_config(dataclasses.replace(config, actor=dataclasses.replace(config.actor, planner=planner_config)))
    modules = trainer.agent.modules
    planner.check_world_model(modules.world_model)
    check_planner_fits(planner, modules.world_model, modules.cost, modules.actor.policy, batch, trainer.device)


def goal_cost_correlations(trainer, layout) -> dict[str, float | None] | None:
    """Return each level's mean rank correlation of the goal cost with the path distance, or None without a vector goal."""
    goal_setter = trainer.agent.modules.configurator.goal_setter
    if trainer.spec.pixels or not goal_setter.enabled:
        return None
    modules = trainer.agent.modules
    correlations = mean_rank_correlations(modules.world_model, goal_setter, trainer.spec.obs_dim, layout, trainer.device, modules.cost)
    return {f"level_{level}": value for level, value in correlations.items()}


def landmark_graph_record(trainer, layout, planner: RecordingPlanner | None) -> dict[str, Any] | None:
    """Return the size of the hierarchical planner's landmark graph and the rank correlation of its path lengths, or None without one."""
    graph = getattr(planner.planner, "landmarks", None) if planner is not None else None
    goal_setter = trainer.agent.modules.configurator.goal_setter
    if graph is None or trainer.spec.pixels or not goal_setter.enabled:
        return None
    correlation = graph_rank_correlation(graph, trainer.agent.modules.world_model, goal_setter, trainer.spec.obs_dim, layout, trainer.device)
    return {"landmarks": len(graph), "neighbors": graph.num_neighbors, "path_length_rank_correlation": correlation}


def write_planned_path(writer, trainer, layout, name, planner, recorder, subgoal_every, step) -> None:
    """Log the picture of the last held-out episode as ``eval/<name>/planned_path``.

    The planner's recorded subgoals cover every episode, so only the last episode's are drawn.
    """
    subgoals = recorder.episode_subgoals(planner.subgoals)
    lookup = None
    # NOTE: a pixel run's replay stores frames, not positions, so its subgoals are not drawn.
    if subgoals and not trainer.spec.pixels:
        lookup = LatentPositionLookup.from_replay(trainer.agent.modules.world_model, trainer.agent.modules.replay)
    image = planned_path_image(layout, recorder, subgoals, lookup, subgoal_every)
    writer.add_image(f"eval/{name}/planned_path", image, global_step=step, dataformats="HWC")


def write_record(record: dict[str, Any], run_dir: str, output: Path | None) -> Path:
    """Write ``record`` to ``output`` (default ``RUN_DIR/maze_eval.json``) atomically; return the path."""
    path = output if output is not None else Path(run_dir) / "maze_eval.json"
    write_json_record(record, path)
    return path


def check_output_spares_run(output: Path | None, run_dir: str) -> None:
    """Raise ValueError if ``output`` would replace one of the run's own files (checkpoint, config, events)."""
    if output is None or output.resolve().parent != Path(run_dir).resolve():
        return
    if output.name in RUN_FILES or output.name.startswith("events.out.tfevents"):
        raise ValueError(
            f"--output {str(output)!r} would replace the run's own {output.name}; choose another name, e.g. the default maze_eval.json"
        )
