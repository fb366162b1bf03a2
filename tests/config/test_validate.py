"""Range checks of ``ami.config.validate.validate_config``."""

from __future__ import annotations

import pytest

from ami.config import ConfigError, load_config
from ami.config.validate import usable_cpus, validate_config
from tests.tiny import DEBUG_CONFIG

# Each case: overrides and the exact message of the first range error.
RANGE_ERRORS = {
    "total_steps_zero": (
        ["train.total_steps=0"],
        "invalid value 0 for 'train.total_steps'; it must be a positive, finite number",
    ),
    "learning_rate_negative": (
        ["train.learning_rate=-0.001"],
        "invalid value -0.001 for 'train.learning_rate'; it must be a positive, finite number",
    ),
    "batch_size_zero": (
        ["memory.batch_size=0"],
        "invalid value 0 for 'memory.batch_size'; it must be a positive, finite number",
    ),
    "intrinsic_weight_nan": (
        ["cost.intrinsic={action_energy=nan}"],
        "invalid value nan for 'cost.intrinsic.action_energy'; a cost weight must be finite and >= 0",
    ),
    "batch_larger_than_replay": (
        ["memory.batch_size=100000000"],
        "invalid value 100000000 for 'memory.batch_size'; it exceeds the replay capacity of 10000 steps "
        "(memory.capacity, which defaults to train.total_steps)",
    ),
    "cuda_graphs_without_compile": (
        ["actor.planner.cuda_graphs=true"],
        "'actor.planner.cuda_graphs' needs actor.planner.compile = true, because torch.compile captures the graphs",
    ),
    "num_threads_beyond_cpus": (
        ["num_threads=100000"],
        f"invalid value 100000 for 'num_threads'; this process may use {usable_cpus()} CPU(s), "
        f"so set 1 to {usable_cpus()}, or 0 for PyTorch's default",
    ),
    "random_shift_beyond_image": (
        ["env.pixels=true", 'perception.name="conv"', "env.image_size=16", "perception.random_shift=40"],
        "invalid value 40 for 'perception.random_shift'; it shifts frames by up to that many pixels, "
        "so it must be below env.image_size = 16",
    ),
    "frame_stack_zero": (
        ["env.pixels=true", 'perception.name="conv"', "env.frame_stack=0"],
        "invalid value 0 for 'env.frame_stack'; it must be at least 1",
    ),
    "capacity_zero": (
        ["memory.capacity=0"],
        "invalid value 0 for 'memory.capacity'; it must be a positive, finite number",
    ),
    "num_critics_zero": (
        ["cost.critic.num_critics=0"],
        "invalid value 0 for 'cost.critic.num_critics'; it must be a positive, finite number",
    ),
    "hidden_layer_zero": (
        ["world_model.hidden_dims=[32, 0]"],
        "invalid value [32, 0] for 'world_model.hidden_dims'; every layer size must be positive",
    ),
    "rho_above_one": (
        ["world_model.rho=1.5"],
        "invalid value 1.5 for 'world_model.rho'; it must be in (0, 1]",
    ),
    "critic_tau_zero": (
        ["cost.critic.target_tau=0.0"],
        "invalid value 0.0 for 'cost.critic.target_tau'; it must be in (0, 1]",
    ),
    "discount_one": (
        ["cost.discount=1.0"],
        "invalid value 1.0 for 'cost.discount'; it must be in (0, 1) or 'auto'",
    ),
    "seed_steps_below_horizon": (
        ["train.seed_steps=2", "world_model.horizon=3"],
        "invalid value 2 for 'train.seed_steps'; it must be at least world_model.horizon=3 "
        "so that the first update can sample a sub-trajectory",
    ),
    "pretrain_updates_negative": (
        ["train.pretrain_updates=-1"],
        "invalid value -1 for 'train.pretrain_updates'; it must be >= 0 or 'auto'",
    ),
    "eval_modes_empty": (
        ["train.eval_modes=[]"],
        "'train.eval_modes' is empty; list at least one of 'reactive', 'deliberative'",
    ),
    "seed_negative": (
        ["seed=-1"],
        "invalid value -1 for 'seed'; it must be between 0 and 2**32 - 1",
    ),
    "learning_rate_nan": (
        ["train.learning_rate=nan"],
        "invalid value nan for 'train.learning_rate'; it must be a positive, finite number",
    ),
    "encoder_lr_scale_negative": (
        ["train.encoder_lr_scale=-1.0"],
        "invalid value -1.0 for 'train.encoder_lr_scale'; it must be a positive, finite number",
    ),
    "seed_steps_above_total": (
        ["train.total_steps=300", "train.seed_steps=1000"],
        "invalid value 1000 for 'train.seed_steps'; it exceeds train.total_steps=300, so the agent would never be updated",
    ),
    "capacity_below_horizon": (
        ["memory.capacity=2", "world_model.horizon=3"],
        "invalid value 2 for 'memory.capacity'; it must hold at least world_model.horizon=3 steps to sample one sub-trajectory",
    ),
    "max_episode_steps_negative": (
        ["env.max_episode_steps=-5"],
        "invalid value -5 for 'env.max_episode_steps'; use a positive limit, or 0 for the task's own",
    ),
    "eval_modes_repeated": (
        ['train.eval_modes=["reactive", "reactive"]'],
        "'train.eval_modes' lists a mode twice: ['reactive', 'reactive']",
    ),
    "runs_dir_empty": (
        ['runs_dir=""'],
        "'runs_dir' is empty; give the folder that collects run folders, e.g. runs_dir = \"runs\"",
    ),
    "log_std_range_inverted": (
        ["actor.policy.log_std_min=3.0"],
        "'actor.policy.log_std_min' must be below 'actor.policy.log_std_max'",
    ),
}


@pytest.mark.parametrize(("overrides", "expected"), RANGE_ERRORS.values(), ids=RANGE_ERRORS.keys())
def test_range_error(overrides, expected):
    config = load_config(None, overrides)

    with pytest.raises(ConfigError) as raised:
        validate_config(config)

    assert str(raised.value) == expected


@pytest.mark.parametrize("path", [None, DEBUG_CONFIG], ids=["defaults", "debug"])
def test_valid_config_passes(path):
    validate_config(load_config(path))


def test_boundary_values_pass():
    config = load_config(
        None,
        ["world_model.rho=1.0", "world_model.target_tau=1.0", "train.pretrain_updates=0", "train.seed_steps=3"],
    )

    validate_config(config)
