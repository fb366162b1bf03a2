"""The ``ami`` command: ``ami run`` trains or resumes a run, ``ami eval`` evaluates one, ``ami compare`` runs a grid."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import logging
import logging.handlers
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch
from tqdm.contrib.logging import logging_redirect_tqdm

from ami.actor.base import PLANNERS
from ami.config.loader import ConfigError, apply_override, load_config
from ami.config.schema import RunConfig
from ami.config.validate import MAX_SEED
from ami.configurator.adaptive import AdaptiveConfigurator
from ami.cost.module import CostModule
from ami.registry import RegistryError
from ami.training.checkpoint import CHECKPOINT_NAME, CheckpointError, check_checkpoint_matches, check_resume_config, load_checkpoint
from ami.training.evaluate import EVAL_SEED_OFFSET, evaluate
from ami.training.measure import measure_episodes
from ami.training.refit import RefitDivergedError, RefitReport, refit_critic_and_policy
from ami.training.retask import HeadFit, describe_cost, resolve_new_cost, retask
from ami.training.run_dir import RESUME_OVERRIDES, RunDirError, create_run_dir, lock_run_dir, read_run_config, write_run_config
from ami.training.trainer import Trainer
from experiments.compare.config import load_compare_config
from experiments.compare.grid import build_specs, run_local, run_ray
from experiments.compare.report import check_report_paths, write_report
from experiments import maze_eval
from experiments.arguments import non_negative_int, positive_int

logger = logging.getLogger("ami")

USER_ERRORS = (
    ConfigError, RegistryError, CheckpointError, RunDirError, ValueError, ImportError, OSError, MemoryError, gym.error.Error,
)
"""Errors that setup steps raise on bad input; reported as one line without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ami", description="Train and evaluate the AMI agent on MuJoCo tasks. Runs are written under runs_dir."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "run", help="train the AMI agent on a task and write a new run folder, or resume one with --resume"
    )
    run.add_argument("config", nargs="?", help="TOML config file, e.g. experiments/configs/inverted_pendulum.toml")
    run.add_argument(
        "--resume", metavar="RUN_DIR", default=None,
        help="continue the run in RUN_DIR from its last checkpoint, in the same folder (no CONFIG then)",
    )
    run.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config field, e.g. --set train.total_steps=5000 (repeatable); "
        "with --resume only train.total_steps, to extend the run, and num_threads",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar")

    evaluate_cmd = commands.add_parser("eval", help="evaluate the final checkpoint of a run folder")
    evaluate_cmd.add_argument("run_dir", help="run folder written by `ami run`")
    evaluate_cmd.add_argument(
        "--mode", choices=["reactive", "deliberative", "both", "adaptive"], default=None,
        help="acting mode; adaptive lets the adaptive configurator choose each step (default: both, or deliberative "
        "with --cost/--cost-set, because the reactive policy follows the training cost unless --refit-steps retrains it)",
    )
    evaluate_cmd.add_argument(
        "--cost", metavar="FILE", default=None,
        help="evaluate under this cost section (TOML) instead of the run's, e.g. experiments/costs/half_cheetah_speed_2.toml",
    )
    evaluate_cmd.add_argument(
        "--cost-set", dest="cost_overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a key of the cost section, e.g. terms.speed.target=3.0 (repeatable; applied after --cost)",
    )
    evaluate_cmd.add_argument(
        "--fit-steps", type=positive_int, default=None,
        help="gradient steps to fit, from the run's replay buffer, the quantity heads that the new cost needs and the checkpoint lacks (default 500)",
    )
    evaluate_cmd.add_argument(
        "--refit-steps", type=positive_int, default=None,
        help="with --cost/--cost-set: updates that train a new critic and the policy under the new cost from the run's "
        "replay buffer, on the frozen world model, before evaluating; no env steps (default: keep the trained ones)",
    )
    evaluate_cmd.add_argument("--episodes", type=positive_int, default=10, help="episodes per mode (default 10)")
    evaluate_cmd.add_argument(
        "--measure", action="store_true",
        help="also report x velocity, speed errors, safety violations and cost terms under the run's own cost "
        "(always on with --cost, --cost-set and --mode adaptive)",
    )
    evaluate_cmd.add_argument(
        "--seed", type=non_negative_int, default=None, help="seed of the first episode (default: the run's evaluation seed)"
    )
    evaluate_cmd.add_argument("--device", default=None, help="override the run's device, e.g. cpu")
    evaluate_cmd.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a setting that the saved modules do not depend on (repeatable): "
        f"{', '.join(EVAL_OVERRIDES)}; the configurator fields need --mode adaptive, "
        "e.g. --set configurator.deliberation_budget=0.3",
    )

    compare = commands.add_parser(
        "compare", help="train and evaluate a grid of agents x tasks x seeds on one protocol and summarize it"
    )
    compare.add_argument("config", help="comparison file, e.g. experiments/configs/compare_quick.toml")
    compare.add_argument(
        "--workers", type=positive_int, default=None, help="runs trained at once in worker processes (default: the file's workers)"
    )
    compare.add_argument(
        "--ray", nargs="?", const="", default=None, metavar="ADDRESS",
        help="run the grid as Ray tasks: on a new local Ray instance, or on the cluster at ADDRESS (e.g. auto)",
    )
    compare.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a field of the comparison file, e.g. --set seeds=[0] (repeatable)",
    )
    compare.add_argument("--quiet", action="store_true", help="no progress bar")

    bench = commands.add_parser("bench", help="run a benchmark and print its figures; see `ami bench NAME --help`")
    # Optional for argparse, so that a missing name gets the list of benchmarks instead of argparse's message.
    bench.add_argument(
        "benchmark", nargs="?", choices=sorted(BENCHMARKS),
        help="planning: planner speed; render: pixel frames per second; step_time: one update and one action",
    )
    bench.add_argument("arguments", nargs=argparse.REMAINDER, help="the benchmark's own arguments")
    bench.set_defaults(bench_parser=bench)
    maze_eval.add_parser(commands)
    return parser


