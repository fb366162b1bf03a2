"""A run killed by SIGKILL after a checkpoint and resumed logs what an uninterrupted run logs."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from ami.training.checkpoint import CHECKPOINT_NAME
from ami.training.run_dir import lock_run_dir
from experiments.cli import main
from tests.plugins.killable_configurator import KILL_STEP_VARIABLE, SIGNAL_VARIABLE
from tests.tiny import DEBUG_CONFIG, REPO_ROOT

# 100 seed steps, then acting and learning; checkpoints at 200 and at the end (400). The killed
# run also evaluates and flushes TensorBoard at 300, so points after its checkpoint are on disk.
SETTINGS = [
    "train.total_steps=400",
    "train.checkpoint_every=200",
    "train.eval_every=100",
    "train.log_every=50",
    "num_threads=1",
    "seed=0",
    'imports=["tests.plugins.killable_configurator"]',
    "configurator.name=test_killable",
]
CHECKPOINT_STEP = 200
KILL_STEP = 350
INTERRUPT_STEP = 250

TIMING_TAGS = ("time/fps", "plan/ms_per_action/deliberative", "eval/reactive/ms_per_action", "eval/deliberative/ms_per_action")
"""Wall-clock figures, which differ between any two runs."""


def run_arguments(runs_dir: Path) -> list[str]:
    arguments = ["run", str(DEBUG_CONFIG), "--quiet"]
    for setting in [*SETTINGS, f"runs_dir={runs_dir}"]:
        arguments += ["--set", setting]
    return arguments


def quiet_main(arguments: list[str]) -> int:
    with contextlib.redirect_stdout(io.StringIO()):
        return main(arguments)


def only_run_dir(runs_dir: Path) -> Path:
    (run_dir,) = (runs_dir / "InvertedPendulum-v5").iterdir()
    return run_dir


def logged_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar as TensorBoard shows it: ``(step, value)`` pairs in file order, purged points left out."""
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: [(event.step, event.value) for event in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def checkpoint_step(run_dir: Path) -> int:
    return torch.load(run_dir / CHECKPOINT_NAME, weights_only=True)["metadata"]["step"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("resume")
    assert quiet_main(run_arguments(root / "uninterrupted")) == 0

    killed = subprocess.run(
        [sys.executable, "-m", "experiments.cli", *run_arguments(root / "killed")],
        cwd=REPO_ROOT,
        env={**os.environ, KILL_STEP_VARIABLE: str(KILL_STEP)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    killed_dir = only_run_dir(root / "killed")
    before_resume = {
        "returncode": killed.returncode,
        "checkpoint_step": checkpoint_step(killed_dir),
        "scalars": logged_scalars(killed_dir),
    }

    # The run folder leaves the config's runs_dir before the resume, as when a user moves or copies a run.
    moved_dir = root / "moved" / killed_dir.name
    moved_dir.parent.mkdir()
    shutil.move(killed_dir, moved_dir)
    resume_stdout = io.StringIO()
    with contextlib.redirect_stdout(resume_stdout):
        resume_exit_code = main(["run", "--resume", str(moved_dir), "--quiet"])

    interrupted = subprocess.run(
        [sys.executable, "-m", "experiments.cli", *run_arguments(root / "interrupted")],
        cwd=REPO_ROOT,
        env={**os.environ, KILL_STEP_VARIABLE: str(INTERRUPT_STEP), SIGNAL_VARIABLE: "SIGINT"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    interrupted_dir = only_run_dir(root / "interrupted")
    interrupted_checkpoint_step = checkpoint_step(interrupted_dir)
    interrupted_resume_exit_code = quiet_main(["run", "--resume", str(interrupted_dir), "--quiet"])
    return {
        "uninterrupted": only_run_dir(root / "uninterrupted"),
        "resumed": moved_dir,
        "before_resume": before_resume,
        "resume_exit_code": resume_exit_code,
        "resume_stdout": resume_stdout.getvalue(),
        "interrupted": {
            "returncode": interrupted.returncode,
            "checkpoint_step": interrupted_checkpoint_step,
            "resume_exit_code": interrupted_resume_exit_code,
            "run_dir": interrupted_dir,
        },
    }


def test_killed_run_died_after_checkpoint(runs):
    before = runs["before_resume"]

    assert before["returncode"] == -signal.SIGKILL
    assert before["checkpoint_step"] == CHECKPOINT_STEP
    # Points past the checkpoint reached the disk before the kill; the resume must hide them.
    assert max(step for step, _ in before["scalars"]["world_model/loss"]) > CHECKPOINT_STEP


def test_resume_exit_code(runs):
    assert runs["resume_exit_code"] == 0
    assert checkpoint_step(runs["resumed"]) == 400


def test_moved_run_resume_prints_own_folder(runs):
    assert f"TensorBoard: tensorboard --logdir {runs['resumed']}\n" in runs["resume_stdout"]


def test_resume_logs_same_values(runs):
    expected, resumed = logged_scalars(runs["uninterrupted"]), logged_scalars(runs["resumed"])

    assert expected.keys() == resumed.keys()
    assert "world_model/loss" in expected
    for tag in expected.keys() - set(TIMING_TAGS):
        expected_steps = [step for step, _ in expected[tag]]
        resumed_steps = [step for step, _ in resumed[tag]]
        assert resumed_steps == expected_steps, tag
        for (step, value), (_, resumed_value) in zip(expected[tag], resumed[tag]):
            assert resumed_value == pytest.approx(value, abs=1e-6, rel=0), f"{tag} at step {step}"


def test_interrupt_stops_after_step(runs):
    interrupted = runs["interrupted"]

    assert interrupted["returncode"] == 130
    # Ctrl-C came while step 251 was being taken; the run finished that step, then stopped.
    assert interrupted["checkpoint_step"] == INTERRUPT_STEP + 1
    assert interrupted["resume_exit_code"] == 0


def test_interrupt_resume_logs_same_values(runs):
    expected, resumed = logged_scalars(runs["uninterrupted"]), logged_scalars(runs["interrupted"]["run_dir"])

    assert expected.keys() == resumed.keys()
    for tag in expected.keys() - set(TIMING_TAGS):
        assert [step for step, _ in resumed[tag]] == [step for step, _ in expected[tag]], tag
        for (step, value), (_, resumed_value) in zip(expected[tag], resumed[tag]):
            assert resumed_value == pytest.approx(value, abs=1e-6, rel=0), f"{tag} at step {step}"


def test_sigterm_stops_after_step(tmp_path):
    stopped = subprocess.run(
        [sys.executable, "-m", "experiments.cli", *run_arguments(tmp_path), "--set", "train.total_steps=200"],
        cwd=REPO_ROOT,
        env={**os.environ, KILL_STEP_VARIABLE: "150", SIGNAL_VARIABLE: "SIGTERM"},
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert stopped.returncode == 130, stopped.stderr[-2000:]
    assert "SIGTERM received: stopping at the end of the env step in progress" in stopped.stderr
    assert checkpoint_step(only_run_dir(tmp_path)) == 151


def test_resume_steps_not_duplicated(runs):
    for tag, points in logged_scalars(runs["resumed"]).items():
        steps = [step for step, _ in points]
        assert steps == sorted(set(steps)), tag


def test_resume_same_eval_returns(runs):
    expected = json.loads((runs["uninterrupted"] / "summary.json").read_text())
    resumed = json.loads((runs["resumed"] / "summary.json").read_text())

    for mode in ("reactive", "deliberative"):
        assert resumed["eval"][mode]["returns"] == expected["eval"][mode]["returns"], mode
    assert resumed["env_steps"] == expected["env_steps"] == 400


def test_resume_same_final_weights(runs):
    expected = torch.load(runs["uninterrupted"] / CHECKPOINT_NAME, weights_only=True)["state"]["agent"]
    resumed = torch.load(runs["resumed"] / CHECKPOINT_NAME, weights_only=True)["state"]["agent"]

    for module in ("world_model", "cost", "actor"):
        for name, value in expected[module].items():
            assert torch.equal(resumed[module][name], value), f"{module}.{name}"


def error_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_resume_finished_run(runs, capsys):
    exit_code = main(["run", "--resume", str(runs["uninterrupted"]), "--quiet"])

    lines = error_lines(capsys)
    assert exit_code == 2
    assert len(lines) == 1
    assert "is at step 400 and train.total_steps is 400" in lines[0]
    assert "--set train.total_steps=N with N above 400" in lines[0]


def test_resume_lower_total_steps(runs, capsys):
    exit_code = main(["run", "--resume", str(runs["uninterrupted"]), "--set", "train.total_steps=300", "--quiet"])

    lines = error_lines(capsys)
    assert exit_code == 2
    assert len(lines) == 1
    assert "is at step 400 and train.total_steps is 300" in lines[0]


def test_resume_other_override(runs, capsys):
    exit_code = main(["run", "--resume", str(runs["uninterrupted"]), "--set", "seed=3", "--quiet"])

    lines = error_lines(capsys)
    assert exit_code == 2
    assert lines == [
        "ami run: error: cannot override 'seed' when resuming a run: only train.total_steps, num_threads may change, "
        "because the other fields shape the saved state. Start a new run to change it"
    ]


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (("seed = 0", "seed = 7"), "was written with seed=0 but config.toml gives 7"),
        (("learning_rate = 0.0003", "learning_rate = 0.5"), "was written with train.learning_rate=0.0003 but config.toml gives 0.5"),
    ],
)
def test_resume_config_edited_by_hand(runs, capsys, tmp_path, edit, fragment):
    run_dir = tmp_path / "copy"
    shutil.copytree(runs["uninterrupted"], run_dir)
    config_path = run_dir / "config.toml"
    original, edited = edit
    assert original in config_path.read_text()
    config_path.write_text(config_path.read_text().replace(original, edited, 1))

    exit_code = main(["run", "--resume", str(run_dir), "--set", "train.total_steps=450", "--quiet"])

    lines = error_lines(capsys)
    assert exit_code == 2
    assert len(lines) == 1
    assert fragment in lines[0]
    assert "only train.total_steps, num_threads may change" in lines[0]


def test_resume_sets_num_threads(runs, tmp_path):
    run_dir = tmp_path / "copy"
    shutil.copytree(runs["uninterrupted"], run_dir)
    threads = torch.get_num_threads()
    try:
        exit_code = quiet_main(["run", "--resume", str(run_dir), "--set", "train.total_steps=450", "--set", "num_threads=1", "--quiet"])
    finally:
        torch.set_num_threads(threads)

    config = tomllib.loads((run_dir / "config.toml").read_text())
    assert exit_code == 0
    assert config["num_threads"] == 1
    assert config["train"]["total_steps"] == 450
    assert checkpoint_step(run_dir) == 450


def test_resume_with_config_file(runs, capsys):
    exit_code = main(["run", str(DEBUG_CONFIG), "--resume", str(runs["uninterrupted"]), "--quiet"])

    lines = error_lines(capsys)
    assert exit_code == 2
    assert len(lines) == 1
    assert "give either a CONFIG file or --resume RUN_DIR, not both" in lines[0]


def test_resume_locked_folder(runs, capsys):
    run_dir = runs["uninterrupted"]
    with lock_run_dir(run_dir):
        exit_code = main(["run", "--resume", str(run_dir), "--set", "train.total_steps=450", "--quiet"])

    lines = error_lines(capsys)
    assert exit_code == 2
    assert lines == [f"ami run: error: folder {str(run_dir)!r} is in use by another ami process; wait for it to end or stop it first"]


def test_resume_lock_file_is_folder(runs, capsys, tmp_path):
    run_dir = tmp_path / "copy"
    shutil.copytree(runs["uninterrupted"], run_dir)
    (run_dir / ".lock").unlink()
    (run_dir / ".lock").mkdir()

    exit_code = main(["run", "--resume", str(run_dir), "--set", "train.total_steps=450", "--quiet"])

    lines = error_lines(capsys)
    assert exit_code == 2
    assert len(lines) == 1
    assert lines[0].startswith(f"ami run: error: failed to lock folder {str(run_dir)!r}: Is a directory")


def test_resume_missing_folder(tmp_path, capsys):
    missing = tmp_path / "no_such_run"

    exit_code = main(["run", "--resume", str(missing), "--quiet"])

    lines = error_lines(capsys)
    assert exit_code == 2
    assert lines == [f"ami run: error: run folder not found: {str(missing)!r}; pass a folder written by `ami run`"]


def test_resume_extends_finished_run(tmp_path):
    runs_dir = tmp_path / "runs"
    assert quiet_main(["run", str(DEBUG_CONFIG), "--quiet", "--set", f"runs_dir={runs_dir}", "--set", "train.total_steps=120"]) == 0
    run_dir = only_run_dir(runs_dir)

    exit_code = quiet_main(["run", "--resume", str(run_dir), "--set", "train.total_steps=160", "--quiet"])

    assert exit_code == 0
    assert checkpoint_step(run_dir) == 160
    assert "total_steps = 160" in (run_dir / "config.toml").read_text()
    assert json.loads((run_dir / "summary.json").read_text())["env_steps"] == 160
