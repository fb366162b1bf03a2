"""The SAC reference for re-tasking: target parsing, safety limits from a run config, measured episodes."""

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
from stable_baselines3 import SAC

from ami.config.schema import EnvConfig
from ami.spec import TaskSpec
from envs.make import make_env
from experiments.sac_reference import main, measure_policy, parse_targets, safety_terms

HOPPER_SAFE = Path(__file__).resolve().parents[2] / "experiments" / "configs" / "hopper_safe.toml"


def test_parse_targets_names_each_speed():
    assert parse_targets("1,2,-1.5") == {"speed_1.0": 1.0, "speed_2.0": 2.0, "speed_-1.5": -1.5}


def test_parse_targets_rejects_text():
    with pytest.raises(argparse.ArgumentTypeError, match="'fast'"):
        parse_targets("fast")


def test_safety_terms_reads_torso_limit():
    env = make_env(EnvConfig(task="Hopper-v5"))
    terms = safety_terms(HOPPER_SAFE, TaskSpec.from_env(env, "Hopper-v5"))
    env.close()

    assert list(terms) == ["torso_angle"]
    assert (terms["torso_angle"].low, terms["torso_angle"].high) == (-0.15, 0.15)


def test_safety_terms_rejects_other_task():
    env = make_env(EnvConfig(task="HalfCheetah-v5"))
    spec = TaskSpec.from_env(env, "HalfCheetah-v5")
    env.close()

    with pytest.raises(ValueError, match="for task 'Hopper-v5', not 'HalfCheetah-v5'"):
        safety_terms(HOPPER_SAFE, spec)


def test_measure_policy_counts_hopper_violations():
    env = make_env(EnvConfig(task="Hopper-v5"))
    spec = TaskSpec.from_env(env, "Hopper-v5")
    model = SAC("MlpPolicy", env, seed=0, device="cpu")
    terms = safety_terms(HOPPER_SAFE, spec)

    result = measure_policy(model, env, "Hopper-v5", episodes=2, seed=5, speed_targets={"speed_1.0": 1.0}, safety=terms)

    # Replay the same episodes and count |torso angle| > 0.15 rad (observation entry 1) by hand.
    expected_violations, expected_returns = 0, []
    for episode in range(2):
        obs, _ = env.reset(seed=5 + episode)
        done, episode_return = False, 0.0
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(action)
            episode_return += float(reward)
            expected_violations += int(abs(obs[1]) > 0.15)
            done = terminated or truncated
        expected_returns.append(episode_return)
    env.close()

    assert result["safety_violations"] == {"torso_angle": expected_violations}
    assert result["mean_return"] == pytest.approx(np.mean(expected_returns))
    assert set(result["speed_error"]) == {"speed_1.0"}


def test_main_writes_model_and_measures(tmp_path):
    output = tmp_path / "sac"
    main(["--task", "HalfCheetah-v5", "--steps", "200", "--episodes", "1", "--speed-targets", "1,-1", "--output-dir", str(output)])

    record = json.loads((output / "measures.json").read_text())
    assert (output / "sac.zip").is_file()
    assert record["steps"] == 200
    assert record["eval"]["mean_length"] == 1000
    errors = record["eval"]["speed_error"]
    velocity = record["eval"]["mean_x_velocity"]
    # The mean absolute error is at least the distance of the mean velocity from the target.
    assert errors["speed_1.0"] >= abs(velocity - 1.0) - 1e-9
    assert errors["speed_-1.0"] >= abs(velocity + 1.0) - 1e-9


def test_main_rejects_existing_output_dir(tmp_path):
    with pytest.raises(SystemExit):
        main(["--task", "HalfCheetah-v5", "--steps", "10", "--output-dir", str(tmp_path)])


@pytest.mark.parametrize("text", ["inf", "nan", "1,,2"])
def test_parse_targets_rejects_non_finite_and_empty(text):
    with pytest.raises(argparse.ArgumentTypeError, match="finite m/s values"):
        parse_targets(text)


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["--task", "NoSuchTask-v9"], "unknown task 'NoSuchTask-v9'"),
        (["--task", "InvertedPendulum-v5", "--speed-targets", "1"], "InvertedPendulum-v5 has none"),
        (["--task", "HalfCheetah-v5", "--safety-config", str(HOPPER_SAFE)], "not 'HalfCheetah-v5'"),
        (["--task", "HalfCheetah-v5", "--threads", "0"], "must be positive"),
    ],
)
def test_main_rejects_bad_input_before_training(tmp_path, capsys, arguments, fragment):
    output = tmp_path / "sac"
    with pytest.raises(SystemExit) as raised:
        main([*arguments, "--steps", "10", "--output-dir", str(output)])

    assert raised.value.code == 2
    assert fragment in capsys.readouterr().err
    assert not output.exists()