DEFAULT_FIT_STEPS = 500
"""Gradient steps that fit a quantity head missing from the checkpoint when --fit-steps is not given."""

EVAL_OVERRIDES = (
    "configurator.deliberation_budget",
    "configurator.options.window",
    "configurator.options.min_history",
    "configurator.options.plan_margin",
    "actor.planner.num_samples",
    "actor.planner.iterations",
    "actor.planner.horizon",
    "actor.planner.num_elites",
    "actor.planner.temperature",
    "actor.planner.min_std",
    "actor.planner.max_std",
    "actor.planner.policy_fraction",
    "actor.planner.deterministic_action",
    *(f"actor.planner.high_level.{name}" for name in (
        "num_samples", "horizon", "iterations", "num_elites", "temperature", "subgoal_weight", "low_level_goal_weight",
        "landmarks", "landmark_neighbors", "waypoint_hops", "subgoal",
    )),
    "num_threads",
)
"""Config fields that ``ami eval --set`` may change: the rest shape the saved modules or the task.

The planner's budget, temperature, sampling spread and high level (landmarks and subgoals included) shape no
saved module, so a trained run can be evaluated with more or less deliberation than it trained with."""

PLANNER_REPORT_FIELDS = (
    "name", "num_samples", "iterations", "horizon", "num_elites", "temperature", "min_std", "max_std", "policy_fraction",
    "deterministic_action",
)
"""Planner settings that ``ami eval`` prints beside its results."""


BENCHMARKS = {
    "planning": "experiments.benchmarks.planning",
    "render": "experiments.benchmarks.render",
    "step_time": "experiments.benchmarks.step_time",
}
"""``ami bench`` names and the modules whose ``main(argv)`` runs them."""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = sys.argv[1:] if argv is None else list(argv)
    after_bench = arguments[1] if arguments[:1] == ["bench"] and len(arguments) > 1 else ""
    if after_bench.startswith("-") and after_bench not in ("-h", "--help"):
        # `ami bench --flag VALUE` has no name, and argparse would read VALUE as one.
        arguments = ["bench"]
    args = parser.parse_args(arguments)
    # main() restores the root log level, so a caller in the same process (a test, a notebook) keeps its logging.
    previous_level = logging.getLogger().level
    log_buffer = configure_logging()
    try:
        if args.command == "run":
            return command_run(args, log_buffer)
        if args.command == "compare":
            return command_compare(args, log_buffer)
        if args.command == "maze-eval":
            return command_maze_eval(args, log_buffer)
        if args.command == "bench":
            if args.benchmark is None:
                args.bench_parser.error(
                    f"missing benchmark name right after 'ami bench'; choose one of {', '.join(sorted(BENCHMARKS))}, "
                    "e.g. ami bench step_time --help"
                )
            release_logs(log_buffer)
            importlib.import_module(BENCHMARKS[args.benchmark]).main(args.arguments, prog=f"ami bench {args.benchmark}")
            return 0
        return command_eval(args, log_buffer)
    finally:
        root = logging.getLogger()
        root.removeHandler(log_buffer)
        root.removeHandler(log_buffer.target)
        root.setLevel(previous_level)
        log_buffer.close()


