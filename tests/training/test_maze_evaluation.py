"""Held-out maze evaluation: a tiny real hjepa run on ami/PointMazeU-v0, then ``ami maze-eval`` with both planners.

The run takes 300 env steps with debug-sized networks and 60-step episodes. Its periodic
evaluation resets with the held-out pairs and logs the planned-path picture.
"""

from __future__ import annotations

import contextlib
import logging
import io
import json
import math
import re
import shutil

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from ami.config import load_config
from ami.training.maze_evaluation import HELD_OUT_SEED
from ami.training.planned_path import PathRecorder
from ami.training.trainer import Trainer
from envs.maze_eval import held_out_pairs
from envs.maze_layouts import get_layout
from experiments.cli import main
from experiments.maze_eval import MAZE_EVAL_DIR
from tests.tiny import DEBUG_CONFIG, REPO_ROOT

HIERARCHICAL_CONFIG = REPO_ROOT / "experiments" / "configs" / "point_maze_u_hierarchical.toml"
EPISODE_STEPS = 60
NUM_PAIRS = 2

DEBUG_OVERRIDES = [
    "device=cpu",
    "num_threads=1",
    "perception.latent_dim=16",
    "perception.hidden_dims=[32]",
    "world_model.hidden_dims=[32]",
    "world_model.levels=[{k=5, latent_dim=8, macro_action_dim=4, hidden_dims=[32], horizon=2}]",
    "cost.critic.num_critics=2",
    "cost.critic.hidden_dims=[32]",
    "actor.policy.hidden_dims=[32]",
    "actor.planner.num_samples=32",
    "actor.planner.iterations=2",
    "actor.planner.num_elites=4",
    "actor.planner.high_level.num_samples=32",
    "actor.planner.high_level.iterations=2",
    "actor.planner.high_level.num_elites=4",
    "memory.batch_size=32",
    "train.total_steps=300",
    "train.seed_steps=100",
    "train.pretrain_updates=10",
    "train.eval_every=300",
    "train.eval_episodes=2",
    "train.log_every=100",
    f"env.max_episode_steps={EPISODE_STEPS}",
]


@pytest.fixture(scope="module")
def maze_run(tmp_path_factory):
    runs_dir = tmp_path_factory.mktemp("runs")
    arguments = ["run", str(HIERARCHICAL_CONFIG), "--quiet", "--set", f"runs_dir={runs_dir}"]
    for override in DEBUG_OVERRIDES:
        arguments += ["--set", override]
    with contextlib.redirect_stdout(io.StringIO()):
        exit_code = main(arguments)
    assert exit_code == 0
    run_dirs = sorted((runs_dir / "ami_PointMazeU-v0").iterdir())
    assert len(run_dirs) == 1
    return run_dirs[0]


@pytest.fixture(scope="module")
def maze_eval_record(maze_run, tmp_path_factory):
    output = tmp_path_factory.mktemp("maze_eval") / "record.json"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        exit_code = main(["maze-eval", str(maze_run), "--held-out", str(NUM_PAIRS), "--output", str(output), "--num-threads", "1"])
    assert exit_code == 0
    return json.loads(output.read_text()), stdout.getvalue()


def test_maze_eval_bad_planner_set_evaluates_nothing(maze_run, tmp_path, capsys):
    run_dir = shutil.copytree(maze_run, tmp_path / "run", ignore=shutil.ignore_patterns("maze_eval*"))
    output = tmp_path / "record.json"

    with contextlib.redirect_stdout(io.StringIO()):
        exit_code = main(["maze-eval", str(run_dir), "--held-out", "1", "--output", str(output), "--planner-set", "num_samples=0"])

    assert exit_code == 2
    assert "actor.planner.num_samples must be positive, got 0" in capsys.readouterr().err
    assert not output.exists()
    assert not (run_dir / "maze_eval").exists()


