"""Stable-Baselines3 baselines trained for a few hundred steps on a real InvertedPendulum-v5 env."""

from __future__ import annotations

import csv
from pathlib import Path

import gymnasium as gym
import pytest
from stable_baselines3.common.type_aliases import TrainFrequencyUnit
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agents.sb3_baselines import build_model, check_options, run_sb3
from experiments.compare.protocol import EVALUATION_COLUMNS, EVALUATIONS_NAME, RunSpec

TAGS = ("eval/mean_reward", "eval/std_reward", "eval/mean_ep_length", "eval/ms_per_action")


def make_spec(tmp_path: Path, kind: str, total_steps: int, eval_every: int, **options) -> RunSpec:
    return RunSpec(
        task="InvertedPendulum-v5",
        agent=kind.upper(),
        kind=kind,
        seed=0,
        total_steps=total_steps,
        eval_every=eval_every,
        eval_episodes=2,
        run_dir=str(tmp_path),
        options=options,
    )


def read_rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / EVALUATIONS_NAME, newline="") as file:
        return list(csv.DictReader(file))


def assert_recorded(spec: RunSpec, expected_steps: list[int]) -> None:
    run_dir = Path(spec.run_dir)
    events = EventAccumulator(str(run_dir / "eval" / spec.agent))
    events.Reload()
    for tag in TAGS:
        assert [event.step for event in events.Scalars(tag)] == expected_steps, tag

    rows = read_rows(run_dir)
    assert tuple(rows[0]) == EVALUATION_COLUMNS
    assert [int(row["env_steps"]) for row in rows] == expected_steps
    assert {row["agent"] for row in rows} == {spec.agent}
    assert {row["task"] for row in rows} == {spec.task}
    # Untrained policies on InvertedPendulum-v5 fall within the 1000-step limit, and each step pays 1.
    for row, event in zip(rows, events.Scalars("eval/mean_reward")):
        assert float(row["mean_return"]) == pytest.approx(event.value)
        assert float(row["mean_return"]) == pytest.approx(float(row["mean_length"]) - 1, abs=1.0)
        assert float(row["wall_seconds"]) > 0


def test_sac_records_every_evaluation(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, "sac", total_steps=250, eval_every=100, batch_size=32,
                     policy_kwargs={"net_arch": [32, 32]})

    summary = run_sb3(spec)

    assert summary["env_steps"] == 250
    assert_recorded(spec, [100, 200, 250])
    assert (tmp_path / "train").is_dir()


def test_ppo_records_every_evaluation(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, "ppo", total_steps=256, eval_every=64, n_steps=128, batch_size=32, n_epochs=2,
                     policy_kwargs={"net_arch": [32, 32]})

    summary = run_sb3(spec)

    assert summary["env_steps"] == 256
    assert_recorded(spec, [64, 128, 192, 256])


def test_ppo_stops_at_total_steps(tmp_path: Path) -> None:
    # Rollouts of 128 steps would carry PPO to 256 env steps.
    spec = make_spec(tmp_path, "ppo", total_steps=200, eval_every=100, n_steps=128, batch_size=32, n_epochs=2,
                     policy_kwargs={"net_arch": [32, 32]})

    summary = run_sb3(spec)

    assert summary["env_steps"] == 200
    assert_recorded(spec, [100, 200])


def test_td3_trains_with_default_noise(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, "td3", total_steps=120, eval_every=60, batch_size=32,
                     policy_kwargs={"net_arch": [32, 32]})

    summary = run_sb3(spec)

    assert summary["env_steps"] == 120
    assert_recorded(spec, [60, 120])


def test_unknown_option_names_valid_arguments(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, "sac", total_steps=100, eval_every=100, learning_rate_typo=1e-3)

    with pytest.raises(ValueError, match="invalid option 'learning_rate_typo' for SAC") as error:
        run_sb3(spec)

    assert "learning_rate" in str(error.value)
    assert "batch_size" in str(error.value)


def test_seed_option_is_rejected(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, "ppo", total_steps=100, eval_every=100, seed=3)

    with pytest.raises(ValueError, match="invalid option 'seed' for PPO"):
        run_sb3(spec)


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("sac", {"learning_rate": "fast"}, "invalid value 'fast' for option 'learning_rate' of SAC: expected float | Callable[[float], float]"),
        ("sac", {"batch_size": 2.5}, "invalid value 2.5 for option 'batch_size' of SAC: expected int, written without a decimal point or exponent, e.g. 10_000"),
        ("td3", {"buffer_size": True}, "invalid value True for option 'buffer_size' of TD3: expected int"),
        ("ppo", {"policy_kwargs": [64, 64]}, "invalid value [64, 64] for option 'policy_kwargs' of PPO: expected dict[str, Any] | None"),
        ("sac", {"action_noise": 0.1}, "invalid value 0.1 for option 'action_noise' of SAC: expected ActionNoise | None"),
    ],
)
def test_check_options_rejects_wrong_type(kind, options, message) -> None:
    with pytest.raises(ValueError) as error:
        check_options(kind, options)

    assert str(error.value) == message


def test_check_options_accepts_toml_values() -> None:
    # TOML gives ints for floats and arrays for tuples; build_model turns the arrays into tuples.
    check_options("sac", {"learning_rate": 1, "train_freq": [1, "episode"], "ent_coef": "auto_0.1", "policy_kwargs": {"net_arch": [64]}})
    check_options("ppo", {"clip_range": 0.1, "target_kl": 0.02, "device": "cpu"})


@pytest.mark.parametrize("value", [[4], ["4", "step"], [1, "episode", 2]])
def test_check_options_rejects_wrong_tuple(value) -> None:
    with pytest.raises(ValueError, match=r"option 'train_freq' of SAC: expected int \| tuple\[int, str\]"):
        check_options("sac", {"train_freq": value})


def test_check_options_int_hint() -> None:
    with pytest.raises(ValueError, match="expected int, written without a decimal point or exponent, e.g. 10_000"):
        check_options("sac", {"learning_starts": 1e4})


def test_build_model_turns_array_into_tuple(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, "sac", total_steps=100, eval_every=100, train_freq=[2, "episode"], buffer_size=1000)
    env = gym.make(spec.task)

    model = build_model(spec, env)

    assert model.train_freq.frequency == 2
    assert model.train_freq.unit == TrainFrequencyUnit.EPISODE
    env.close()
