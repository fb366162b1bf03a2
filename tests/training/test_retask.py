"""Re-tasking a saved run with ``ami eval --cost``, and resolving a new cost section.

The run trains on HalfCheetah-v5 for 400 env steps (200 seed steps, 100-step episodes) with the
adaptive configurator and a safety limit on the tip angle. Its checkpoint therefore contains a
tip-angle head but no x-velocity head, so a speed cost at evaluation has to fit that head from
the replay.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from ami.config import ConfigError, load_config
from ami.training.retask import resolve_new_cost
from experiments.cli import main
from tests.tiny import DEBUG_CONFIG, REPO_ROOT

SPEED_COST = REPO_ROOT / "experiments" / "costs" / "half_cheetah_speed_2.toml"
BACKWARD_COST = REPO_ROOT / "experiments" / "costs" / "half_cheetah_backward.toml"
EPISODE_STEPS = 100
FLIP_LIMIT = 'cost.safety={flip={term="quantity_range",quantity="tip_angle",low=-1.0,high=1.0,weight=1.0}}'


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    runs_dir = tmp_path_factory.mktemp("runs")
    overrides = [
        f"runs_dir={runs_dir}", "env.task=HalfCheetah-v5", f"env.max_episode_steps={EPISODE_STEPS}",
        "world_model.termination_head=false", "configurator.name=adaptive", "train.total_steps=400",
        "train.seed_steps=200", "train.eval_every=400", "train.log_every=100", FLIP_LIMIT,
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        exit_code = main(["run", str(DEBUG_CONFIG), "--quiet", *[arg for o in overrides for arg in ("--set", o)]])
    assert exit_code == 0
    (run,) = (runs_dir / "HalfCheetah-v5").iterdir()
    return run


def eval_json(capsys, *args: str) -> dict:
    exit_code = main(["eval", *map(str, args)])
    captured = capsys.readouterr()
    assert exit_code == 0, captured.err
    return json.loads(captured.out)


def test_run_logs_adaptive_and_head_metrics(run_dir):
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    tags = events.Tags()["scalars"]

    for tag in [
        "configurator/deliberative_share",
        "configurator/switches",
        "configurator/uncertainty_threshold",
        "plan/ms_per_action/reactive",
        "plan/ms_per_action/deliberative",
        "quantity/tip_angle/rmse",
        "safety/flip/violation_rate",
        "cost/safety/flip",
    ]:
        assert tag in tags, tag
    share = events.Scalars("configurator/deliberative_share")[-1].value
    assert 0 < share < 1


def test_eval_speed_cost_fits_missing_head(run_dir, capsys):
    output = eval_json(capsys, run_dir, "--cost", SPEED_COST, "--episodes", "1", "--fit-steps", "100")

    heads = output["quantity_heads"]
    assert heads["tip_angle"]["source"] == "checkpoint"
    assert heads["x_velocity"]["source"] == "fitted"
    assert np.isfinite(heads["x_velocity"]["rmse"])
    assert heads["x_velocity"]["target_std"] > 0
    assert output["cost"]["terms"]["speed"]["options"] == "target=2.0, form=absolute"
    assert output["cost"]["task_weight"] == 0.0
    assert output["cost"]["safety"]["flip"]["weight"] == 1.0


def test_eval_speed_cost_reports_measures(run_dir, capsys):
    output = eval_json(capsys, run_dir, "--cost", SPEED_COST, "--episodes", "2", "--fit-steps", "100")

    assert list(output["eval"]) == ["deliberative"]
    result = output["eval"]["deliberative"]
    assert len(result["episodes"]) == 2
    for episode in result["episodes"]:
        assert episode["length"] == EPISODE_STEPS
        # mean |v - 2| is at least |mean v - 2| (Jensen's inequality).
        assert episode["speed_error"]["speed"] >= abs(episode["mean_x_velocity"] - 2.0) - 1e-9
        assert episode["safety_violations"]["flip"] >= 0
    assert result["mean_x_velocity"] == pytest.approx(np.mean([e["mean_x_velocity"] for e in result["episodes"]]))
    assert result["deliberative_share"] == 1.0
    assert set(result["ms_per_action"]) == {"deliberative"}
    assert set(result["cost_terms"]) == {"task", "speed", "action_energy", "safety/flip", "critic", "total"}
    assert result["cost_terms"]["task"] == 0.0
    assert result["cost_terms"]["critic"] == 0.0


def test_eval_refit_trains_critic_for_new_cost(run_dir, capsys):
    output = eval_json(
        capsys, run_dir, "--cost", SPEED_COST, "--cost-set", "critic_weight=1.0", "--refit-steps", "60",
        "--mode", "both", "--episodes", "1", "--fit-steps", "50",
    )

    refit = output["refit"]
    assert refit["steps"] == 60
    assert np.isfinite(refit["critic_loss"])
    # Every step cost of the new cost is >= 0 (|v - 2|, action energy, the flip limit), so its
    # cost-to-go is positive, unlike that of the training cost (negative reward).
    assert refit["cost_to_go"] > 0
    assert list(output["eval"]) == ["reactive", "deliberative"]
    assert output["eval"]["deliberative"]["cost_terms"]["critic"] > 0


def test_eval_without_refit_reports_none(run_dir, capsys):
    output = eval_json(capsys, run_dir, "--measure", "--mode", "reactive", "--episodes", "1")

    assert output["refit"] is None


def test_eval_refit_divergence_is_one_line(run_dir, capsys):
    exit_code = main([
        "eval", str(run_dir), "--cost", str(SPEED_COST), "--cost-set", "terms.speed.weight=1e38", "--cost-set", "critic_weight=1",
        "--refit-steps", "20", "--episodes", "1", "--fit-steps", "20",
    ])

    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("ami eval: error:")]
    assert exit_code == 2
    assert len(errors) == 1
    assert "refitting the critic to the new cost diverged" in errors[0]
    assert "lower its weights or targets" in errors[0]


@pytest.mark.parametrize("steps", ["0", "2.5"])
def test_eval_refit_steps_must_be_positive(run_dir, capsys, steps):
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", str(run_dir), "--cost", str(SPEED_COST), "--refit-steps", steps])

    assert exit_info.value.code == 2
    assert f"argument --refit-steps: must be a positive integer, got '{steps}'" in capsys.readouterr().err


def test_eval_warns_about_training_critic(run_dir, capsys):
    exit_code = main(["eval", str(run_dir), "--cost", str(SPEED_COST), "--cost-set", "critic_weight=1", "--episodes", "1", "--fit-steps", "20"])

    assert exit_code == 0
    assert "keeps the critic (weight 1), which learned the training cost's cost-to-go" in capsys.readouterr().err


def test_eval_refit_needs_new_cost(run_dir, capsys):
    exit_code = main(["eval", str(run_dir), "--refit-steps", "10"])

    assert exit_code == 2
    assert "--refit-steps 10 needs a new cost" in capsys.readouterr().err


def test_eval_cost_set_changes_target(run_dir, capsys):
    output = eval_json(
        capsys, run_dir, "--cost", SPEED_COST, "--cost-set", "terms.speed.target=-1.0", "--episodes", "1", "--fit-steps", "50"
    )

    result = output["eval"]["deliberative"]
    assert output["cost"]["terms"]["speed"]["options"] == "target=-1.0, form=absolute"
    assert result["speed_error"]["speed"] >= abs(result["mean_x_velocity"] + 1.0) - 1e-9


def test_eval_backward_cost(run_dir, capsys):
    output = eval_json(capsys, run_dir, "--cost", BACKWARD_COST, "--episodes", "1", "--fit-steps", "50")

    assert output["cost"]["terms"]["backward"]["options"] == "angle=180.0"
    assert "backward" in output["eval"]["deliberative"]["cost_terms"]
    assert output["eval"]["deliberative"]["speed_error"] == {}


def test_eval_measure_keeps_run_cost(run_dir, capsys):
    output = eval_json(capsys, run_dir, "--measure", "--mode", "deliberative", "--episodes", "1")

    result = output["eval"]["deliberative"]
    assert list(output["eval"]) == ["deliberative"]
    assert output["cost"]["task_weight"] == 1.0
    assert "speed" not in output["cost"]["terms"]
    assert result["episodes"][0]["safety_violations"]["flip"] >= 0
    assert 0.0 <= result["upside_down_share"] <= 1.0
    assert result["cost_terms"]["task"] != 0.0


def test_eval_adaptive_mode(run_dir, capsys):
    output = eval_json(capsys, run_dir, "--mode", "adaptive", "--episodes", "1")

    result = output["eval"]["adaptive"]
    assert 0 < result["deliberative_share"] < 1
    assert set(result["ms_per_action"]) == {"reactive", "deliberative"}
    assert output["quantity_heads"] == {"tip_angle": {"source": "checkpoint"}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[terms.speed]\nterm = 'target_velocity'\ntargte = 2.0\n", "invalid options for cost.terms.speed (term 'target_velocity')"),
        ("[terms.speed]\nterm = 'target_speed'\n", "unknown cost term 'target_speed' for cost.terms.speed.term; valid choices:"),
        ("task_wieght = 0.0\n", "unknown config key 'cost.task_wieght'; valid keys here:"),
        ("[safety.flip]\nweight = 0.0\n", "invalid value 0.0 for 'cost.safety.flip.weight'; a safety weight must be positive"),
        ("[critic]\nnum_critics = 4\n", "sets cost.critic, which the checkpoint's networks fix"),
        ("[intrinsic]\ngoal_latent_distance = 1.0\n", "the run was trained without configurator.goal"),
        ("[terms.reach]\nterm = 'goal_latent_distance'\n", "cost.terms.reach needs the goal's place in the observation"),
    ],
    ids=["unknown_option", "unknown_term", "unknown_key", "safety_off", "critic_change", "goal_intrinsic", "goal_term"],
)
def test_eval_bad_cost_file(run_dir, tmp_path, capsys, text, message):
    cost_file = tmp_path / "cost.toml"
    cost_file.write_text(text)

    exit_code = main(["eval", str(run_dir), "--cost", str(cost_file), "--episodes", "1"])

    assert exit_code == 2
    assert message in capsys.readouterr().err


def test_eval_missing_cost_file(run_dir, tmp_path, capsys):
    exit_code = main(["eval", str(run_dir), "--cost", str(tmp_path / "none.toml")])

    assert exit_code == 2
    assert "config file not found" in capsys.readouterr().err


RUN_COST = load_config(None, ['cost.terms={speed={term="target_velocity",target=1.0}}', FLIP_LIMIT]).cost


def test_resolve_keeps_run_safety_and_replaces_terms(tmp_path):
    cost_file = tmp_path / "cost.toml"
    cost_file.write_text("[terms.back]\nterm = 'heading'\nangle = 180.0\n[safety.low]\nterm = 'quantity_range'\nquantity = 'tip_height'\nlow = -0.5\n")

    cost = resolve_new_cost(RUN_COST, cost_file, [])

    assert list(cost.terms) == ["back"]
    assert sorted(cost.safety) == ["flip", "low"]
    assert cost.intrinsic == RUN_COST.intrinsic


def test_resolve_changes_safety_weight_only(tmp_path):
    cost_file = tmp_path / "cost.toml"
    cost_file.write_text("[safety.flip]\nweight = 5.0\n")

    cost = resolve_new_cost(RUN_COST, cost_file, [])

    assert cost.safety["flip"] == {**RUN_COST.safety["flip"], "weight": 5.0}


def test_resolve_accepts_cost_table(tmp_path):
    cost_file = tmp_path / "cost.toml"
    cost_file.write_text("[cost]\ntask_weight = 0.5\n")

    cost = resolve_new_cost(RUN_COST, cost_file, ["terms.speed.target=3.0"])

    assert cost.task_weight == 0.5
    assert cost.terms["speed"]["target"] == 3.0


def test_resolve_rejects_dropping_safety():
    with pytest.raises(ConfigError, match=r"drops the run's safety terms \['flip'\]; safety limits cannot be switched off"):
        resolve_new_cost(RUN_COST, None, ["safety={}"])


def test_resolve_rejects_full_run_config():
    with pytest.raises(ConfigError, match=r"has keys outside its \[cost\] section: \['actor', 'env', 'name',"):
        resolve_new_cost(RUN_COST, REPO_ROOT / "experiments" / "configs" / "hopper_safe.toml", [])