# Each case: arguments after --held-out 1 ({run} is the run folder) and a fragment of the one error line.
MAZE_EVAL_BAD_INPUT = {
    "horizon_not_level_span": (
        ["--planner-set", "horizon=7"], "invalid value 7 for 'actor.planner.horizon'; the hierarchical planner's low level plans the env steps"
    ),
    "output_is_checkpoint": (["--output", "{run}/checkpoint.pt"], "would replace the run's own checkpoint.pt"),
    "threads_zero": (["--num-threads", "0"], "argument --num-threads: must be a positive integer, got '0'"),
    "held_out_zero": (["--held-out", "0"], "argument --held-out: must be a positive integer, got '0'"),
    "output_is_folder": (["--output", "{run}"], "is a folder; give a file path for the JSON record"),
}


def maze_eval_exit_code(arguments: list[str]) -> int:
    """Exit code of ``ami maze-eval``, whether the command returns it or argparse exits with it."""
    try:
        return main(["maze-eval", *arguments])
    except SystemExit as exit_info:
        return exit_info.code


@pytest.mark.parametrize(("arguments", "fragment"), MAZE_EVAL_BAD_INPUT.values(), ids=MAZE_EVAL_BAD_INPUT.keys())
def test_maze_eval_bad_input(maze_run, tmp_path, capsys, arguments, fragment):
    run_dir = shutil.copytree(maze_run, tmp_path / "run", ignore=shutil.ignore_patterns("maze_eval*"))
    checkpoint = (run_dir / "checkpoint.pt").read_bytes()

    exit_code = maze_eval_exit_code([str(run_dir), "--held-out", "1", *[arg.format(run=run_dir) for arg in arguments]])

    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert exit_code == 2
    assert fragment in lines[-1]
    assert "Traceback" not in captured.err
    assert captured.out == ""
    assert (run_dir / "checkpoint.pt").read_bytes() == checkpoint
    assert not (run_dir / "maze_eval").exists()


@pytest.mark.parametrize("planner", ["flat", "hierarchical"])
def test_maze_eval_figures_well_formed(maze_eval_record, planner):
    record, _ = maze_eval_record
    result = record["planners"][planner]

    assert result["num_episodes"] == NUM_PAIRS
    assert len(result["episodes"]) == NUM_PAIRS
    assert 0.0 <= result["success_rate"] <= 1.0
    assert math.isfinite(result["mean_final_distance"])
    assert result["mean_final_distance"] >= 0.0
    assert result["ms_per_action"] > 0.0
    successes = [episode for episode in result["episodes"] if episode["success"]]
    if successes:
        assert 1 <= result["mean_steps_to_success"] <= EPISODE_STEPS
    else:
        assert result["mean_steps_to_success"] is None


def test_maze_eval_reports_goal_cost_correlation(maze_eval_record):
    record, _ = maze_eval_record
    correlations = record["goal_cost_rank_correlation"]

    assert sorted(correlations) == ["level_0", "level_1"]
    assert all(-1.0 <= value <= 1.0 for value in correlations.values())


@pytest.mark.parametrize("planner", ["flat", "hierarchical"])
def test_maze_eval_uses_held_out_pairs(maze_eval_record, planner):
    record, _ = maze_eval_record
    pairs = held_out_pairs("u", NUM_PAIRS, HELD_OUT_SEED)

    for episode, pair in zip(record["planners"][planner]["episodes"], pairs):
        assert tuple(episode["start"]) == pair.start
        assert tuple(episode["goal"]) == pair.goal
        assert episode["path_cells"] >= get_layout("u").eval_min_path_cells
        assert 1 <= episode["steps"] <= EPISODE_STEPS


def test_maze_eval_matches_compute(maze_eval_record):
    record, stdout = maze_eval_record
    budgets = record["transitions_per_action"]

    # 32 x 2 x 4 level-1 plus 32 x 2 x 5 level-0 transitions; flat MPPI: 58 x 2 x 5.
    assert budgets["hierarchical"] == 576
    assert budgets["flat"] == 580
    assert record["planner_configs"]["flat"]["num_samples"] == 58
    assert "latent transitions per action: hierarchical 576, flat 580" in stdout