class InputError(Exception):
    """A setup step failed because of the user's input; reported as one line, exit code 2."""


@contextmanager
def reported_as_input_error(command: str, log_buffer: logging.handlers.MemoryHandler) -> Iterator[None]:
    """Turn the input errors raised inside the block into one line on stderr.

    Only setup steps (loading configs, building modules, reading checkpoints) run inside this
    block. Errors raised later, while training, keep their traceback because they are bugs or
    divergence, not bad input.
    """
    try:
        yield
    except USER_ERRORS as error:
        # Drop what the modules logged while being built: the error line is the whole output.
        log_buffer.buffer.clear()
        print(f"ami {command}: error: {error}", file=sys.stderr)
        raise InputError from None


def configure_logging() -> logging.handlers.MemoryHandler:
    """Log INFO to stderr, held in a buffer until the run has been validated and built."""
    stream = logging.StreamHandler()
    stream.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    buffer = logging.handlers.MemoryHandler(capacity=10_000, flushLevel=logging.CRITICAL + 1, target=stream)
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(buffer)
    return buffer


def release_logs(buffer: logging.handlers.MemoryHandler) -> None:
    """Write the buffered lines, then log straight to stderr (where tqdm can redirect it)."""
    buffer.flush()
    root = logging.getLogger()
    root.removeHandler(buffer)
    root.addHandler(buffer.target)


def command_run(args: argparse.Namespace, log_buffer: logging.handlers.MemoryHandler) -> int:
    try:
        with reported_as_input_error("run", log_buffer):
            if args.resume is not None:
                trainer, run_dir, lock = prepare_resume(args)
            else:
                trainer, run_dir, lock = prepare_new_run(args)
    except InputError:
        return 2

    with lock:
        release_logs(log_buffer)
        # A resumed run may have moved away from its config's runs_dir, so it names its own folder.
        logdir = Path(run_dir) if args.resume is not None else Path(trainer.config.runs_dir)
        print(f"run folder: {run_dir}\nTensorBoard: tensorboard --logdir {logdir}")
        with logging_redirect_tqdm():
            summary = trainer.train(run_dir)
    print(json.dumps(summary["eval"], indent=2))
    return 130 if summary["interrupted"] else 0


def prepare_new_run(args: argparse.Namespace):
    """Load and build a new run, then create its folder; nothing is written before the build succeeds."""
    if args.config is None:
        raise ConfigError("give a CONFIG file to start a run, or --resume RUN_DIR to continue one")
    config = load_config(args.config, args.overrides)
    trainer = Trainer(config, show_progress=not args.quiet)  # validates everything before a folder exists
    run_dir = create_run_dir(config)
    return trainer, run_dir, lock_run_dir(run_dir)


