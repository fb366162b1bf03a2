"""Training on a Gymnasium vector env of InvertedPendulum-v5 copies with the debug preset.

Three envs step together, so the counters move by 3 env steps per vector step: 99 seed steps,
then acting and learning up to 300 env steps, with evaluations at 150 and 300.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from ami.config import load_config
from ami.config.loader import ConfigError
from ami.training.trainer import Trainer
from experiments.cli import main
from tests.tiny import DEBUG_CONFIG

NUM_ENVS = 3
SETTINGS = [f"env.num_envs={NUM_ENVS}", "train.seed_steps=99", "num_threads=1"]
PRETRAIN_UPDATES = 10
"""``train.pretrain_updates`` of the debug config."""

EXPECTED_SCALARS = [
    "eval/reactive/mean_reward",
    "eval/deliberative/mean_reward",
    "rollout/ep_rew_mean",
    "rollout/ep_rew",
    "time/fps",
    "world_model/loss",
    "critic/loss",
    "plan/ms_per_action/deliberative",
    "cost/total",
    "configurator/deliberative_share",
]


@pytest.fixture(scope="module")
def vector_run(tmp_path_factory) -> Path:
    runs_dir = tmp_path_factory.mktemp("runs")
    arguments = ["run", str(DEBUG_CONFIG), "--quiet", "--set", f"runs_dir={runs_dir}"]
    for setting in SETTINGS:
        arguments += ["--set", setting]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(arguments) == 0
    (run_dir,) = (runs_dir / "InvertedPendulum-v5").iterdir()
    return run_dir


def scalar_steps(run_dir: Path) -> dict[str, list[int]]:
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: [event.step for event in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


@pytest.mark.parametrize("tag", EXPECTED_SCALARS)
def test_vector_run_logs_scalar(vector_run, tag):
    assert tag in scalar_steps(vector_run)


def test_vector_run_summary(vector_run):
    summary = json.loads((vector_run / "summary.json").read_text())

    assert summary["env_steps"] == 300
    assert set(summary["eval"]) == {"reactive", "deliberative"}
    for mode, result in summary["eval"].items():
        assert len(result["returns"]) == 1, mode


def test_vector_run_eval_steps(vector_run):
    steps = scalar_steps(vector_run)

    assert steps["eval/reactive/mean_reward"] == [150, 300]
    assert steps["eval/deliberative/mean_reward"] == [150, 300]


def test_vector_run_log_steps(vector_run):
    # log_every = 50: the first vector step at or past each multiple of 50, and the last step.
    assert scalar_steps(vector_run)["time/fps"] == [51, 102, 150, 201, 252, 300]


def test_vector_run_episode_steps(vector_run):
    steps = scalar_steps(vector_run)["rollout/ep_rew"]

    assert steps == sorted(set(steps))
    assert all(step % NUM_ENVS == 0 for step in steps)


def test_vector_run_checkpoint_config(vector_run):
    assert f"num_envs = {NUM_ENVS}" in (vector_run / "config.toml").read_text()


def test_vector_trainer_update_count(tmp_path):
    config = load_config(DEBUG_CONFIG, [*SETTINGS, f"runs_dir={tmp_path}", "train.eval_every=300", "train.log_every=300"])
    trainer = Trainer(config, show_progress=False)
    updates = 0
    update = trainer.agent.update

    def counted_update():
        nonlocal updates
        updates += 1
        return update()

    trainer.agent.update = counted_update
    trainer.train(tmp_path)

    # Pretraining at env step 99, then 3 updates for each of the 67 vector steps from 102 to 300.
    assert updates == PRETRAIN_UPDATES + NUM_ENVS * 67
    assert trainer.step == 300


def test_vector_trainer_seed_steps_random(tmp_path):
    config = load_config(DEBUG_CONFIG, [*SETTINGS, "train.total_steps=99"])
    trainer = Trainer(config, show_progress=False)

    trainer.train(tmp_path)

    assert trainer.agent.configurator.mode_counts == {"reactive": 0, "deliberative": 0}
    assert trainer.step == 99
    assert len(trainer.agent.modules.replay) > 0


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("env.num_envs=0", "invalid value 0 for 'env.num_envs'; it must be a positive, finite number"),
        ("train.total_steps=301", "invalid value 301 for 'train.total_steps'; with env.num_envs=3 it must be a multiple of 3"),
        ("train.seed_steps=6", "invalid value 6 for 'train.seed_steps'; with env.num_envs=3 it must be at least"),
        ("env.vectorization=threads", "env.vectorization"),
    ],
)
def test_vector_config_invalid(setting, message):
    with pytest.raises(ConfigError) as raised:
        Trainer(load_config(DEBUG_CONFIG, [*SETTINGS, setting]), show_progress=False)

    assert message in str(raised.value)


def test_vector_env_obs_batch(tmp_path):
    config = load_config(DEBUG_CONFIG, SETTINGS)
    trainer = Trainer(config, show_progress=False)

    trainer.rollout.start(config.seed)

    assert trainer.rollout.obs.shape == (NUM_ENVS, trainer.spec.obs_dim)
    # Gymnasium seeds env i with seed + i, so the start states differ.
    assert not np.array_equal(trainer.rollout.obs[0], trainer.rollout.obs[1])