def test_maze_eval_logs_planned_path_images(maze_run, maze_eval_record):
    events = EventAccumulator(str(maze_run / "maze_eval"), size_guidance={"images": 0})
    events.Reload()

    for planner in ("flat", "hierarchical"):
        images = events.Images(f"eval/{planner}/planned_path")
        assert len(images) == 1
        assert images[0].encoded_image_string.startswith(b"\x89PNG")


def test_run_logs_planned_path_image(maze_run):
    events = EventAccumulator(str(maze_run), size_guidance={"images": 0, "scalars": 0})
    events.Reload()

    images = events.Images("eval/deliberative/planned_path")
    assert [image.step for image in images] == [300]
    # The U layout is 5 x 5 cells of 32 pixels.
    assert (images[0].width, images[0].height) == (160, 160)
    rates = events.Scalars("eval/deliberative/success_rate")
    assert [rate.step for rate in rates] == [300]
    assert rates[0].value in (0.0, 0.5, 1.0)


def test_trainer_evaluates_maze_on_held_out_pairs():
    trainer = Trainer(load_config(HIERARCHICAL_CONFIG, DEBUG_OVERRIDES), show_progress=False)
    expected = [pair.reset_options() for pair in held_out_pairs("u", 2, HELD_OUT_SEED)]

    assert trainer.eval_reset_options == expected


def test_trainer_resets_other_tasks_by_seed():
    trainer = Trainer(load_config(DEBUG_CONFIG, ["num_threads=1"]), show_progress=False)

    assert trainer.eval_reset_options is None


def test_hierarchical_config_enables_goal_cost():
    config = load_config(HIERARCHICAL_CONFIG)

    assert config.world_model.name == "hjepa"
    assert config.actor.planner.name == "hierarchical"
    assert config.cost.intrinsic["goal_latent_distance"] > 0
    assert config.configurator.goal.goal_indices == (4, 5)
    assert config.configurator.goal.position_indices == (0, 1)


def test_run_logs_goal_cost_landscape(maze_run):
    events = EventAccumulator(str(maze_run), size_guidance={"images": 0, "scalars": 0})
    events.Reload()

    for level in (0, 1):
        correlations = events.Scalars(f"eval/goal_cost/level_{level}/rank_correlation")
        assert [point.step for point in correlations] == [300]
        assert -1.0 <= correlations[0].value <= 1.0
        images = events.Images(f"eval/goal_cost/level_{level}")
        assert [image.step for image in images] == [300]
        assert images[0].encoded_image_string.startswith(b"\x89PNG")


def test_maze_eval_default_batch_all_pairs(maze_eval_record):
    record, _ = maze_eval_record

    assert record["batch"] == NUM_PAIRS