def prepare_resume(args: argparse.Namespace):
    """Rebuild a run from its folder, lock the folder and load its last checkpoint."""
    if args.config is not None:
        raise ConfigError(
            f"give either a CONFIG file or --resume RUN_DIR, not both: a resumed run uses the config.toml of "
            f"{args.resume!r}, so drop {args.config!r}"
        )
    run_dir = Path(args.resume)
    config = read_run_config(run_dir, args.overrides)
    lock = lock_run_dir(run_dir)
    try:
        trainer = Trainer(config, show_progress=not args.quiet)
        checkpoint = run_dir / CHECKPOINT_NAME
        if not checkpoint.is_file():
            raise CheckpointError(
                f"run {str(run_dir)!r} has no checkpoint to resume from: it stopped before its first one "
                "(train.checkpoint_every); start it again with `ami run CONFIG`"
            )
        payload = load_checkpoint(checkpoint)
        check_checkpoint_matches(payload["metadata"], config, trainer.spec, checkpoint)
        check_resume_config(payload["metadata"], config, checkpoint, RESUME_OVERRIDES)
        step = payload["metadata"].get("step")
        if isinstance(step, int) and step >= config.train.total_steps:
            raise ConfigError(
                f"run {str(run_dir)!r} is at step {step} and train.total_steps is {config.train.total_steps}; "
                f"to train it longer, add --set train.total_steps=N with N above {step}"
            )
        load_trainer_state(trainer, payload["state"], checkpoint)
        write_run_config(run_dir, config)
    except BaseException:
        lock.release()
        raise
    return trainer, run_dir, lock


def load_trainer_state(trainer: Trainer, state: dict, checkpoint: Path) -> None:
    """Load a checkpoint's state into ``trainer``, naming the first mismatch on failure."""
    try:
        trainer.load_state_dict(state)
    except KeyError as error:
        raise missing_entry_error(checkpoint, error) from None
    except (RuntimeError, ValueError, TypeError) as error:
        raise CheckpointError(
            f"checkpoint {str(checkpoint)!r} does not fit this run ({first_line(error)}); "
            "was config.toml edited after the run? Restore the values the run was trained with"
        ) from None


def missing_entry_error(checkpoint: Path, error: KeyError) -> CheckpointError:
    return CheckpointError(
        f"checkpoint {str(checkpoint)!r} is damaged or was written by another version of ami: "
        f"it has no entry {error.args[0]!r}"
    )


def first_line(error: BaseException) -> str:
    """Return the line of an error message that names the problem.

    PyTorch's ``load_state_dict`` message starts with a header line; the next line names the
    first mismatch.
    """
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    if len(lines) > 1 and lines[0].startswith("Error(s) in loading state_dict"):
        return lines[1]
    return lines[0]


def command_maze_eval(args: argparse.Namespace, log_buffer: logging.handlers.MemoryHandler) -> int:
    """Evaluate a maze run on held-out pairs with each planner, print the JSON record and write it."""
    try:
        with reported_as_input_error("maze-eval", log_buffer):
            maze_eval.check_output_spares_run(args.output, args.run_dir)
            trainer, metadata = load_run(args)
            if args.num_threads is not None:
                torch.set_num_threads(args.num_threads)
            # The replay's stored observations decode subgoals into positions for the planned-path picture.
            load_replay(trainer, Path(args.run_dir) / CHECKPOINT_NAME)
            release_logs(log_buffer)
            record = maze_eval.run_maze_eval(args, trainer, metadata)
    except InputError:
        return 2
    except KeyboardInterrupt:
        print("ami maze-eval: interrupted; no record written. Run the same command again to evaluate from the start", file=sys.stderr)
        return 130
    path = maze_eval.write_record(record, args.run_dir, args.output)
    print(json.dumps({name: {key: value for key, value in result.items() if key != "episodes"} for name, result in record["planners"].items()}, indent=2))
    print(f"record: {path}")
    return 0


