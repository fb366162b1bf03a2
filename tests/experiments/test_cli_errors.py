"""``ami run`` and ``ami eval`` on bad input: exit code 2, one error line, no run folder."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from ami.config import load_config
from ami.training.checkpoint import CHECKPOINT_NAME, checkpoint_metadata, save_checkpoint
from ami.training.run_dir import create_run_dir
from ami.training.trainer import Trainer
from experiments.cli import main
from tests.tiny import DEBUG_CONFIG

# Each case: one --set override and a fragment that the error line must contain.
BAD_RUN_INPUT = {
    "unknown_key": ("train.totl_steps=5", "unknown config key 'train.totl_steps'"),
    "unknown_top_level_key": ("sed=1", "unknown config key 'sed'"),
    "unknown_planner": ("actor.planner.name=mpi", "unknown planner 'mpi'"),
    "unknown_encoder": ("perception.name=cnn", "unknown encoder 'cnn'"),
    "unknown_task": ("env.task=HalfCheetah-v9", "unknown task 'HalfCheetah-v9'"),
    "wrong_type": ("train.total_steps=abc", "invalid value 'abc' for 'train.total_steps'"),
    "invalid_choice": ("configurator.mode=planning", "invalid value 'planning' for 'configurator.mode'"),
    "out_of_range": ("train.total_steps=0", "invalid value 0 for 'train.total_steps'"),
    "missing_plugin": ('imports=["tests.plugins.missing_module"]', "'tests.plugins.missing_module'"),
    "discrete_task": ("env.task=CartPole-v1", "continuous Box action space"),
    "replay_too_large": ("train.total_steps=10_000_000_000_000", "lower memory.capacity"),
    "runs_dir_is_a_file": ("runs_dir=" + __file__, "failed to create the run folder under runs_dir = "),
    "adaptive_option_type": (
        'configurator={name="adaptive", options={plan_margin="abc"}}',
        "invalid value 'abc' for 'configurator.options.plan_margin'",
    ),
}


def stderr_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    path = tmp_path / "runs"
    path.mkdir()
    return path


@pytest.mark.parametrize(("override", "fragment"), BAD_RUN_INPUT.values(), ids=BAD_RUN_INPUT.keys())
def test_run_bad_input(runs_dir, capsys, override, fragment):
    exit_code = main(["run", str(DEBUG_CONFIG), "--set", f"runs_dir={runs_dir}", "--set", override, "--quiet"])

    captured = capsys.readouterr()
    lines = stderr_lines(captured.err)
    assert exit_code == 2
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("ami run: error: ")
    assert fragment in lines[0]
    assert captured.out == ""
    assert list(runs_dir.iterdir()) == []


def test_run_missing_config_file(runs_dir, capsys):
    missing = runs_dir.parent / "absent.toml"

    exit_code = main(["run", str(missing), "--set", f"runs_dir={runs_dir}", "--quiet"])

    lines = stderr_lines(capsys.readouterr().err)
    assert exit_code == 2
    assert lines == [f"ami run: error: config file not found: {str(missing)!r}; pass the path of a TOML file"]
    assert list(runs_dir.iterdir()) == []


def test_eval_missing_folder(tmp_path, capsys):
    missing = tmp_path / "no_such_run"

    exit_code = main(["eval", str(missing), "--episodes", "1"])

    lines = stderr_lines(capsys.readouterr().err)
    assert exit_code == 2
    assert len(lines) == 1
    assert lines[0].startswith(f"ami eval: error: run folder not found: {str(missing)!r}")


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    """A run folder with config.toml and version.txt, but no checkpoint yet."""
    config = load_config(DEBUG_CONFIG, [f"runs_dir={tmp_path / 'runs'}"])
    return create_run_dir(config)


def test_main_restores_root_log_level(tmp_path, capsys):
    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.WARNING)
    try:
        exit_code = main(["eval", str(tmp_path / "missing_run")])
        level = root.level
    finally:
        root.setLevel(previous)

    assert exit_code == 2
    assert level == logging.WARNING


def test_eval_missing_checkpoint(run_folder, capsys):
    exit_code = main(["eval", str(run_folder), "--episodes", "1"])

    lines = stderr_lines(capsys.readouterr().err)
    assert exit_code == 2
    assert len(lines) == 1
    assert lines[0].startswith(f"ami eval: error: checkpoint not found: {str(run_folder / CHECKPOINT_NAME)!r}")


# Damaged files, named after the error that torch.load raises on each (torch 2.13).
DAMAGED_CHECKPOINTS = {
    "index_error": b"this is not a checkpoint\n" * 10,
    "unpickling_error": b"not a checkpoint",
    "eof_error": b"",
    "unpickling_error_binary": bytes(range(256)) * 8,
}


@pytest.mark.parametrize("content", DAMAGED_CHECKPOINTS.values(), ids=DAMAGED_CHECKPOINTS.keys())
def test_eval_corrupted_checkpoint(run_folder, capsys, content):
    checkpoint = run_folder / CHECKPOINT_NAME
    checkpoint.write_bytes(content)

    exit_code = main(["eval", str(run_folder), "--episodes", "1"])

    captured = capsys.readouterr()
    lines = stderr_lines(captured.err)
    assert exit_code == 2
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"ami eval: error: cannot read checkpoint {str(checkpoint)!r}: it is corrupted")
    assert "weights_only" not in lines[0]
    assert captured.out == ""


def test_eval_truncated_checkpoint(run_folder, capsys):
    checkpoint = run_folder / CHECKPOINT_NAME
    trainer = Trainer(load_config(run_folder / "config.toml"), show_progress=False)
    save_checkpoint(checkpoint, {"agent": trainer.agent.state_dict()}, checkpoint_metadata(trainer.config, trainer.spec, 0))
    checkpoint.write_bytes(checkpoint.read_bytes()[:2000])

    exit_code = main(["eval", str(run_folder), "--episodes", "1"])

    captured = capsys.readouterr()
    lines = stderr_lines(captured.err)
    assert exit_code == 2
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"ami eval: error: cannot read checkpoint {str(checkpoint)!r}: it is corrupted")
    assert captured.out == ""


def test_eval_checkpoint_of_unknown_format(run_folder, capsys):
    checkpoint = run_folder / CHECKPOINT_NAME
    torch.save([1, 2, 3], checkpoint)

    exit_code = main(["eval", str(run_folder), "--episodes", "1"])

    lines = stderr_lines(capsys.readouterr().err)
    assert exit_code == 2
    assert lines == [
        f"ami eval: error: checkpoint {str(checkpoint)!r} has an unknown format (version None); expected format version 2"
    ]


def test_eval_checkpoint_of_other_task(run_folder, capsys):
    trainer = Trainer(load_config(run_folder / "config.toml"), show_progress=False)
    metadata = {**checkpoint_metadata(trainer.config, trainer.spec, 0), "task": "Hopper-v5"}
    checkpoint = run_folder / CHECKPOINT_NAME
    save_checkpoint(checkpoint, {"agent": trainer.agent.state_dict()}, metadata)

    exit_code = main(["eval", str(run_folder), "--episodes", "1"])

    lines = stderr_lines(capsys.readouterr().err)
    assert exit_code == 2
    assert lines == [
        f"ami eval: error: checkpoint {str(checkpoint)!r} was written for task='Hopper-v5' but this run has "
        "'InvertedPendulum-v5'; load each checkpoint with the config.toml of its own run folder"
    ]


# Each case: the arguments after the config path of `ami bench step_time` and a fragment of the error line.
BAD_STEP_TIME_INPUT = {
    "unknown_key": (["--set", "train.totl_steps=5"], "unknown config key 'train.totl_steps'"),
    "unknown_task": (["--set", "env.task=HalfCheetah-v9"], "unknown task 'HalfCheetah-v9'"),
    "out_of_range": (["--set", "train.total_steps=0"], "invalid value 0 for 'train.total_steps'"),
    "invalid_device": (["--device", "tpu"], "invalid device 'tpu'"),
}


@pytest.mark.parametrize(("arguments", "fragment"), BAD_STEP_TIME_INPUT.values(), ids=BAD_STEP_TIME_INPUT.keys())
def test_bench_step_time_bad_input(tmp_path, capsys, arguments, fragment):
    output = tmp_path / "record.json"

    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "step_time", str(DEBUG_CONFIG), "--output", str(output), *arguments])

    captured = capsys.readouterr()
    assert exit_info.value.code == 2
    assert fragment in stderr_lines(captured.err)[-1]
    assert "Traceback" not in captured.err
    assert not output.exists()


def test_bench_step_time_missing_config(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "step_time", str(tmp_path / "absent.toml"), "--output", str(tmp_path / "record.json")])

    assert exit_info.value.code == 2
    assert "config file not found" in stderr_lines(capsys.readouterr().err)[-1]


# Each case: the arguments of `ami bench planning` besides --config and --output, and a fragment of the error line.
BAD_PLANNING_INPUT = {
    "unknown_key": (["--set", "train.totl_steps=5"], "unknown config key 'train.totl_steps'"),
    "unknown_task": (["--set", "env.task=HalfCheetah-v9"], "unknown task 'HalfCheetah-v9'"),
    "unknown_planner": (["--planner", "mpi"], "unknown planner 'mpi' for --planner"),
    "missing_plugin": (["--set", 'imports=["tests.plugins.missing_module"]'], "'tests.plugins.missing_module'"),
    "invalid_device": (["--device", "tpu"], "invalid device 'tpu'"),
    "planner_needs_other_model": (["--planner", "hierarchical"], "needs a hierarchical world model"),
    "cuda_graphs_without_compile": (["--cuda-graphs"], "cuda_graphs needs compile = true"),
    "peak_size_zero": (["--peak-size", "0"], "argument --peak-size: must be a positive integer, got '0'"),
    "threads_negative": (["--threads", "-1"], "argument --threads: must be a non-negative integer, got '-1'"),
    "max_repeats_zero": (["--max-repeats", "0"], "argument --max-repeats: must be a positive integer, got '0'"),
    "min_seconds_negative": (["--min-seconds", "-1"], "argument --min-seconds: must be a finite, non-negative number"),
}


@pytest.mark.parametrize(("arguments", "fragment"), BAD_PLANNING_INPUT.values(), ids=BAD_PLANNING_INPUT.keys())
def test_bench_planning_bad_input(tmp_path, capsys, arguments, fragment):
    output = tmp_path / "record.json"

    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "planning", "--config", str(DEBUG_CONFIG), "--output", str(output), *arguments])

    captured = capsys.readouterr()
    assert exit_info.value.code == 2
    assert fragment in stderr_lines(captured.err)[-1]
    assert "Traceback" not in captured.err
    assert not output.exists()


@pytest.mark.parametrize("benchmark", ["planning", "render", "step_time"])
def test_bench_help_names_ami_command(capsys, benchmark):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", benchmark, "--help"])

    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: ami bench {benchmark} ")


@pytest.mark.parametrize(
    "arguments",
    [[], ["--repeats"], ["--tasks", "HalfCheetah-v5"], ["--repeats", "3", "step_time"]],
    ids=["bare", "flag_only", "flag_with_value", "name_after_flags"],
)
def test_bench_without_name_lists_benchmarks(capsys, arguments):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", *arguments])

    captured = capsys.readouterr()
    assert exit_info.value.code == 2
    assert stderr_lines(captured.err)[-1] == (
        "ami bench: error: missing benchmark name right after 'ami bench'; choose one of planning, render, step_time, "
        "e.g. ami bench step_time --help"
    )