def test_maze_eval_batch_one_in_order(maze_run, tmp_path):
    output = tmp_path / "record.json"
    arguments = ["maze-eval", str(maze_run), "--held-out", "3", "--batch", "1", "--planners", "flat", "--output", str(output), "--num-threads", "1"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(arguments) == 0
    record = json.loads(output.read_text())

    assert record["batch"] == 1
    episodes = record["planners"]["flat"]["episodes"]
    assert [tuple(episode["goal"]) for episode in episodes] == [pair.goal for pair in held_out_pairs("u", 3, HELD_OUT_SEED)]


def test_maze_eval_records_landmark_graph(maze_run, tmp_path):
    output = tmp_path / "record.json"
    arguments = [
        "maze-eval", str(maze_run), "--held-out", "2", "--planners", "hierarchical", "--output", str(output), "--num-threads", "1",
        "--planner-set", "high_level.landmarks=40", "--planner-set", "high_level.landmark_neighbors=4",
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(arguments) == 0
    record = json.loads(output.read_text())

    graph = record["landmark_graph"]
    assert graph["landmarks"] == 40
    assert graph["neighbors"] == 4
    assert -1.0 <= graph["path_length_rank_correlation"] <= 1.0
    assert len(record["planners"]["hierarchical"]["episodes"]) == 2


def test_maze_eval_waypoint_other_pairs(maze_run, tmp_path):
    output = tmp_path / "record.json"
    arguments = [
        "maze-eval", str(maze_run), "--held-out", "2", "--output", str(output), "--num-threads", "1", "--pair-seed", "3",
        "--planner-set", "high_level.landmarks=40", "--planner-set", "high_level.subgoal=waypoint",
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(arguments) == 0
    record = json.loads(output.read_text())

    assert record["pair_seed"] == 3
    episodes = record["planners"]["hierarchical"]["episodes"]
    assert [tuple(episode["goal"]) for episode in episodes] == [pair.goal for pair in held_out_pairs("u", 2, 3)]
    assert record["planner_configs"]["hierarchical"]["high_level"]["subgoal"] == "waypoint"
    # Only the low level rolls out latents, so both planners get the same samples.
    assert record["transitions_per_action"]["hierarchical"] == record["transitions_per_action"]["flat"]
    assert record["landmark_graph"]["landmarks"] == 40


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["deterministic_action=best"], r"invalid --planner-set value 'best' for 'deterministic_action'; valid choices: 'mean', 'elite'"),
        (["high_level.subgoal=waypoint"], r'subgoal = "waypoint" needs a landmark graph'),
        (["num_samples=1000000000"], r"lower actor.planner.num_samples to at most"),
    ],
)
def test_maze_eval_rejects_planner_before_episodes(maze_run, tmp_path, capsys, overrides, message):
    run_dir = tmp_path / "run"
    shutil.copytree(maze_run, run_dir, ignore=shutil.ignore_patterns("maze_eval*"))
    arguments = ["maze-eval", str(run_dir), "--held-out", "1", "--output", str(tmp_path / "record.json"), "--num-threads", "1"]
    for override in overrides:
        arguments += ["--planner-set", override]

    assert main(arguments) == 2

    captured = capsys.readouterr()
    assert re.search(message, captured.err)
    assert "success rate" not in captured.out + captured.err
    assert not (run_dir / MAZE_EVAL_DIR).exists()


def test_eval_of_landmark_run_builds_graph(tmp_path_factory, caplog):
    runs_dir = tmp_path_factory.mktemp("landmark_runs")
    arguments = ["run", str(HIERARCHICAL_CONFIG), "--quiet", "--set", f"runs_dir={runs_dir}"]
    for override in [*DEBUG_OVERRIDES, "actor.planner.high_level.landmarks=20", "train.eval_every=1000"]:
        arguments += ["--set", override]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(arguments) == 0
    (run_dir,) = sorted((runs_dir / "ami_PointMazeU-v0").iterdir())

    with caplog.at_level(logging.INFO, logger="ami.actor.landmarks"), contextlib.redirect_stdout(io.StringIO()):
        assert main(["eval", str(run_dir), "--mode", "deliberative", "--episodes", "1", "--set", "num_threads=1"]) == 0

    # ``ami eval`` loads the replay, so the graph has stored observations to spread its landmarks over.
    assert "landmark graph: 20 landmarks from 300 stored observations" in caplog.text

    # The high level shapes no saved module, so ``ami eval`` may change it, with the checks of ``ami run``.
    waypoint = ["--set", "actor.planner.high_level.subgoal=waypoint", "--set", "actor.planner.high_level.waypoint_hops=2"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["eval", str(run_dir), "--mode", "deliberative", "--episodes", "1", *waypoint]) == 0
        assert main(["eval", str(run_dir), "--episodes", "1", *waypoint, "--set", "actor.planner.high_level.landmarks=0"]) == 2


def test_maze_eval_without_landmarks_records_none(maze_eval_record):
    record, _ = maze_eval_record

    assert record["landmark_graph"] is None


def test_path_recorder_episode_subgoals():
    recorder = PathRecorder()
    pair = held_out_pairs("u", 1, HELD_OUT_SEED)[0]
    recorder.start_episode(pair, np.zeros(2))
    for _ in range(3):
        recorder.record_step(np.zeros(2))
    # The batch went on for 2 more planner calls after this episode ended.
    recorder.end_episode(2)
    subgoals = [torch.tensor([float(call)]) for call in range(10)]

    assert [float(subgoal) for subgoal in recorder.episode_subgoals(subgoals)] == [5.0, 6.0, 7.0]