def command_eval(args: argparse.Namespace, log_buffer: logging.handlers.MemoryHandler) -> int:
    retasking = args.cost is not None or bool(args.cost_overrides)
    measured = retasking or args.measure or args.mode == "adaptive"
    try:
        with reported_as_input_error("eval", log_buffer):
            check_eval_arguments(args, retasking)
            config_overrides, adaptive_options = split_eval_overrides(args.overrides, args.mode)
            trainer, metadata = load_run(args, config_overrides)
            check_planner_overrides(config_overrides, trainer.config.actor.planner.name)
            if plans_with_landmarks(trainer.config):
                # The landmark graph is built from the stored observations.
                load_replay(trainer, Path(args.run_dir) / CHECKPOINT_NAME)
            if measured:
                fits, configurator = prepare_measured_eval(args, trainer, retasking, adaptive_options)
    except InputError:
        return 2

    release_logs(log_buffer)
    if measured:
        if retasking:
            warn_about_critic(trainer.agent.modules.cost, args)
        # After the input checks, so that the refit's progress logs show as it runs.
        try:
            refit = refit_critic_and_policy(trainer.agent, args.refit_steps) if args.refit_steps is not None else None
        except RefitDivergedError as error:
            print(f"ami eval: error: {error}", file=sys.stderr)
            return 2
        return run_measured_eval(args, trainer, metadata, fits, configurator, retasking, refit)
    mode = args.mode or "both"
    modes = ["reactive", "deliberative"] if mode == "both" else [mode]
    seed = args.seed if args.seed is not None else trainer.config.seed + EVAL_SEED_OFFSET
    results = {}
    for mode in modes:
        result = evaluate(trainer.agent, trainer.eval_env, mode, args.episodes, seed)
        results[mode] = {"mean_return": result.mean_return, "std_return": result.std_return, "ms_per_action": result.ms_per_action}
    output = {"run_dir": args.run_dir, "step": metadata["step"], "planner": planner_settings(trainer), "eval": results}
    print(json.dumps(output, indent=2))
    return 0


def split_eval_overrides(overrides: list[str], mode: str | None) -> tuple[list[str], dict[str, Any]]:
    """Check the ``ami eval --set`` overrides and split them into run config overrides and adaptive options.

    The adaptive options are kept out of the run config, because a run trained with another
    configurator would pass them to that configurator's constructor.
    """
    config_overrides, options = [], {}
    for override in overrides:
        key = override.partition("=")[0].strip()
        if key not in EVAL_OVERRIDES:
            raise ConfigError(
                f"cannot override {key!r} in `ami eval`: only {', '.join(EVAL_OVERRIDES)} may change, "
                "because the other fields shape the saved modules or the task. Train a new run to change it"
            )
        if key.startswith("configurator.") and mode != "adaptive":
            raise ConfigError(f"--set {key} takes effect only with --mode adaptive; add --mode adaptive or drop it")
        if key.startswith("actor.planner.") and mode == "reactive":
            raise ConfigError(f"--set {key} has no effect with --mode reactive, where no planner runs; drop it or choose another mode")
        if not key.startswith("configurator.options."):
            config_overrides.append(override)
            continue
        # AdaptiveConfigurator checks the types and ranges of its options when it is built.
        parsed: dict[str, Any] = {}
        apply_override(parsed, override)
        options.update(parsed["configurator"]["options"])
    return config_overrides, options


def check_eval_arguments(args: argparse.Namespace, retasking: bool) -> None:
    """Raise ConfigError for ``ami eval`` options that have no effect together or run past the seed range."""
    for option, value in (("--refit-steps", args.refit_steps), ("--fit-steps", args.fit_steps)):
        if value is not None and not retasking:
            raise ConfigError(
                f"{option} {value} needs a new cost (--cost or --cost-set): under the run's own cost "
                f"the trained modules already fit; add a cost or drop {option}"
            )
    if args.seed is not None and args.seed + args.episodes - 1 > MAX_SEED:
        raise ConfigError(
            f"invalid --seed {args.seed}: episode seeds run from it to seed + episodes - 1 and must stay at or below "
            f"2**32 - 1 = {MAX_SEED}; choose a smaller seed"
        )
    if retasking and args.mode == "reactive" and args.refit_steps is None:
        logger.warning(
            "--mode reactive evaluates the policy, which follows the training cost; the new cost changes only its "
            "logged cost terms. Add --refit-steps N to retrain the policy under the new cost, or use --mode deliberative"
        )


def warn_about_critic(cost: CostModule, args: argparse.Namespace) -> None:
    """Warn when the planner under a new cost would ignore a refitted critic or read the training cost's critic."""
    if args.mode == "reactive":
        return
    if args.refit_steps is not None and cost.critic_weight == 0:
        logger.warning("the new cost gives the critic weight 0, so the planner ignores the refitted critic; add --cost-set critic_weight=1 to use it")
    if args.refit_steps is None and cost.critic_weight != 0 and cost.task_weight == 0:
        logger.warning(
            "the new cost switches the training reward off but keeps the critic (weight %g), which learned the training "
            "cost's cost-to-go; add --refit-steps N (e.g. 3000) to fit a critic to the new cost, or --cost-set critic_weight=0",
            cost.critic_weight,
        )


