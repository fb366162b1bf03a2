"""Non-finite losses skip their optimizer step; unstable simulation steps never reach the replay."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from ami.config import load_config
from ami.training.checkpoint import CHECKPOINT_NAME, CheckpointError, named_tensors, save_checkpoint
from ami.training.learner import TrainingDivergedError
from ami.training.trainer import Trainer
from experiments.cli import main
from tests.plugins.unstable_env import UNSTABLE_STEP, UNSTABLE_TASK
from tests.tiny import DEBUG_CONFIG

# The debug config pretrains with 10 updates at step 100, then makes one update per step, so
# update 15 is made at step 105.
NAN_UPDATES = [15, 16, 17]
NAN_WORLD_MODEL = ['imports=["tests.plugins.nan_world_model"]', "world_model.name=test_nan_jepa"]


def run(runs_dir: Path, *settings: str) -> int:
    arguments = ["run", str(DEBUG_CONFIG), "--quiet", "--set", f"runs_dir={runs_dir}"]
    for setting in settings:
        arguments += ["--set", setting]
    with contextlib.redirect_stdout(io.StringIO()):
        return main(arguments)


def scalars(run_dir: Path, tag: str) -> list[tuple[int, float]]:
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    return [(event.step, event.value) for event in events.Scalars(tag)]


@pytest.fixture(scope="module")
def nan_run(tmp_path_factory) -> dict:
    runs_dir = tmp_path_factory.mktemp("nan_run")
    exit_code = run(
        runs_dir, *NAN_WORLD_MODEL, f"world_model.options.nan_updates={NAN_UPDATES}",
        "train.total_steps=200", "train.checkpoint_every=150",
    )
    (run_dir,) = (runs_dir / "InvertedPendulum-v5").iterdir()
    return {"exit_code": exit_code, "run_dir": run_dir}


def test_nan_run_survives(nan_run):
    summary = json.loads((nan_run["run_dir"] / "summary.json").read_text())

    assert nan_run["exit_code"] == 0
    assert summary["env_steps"] == 200
    # A NaN world-model loss leaves NaN latents out of the critic and policy losses, so only
    # the world-model steps are skipped.
    assert summary["skipped_steps"] == {"world_model": 3, "critic": 0, "actor": 0}


def test_nan_run_logs_skipped_steps(nan_run):
    skipped = dict(scalars(nan_run["run_dir"], "guard/skipped_steps/world_model"))

    assert skipped[100] == 0
    assert skipped[150] == 3
    assert skipped[200] == 3


def test_nan_run_logs_finite_losses(nan_run):
    losses = scalars(nan_run["run_dir"], "world_model/loss")

    assert [step for step, _ in losses] == [100, 150, 200]
    assert all(np.isfinite(value) for _, value in losses)


def test_nan_run_checkpoint_finite(nan_run):
    state = torch.load(nan_run["run_dir"] / CHECKPOINT_NAME, weights_only=True)["state"]

    floating = [(name, tensor) for name, tensor in named_tensors(state) if tensor.is_floating_point()]
    assert len(floating) > 50
    for name, tensor in floating:
        assert bool(torch.isfinite(tensor).all()), name


def test_nan_run_stops_after_limit(tmp_path):
    with pytest.raises(TrainingDivergedError, match="4 updates in a row had a non-finite loss or gradient"):
        run(tmp_path, *NAN_WORLD_MODEL, f"world_model.options.nan_updates={list(range(15, 30))}", "train.max_nonfinite_updates=4")


def filled_trainer(*settings: str) -> Trainer:
    """A debug trainer with 50 random steps in its replay buffer."""
    trainer = Trainer(load_config(DEBUG_CONFIG, list(settings)), show_progress=False)
    obs, _ = trainer.env.reset(seed=0)
    for _ in range(50):
        action = trainer.env.action_space.sample()
        next_obs, reward, terminated, truncated, _ = trainer.env.step(action)
        trainer.agent.observe(obs, action, reward, next_obs, terminated, truncated)
        obs = next_obs if not (terminated or truncated) else trainer.env.reset()[0]
    return trainer


def test_skipped_step_keeps_parameters():
    trainer = filled_trainer(*NAN_WORLD_MODEL, "world_model.options.nan_updates=[1]")
    world_model = trainer.agent.modules.world_model
    before = {name: value.clone() for name, value in world_model.state_dict().items()}

    metrics = trainer.agent.update()

    # The target encoder follows the unchanged online encoder, so it stays equal too.
    for name, value in world_model.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert trainer.agent.learner.model_optimizer.state_dict()["state"] == {}
    assert trainer.agent.learner.skipped_steps["world_model"] == 1
    assert "world_model/loss" not in metrics
    assert "critic/loss" in metrics


def test_finite_step_resets_count():
    trainer = filled_trainer(*NAN_WORLD_MODEL, "world_model.options.nan_updates=[1]")

    trainer.agent.update()
    trainer.agent.update()

    assert trainer.agent.learner.nonfinite_updates_in_a_row == 0
    assert len(trainer.agent.learner.model_optimizer.state_dict()["state"]) > 0


def test_save_checkpoint_rejects_nan(tmp_path):
    path = tmp_path / CHECKPOINT_NAME
    save_checkpoint(path, {"weights": torch.ones(3)}, {"step": 1})
    previous = path.read_bytes()

    with pytest.raises(CheckpointError, match=r"state\.weights contains NaN or infinite values"):
        save_checkpoint(path, {"weights": torch.tensor([1.0, float("nan"), 3.0])}, {"step": 2})

    assert path.read_bytes() == previous
    assert not path.with_name(path.name + ".tmp").exists()


@pytest.fixture(scope="module")
def unstable_run(tmp_path_factory) -> Path:
    runs_dir = tmp_path_factory.mktemp("unstable_run")
    exit_code = run(
        runs_dir, 'imports=["tests.plugins.unstable_env"]', f"env.task={UNSTABLE_TASK}", "train.total_steps=150",
    )
    assert exit_code == 0
    (run_dir,) = (runs_dir / "test_UnstablePendulum-v0").iterdir()
    return run_dir


def test_unstable_steps_not_stored(unstable_run):
    summary = json.loads((unstable_run / "summary.json").read_text())
    replay = torch.load(unstable_run / CHECKPOINT_NAME, weights_only=True)["state"]["memory"]["replay"]

    unstable = summary["unstable_episodes"]
    assert unstable > 10
    assert replay["size"] == 150 - unstable
    for field in ("obs", "next_obs", "rewards"):
        assert bool(torch.isfinite(replay[field]).all()), field
    # An episode cut by an unstable step ends, truncated, on the step before it.
    assert int(replay["truncated"].sum()) == unstable


def test_unstable_steps_logged(unstable_run):
    counts = scalars(unstable_run, "guard/unstable_episodes")
    summary = json.loads((unstable_run / "summary.json").read_text())

    assert [value for _, value in counts] == list(range(1, summary["unstable_episodes"] + 1))


def test_unstable_episode_lengths(unstable_run):
    replay = torch.load(unstable_run / CHECKPOINT_NAME, weights_only=True)["state"]["memory"]["replay"]

    ends = torch.nonzero(replay["terminated"] + replay["truncated"]).flatten().tolist()
    lengths = [end - start for start, end in zip([-1, *ends], ends)]
    # Every episode stores at most the steps before the unstable one.
    assert max(lengths) <= UNSTABLE_STEP - 1


def test_failed_write_keeps_previous_checkpoint(tmp_path):
    path = tmp_path / CHECKPOINT_NAME
    save_checkpoint(path, {"weights": torch.ones(3)}, {"step": 1})
    previous = path.read_bytes()

    # A lambda cannot be pickled, so torch.save fails after it has started writing.
    with pytest.raises(Exception, match="lambda"):
        save_checkpoint(path, {"weights": torch.zeros(3), "callback": lambda: None}, {"step": 2})

    assert path.read_bytes() == previous
    assert not path.with_name(path.name + ".tmp").exists()