def check_planner_overrides(overrides: list[str], planner: str) -> None:
    """Raise ConfigError for a planner override that the run's planner never reads."""
    keys = {override.partition("=")[0].strip() for override in overrides}
    # The default planner, mppi, reads every field.
    for field, reason in PLANNERS.get(planner, "actor.planner.name").ignored_config_fields.items():
        if f"actor.planner.{field}" in keys:
            raise ConfigError(
                f"--set actor.planner.{field} has no effect: the run plans with {planner!r}, which {reason}; "
                "drop it, or evaluate a run that plans with 'mppi'"
            )


def prepare_measured_eval(
    args: argparse.Namespace, trainer: Trainer, retasking: bool, adaptive_options: dict[str, Any]
) -> tuple[dict[str, HeadFit], AdaptiveConfigurator | None]:
    """Swap in the new cost of ``--cost``/``--cost-set`` (fitting missing quantity heads) and build the adaptive configurator."""
    fits = {}
    if retasking:
        cost_config = resolve_new_cost(trainer.config.cost, args.cost, args.cost_overrides)
        load_replay(trainer, Path(args.run_dir) / CHECKPOINT_NAME)
        fits = retask(trainer.agent, cost_config, fit_steps=args.fit_steps or DEFAULT_FIT_STEPS)
    configurator = build_adaptive_configurator(trainer, adaptive_options) if args.mode == "adaptive" else None
    return fits, configurator


def describe_quantity_heads(trainer: Trainer, fits: dict[str, HeadFit]) -> dict[str, dict[str, Any]]:
    """Return each quantity head of the evaluated cost with its origin; only re-tasking measures the heads' error."""
    heads = {name: {"source": "checkpoint"} for name in trainer.agent.modules.cost.quantity_heads.names}
    heads.update({name: dataclasses.asdict(fit) for name, fit in fits.items()})
    return heads


def run_measured_eval(
    args: argparse.Namespace,
    trainer: Trainer,
    metadata: dict,
    fits: dict[str, HeadFit],
    configurator: AdaptiveConfigurator | None,
    retasking: bool,
    refit: RefitReport | None,
) -> int:
    """Run and print measured evaluation episodes: speed, safety violations, cost terms and time per mode."""
    mode = args.mode or ("deliberative" if retasking else "both")
    modes = ["reactive", "deliberative"] if mode == "both" else [mode]
    seed = args.seed if args.seed is not None else trainer.config.seed + EVAL_SEED_OFFSET
    results = {}
    for mode in modes:
        results[mode] = measure_episodes(trainer.agent, trainer.eval_env, mode, args.episodes, seed, configurator)
        logger.info("eval %s: %s", mode, {key: value for key, value in results[mode].items() if key != "episodes"})
    output = {
        "run_dir": args.run_dir,
        "step": metadata["step"],
        "planner": planner_settings(trainer),
        "cost": describe_cost(trainer.agent.modules.cost),
        "quantity_heads": describe_quantity_heads(trainer, fits),
        "refit": dataclasses.asdict(refit) if refit is not None else None,
        "eval": results,
    }
    if configurator is not None:
        output["adaptive"] = {
            "deliberation_budget": configurator.budget,
            "window": configurator.history.maxlen,
            "min_history": configurator.min_history,
            "plan_margin": configurator.plan_margin,
        }
    print(json.dumps(output, indent=2))
    return 0


def planner_settings(trainer: Trainer) -> dict[str, Any]:
    """Return the name, budget, temperature and sampling spread of the planner that the evaluated agent plans with, and its high level's settings if any."""
    planner = trainer.agent.modules.actor.planner
    settings = {name: getattr(planner.config, name) for name in PLANNER_REPORT_FIELDS}
    high_level = getattr(planner, "high", None)
    if high_level is not None:
        settings["high_level"] = dataclasses.asdict(high_level)
    return settings


def plans_with_landmarks(config: RunConfig) -> bool:
    """Return whether the run's planner builds a landmark graph from the replay buffer."""
    planner = config.actor.planner
    return planner.name == "hierarchical" and planner.high_level.landmarks > 0


def load_replay(trainer: Trainer, checkpoint: Path) -> None:
    """Load the checkpoint's replay buffer into ``trainer``'s agent, for fitting quantity heads."""
    payload = load_checkpoint(checkpoint)
    try:
        trainer.agent.modules.replay.load_state_dict(payload["state"]["memory"]["replay"])
    except KeyError as error:
        raise missing_entry_error(checkpoint, error) from None


def build_adaptive_configurator(trainer: Trainer, option_overrides: dict[str, Any] | None = None) -> AdaptiveConfigurator:
    """Build an adaptive configurator with the run's budget and options, then ``option_overrides`` on top.

    The run's options count only when its configurator is adaptive.
    """
    config = trainer.config
    options = dict(config.configurator.options) if config.configurator.name == "adaptive" else {}
    options.update(option_overrides or {})
    configurator = AdaptiveConfigurator(config, trainer.spec, **options)
    configurator.attach(trainer.agent.modules)
    return configurator


def command_compare(args: argparse.Namespace, log_buffer: logging.handlers.MemoryHandler) -> int:
    """Run every unfinished cell of a comparison grid, then write its report; exit 1 if a run failed."""
    try:
        with reported_as_input_error("compare", log_buffer):
            config = load_compare_config(args.config, args.overrides)
            if args.workers is not None:
                config = dataclasses.replace(config, workers=args.workers)
            specs = build_specs(config)
            output = Path(config.output_dir)
            if output.exists() and not output.is_dir():
                raise ConfigError(f"output_dir {config.output_dir!r} is a file; give a folder for the comparison's results")
            check_report_paths(config)
            output.mkdir(parents=True, exist_ok=True)
            lock = lock_run_dir(output)
    except InputError:
        return 2

    release_logs(log_buffer)
    logger.info("comparison %s: %d runs in %s", config.name, len(specs), config.output_dir)
    with lock, logging_redirect_tqdm(), sigterm_as_interrupt():
        try:
            if args.ray is not None:
                outcomes = run_ray(specs, args.ray or None, show_progress=not args.quiet)
            else:
                outcomes = run_local(specs, config.workers, show_progress=not args.quiet)
        except KeyboardInterrupt:
            logger.warning("comparison interrupted; run the same command again to finish the unfinished runs")
            return 130
        summary_path = write_report(config, specs)

    print(summary_path.read_text())
    print(f"summary: {summary_path}\nTensorBoard: tensorboard --logdir {Path(config.output_dir) / 'runs'}")
    failed = [outcome for outcome in outcomes if outcome.status == "failed"]
    if failed:
        print(f"{len(failed)} of {len(outcomes)} runs failed; their tracebacks are in error.txt of each run folder", file=sys.stderr)
        return 1
    return 0


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C in the block, so that a stopped comparison also stops its workers."""

    def interrupt(signal_number: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def load_run(args: argparse.Namespace, config_overrides: list[str] | None = None) -> tuple[Trainer, dict]:
    """Rebuild a run's agent from its ``config.toml`` with ``config_overrides`` and load its checkpoint."""
    run_dir = Path(args.run_dir)
    run_config = config = read_run_config(run_dir)
    if config_overrides:
        # read_run_config accepts only the resume overrides, so the checked eval overrides are applied here.
        config = load_config(run_dir / "config.toml", config_overrides)
    if args.device is not None:
        config = dataclasses.replace(config, device=args.device)

    trainer = Trainer(config, show_progress=False)
    checkpoint = run_dir / CHECKPOINT_NAME
    payload = load_checkpoint(checkpoint)
    # The checkpoint must match the run's own config, because the eval overrides change no saved module.
    check_checkpoint_matches(payload["metadata"], run_config, trainer.spec, checkpoint)
    try:
        trainer.agent.load_state_dict(payload["state"]["agent"])
    except KeyError as error:
        raise missing_entry_error(checkpoint, error) from None
    except (RuntimeError, ValueError, TypeError) as error:
        raise CheckpointError(
            f"checkpoint {str(checkpoint)!r} does not fit the modules of {str(run_dir / 'config.toml')!r} "
            f"({first_line(error)}); was config.toml edited after the run? Restore the sizes the run was trained with"
        ) from None
    return trainer, payload["metadata"]


if __name__ == "__main__":
    sys.exit(main())
