"""Range checks across config fields, beyond what the types enforce."""

from __future__ import annotations

import math
import os

from ami.config.loader import ConfigError
from ami.config.hierarchy import validate_goal, validate_hierarchy
from ami.config.schema import RunConfig
from ami.config.validate_pixels import validate_pixels
from ami.cost.build import parse_term_tables


MAX_SEED = 2**32 - 1
"""Largest seed that NumPy and Gymnasium accept."""


def validate_config(config: RunConfig) -> None:
    """Raise ConfigError naming the first field whose value is out of range."""
    train, world_model, memory = config.train, config.world_model, config.memory
    if not 0 <= config.seed <= MAX_SEED:
        raise ConfigError(f"invalid value {config.seed!r} for 'seed'; it must be between 0 and 2**32 - 1")
    if not config.runs_dir.strip():
        raise ConfigError("'runs_dir' is empty; give the folder that collects run folders, e.g. runs_dir = \"runs\"")
    positive = {
        "train.total_steps": train.total_steps,
        "train.eval_every": train.eval_every,
        "train.eval_episodes": train.eval_episodes,
        "train.log_every": train.log_every,
        "train.max_nonfinite_updates": train.max_nonfinite_updates,
        "train.updates_per_step": train.updates_per_step,
        "env.num_envs": config.env.num_envs,
        "train.learning_rate": train.learning_rate,
        "train.encoder_lr_scale": train.encoder_lr_scale,
        "train.grad_clip_norm": train.grad_clip_norm,
        "memory.batch_size": memory.batch_size,
        "world_model.horizon": world_model.horizon,
        "perception.latent_dim": config.perception.latent_dim,
        "cost.critic.num_critics": config.cost.critic.num_critics,
    }
    if train.checkpoint_every < 0:
        raise ConfigError(
            f"invalid value {train.checkpoint_every!r} for 'train.checkpoint_every'; it must be >= 0 (0 saves only at the end)"
        )
    if config.num_threads < 0:
        raise ConfigError(f"invalid value {config.num_threads!r} for 'num_threads'; it must be >= 0 (0 keeps PyTorch's default)")
    cpus = usable_cpus()
    if config.num_threads > cpus:
        raise ConfigError(
            f"invalid value {config.num_threads!r} for 'num_threads'; this process may use {cpus} CPU(s), "
            f"so set 1 to {cpus}, or 0 for PyTorch's default"
        )
    if memory.capacity != "auto":
        positive["memory.capacity"] = memory.capacity
    for key, value in positive.items():
        # "not value > 0" also rejects NaN.
        if not (value > 0 and math.isfinite(value)):
            raise ConfigError(f"invalid value {value!r} for {key!r}; it must be a positive, finite number")

    for key, dims in {
        "perception.hidden_dims": config.perception.hidden_dims,
        "world_model.hidden_dims": world_model.hidden_dims,
        "cost.critic.hidden_dims": config.cost.critic.hidden_dims,
        "actor.policy.hidden_dims": config.actor.policy.hidden_dims,
    }.items():
        if any(d <= 0 for d in dims):
            raise ConfigError(f"invalid value {list(dims)!r} for {key!r}; every layer size must be positive")

    unit_interval = {
        "world_model.rho": world_model.rho,
        "world_model.target_tau": world_model.target_tau,
        "cost.critic.target_tau": config.cost.critic.target_tau,
    }
    for key, value in unit_interval.items():
        if not 0 < value <= 1:
            raise ConfigError(f"invalid value {value!r} for {key!r}; it must be in (0, 1]")

    for name, weight in config.cost.intrinsic.items():
        if not (math.isfinite(weight) and weight >= 0):
            raise ConfigError(f"invalid value {weight!r} for 'cost.intrinsic.{name}'; a cost weight must be finite and >= 0")
    if not math.isfinite(config.cost.task_weight):
        raise ConfigError(f"invalid value {config.cost.task_weight!r} for 'cost.task_weight'; it must be finite")
    planner = config.actor.planner
    if planner.cuda_graphs and not planner.compile:
        raise ConfigError("'actor.planner.cuda_graphs' needs actor.planner.compile = true, because torch.compile captures the graphs")
    if config.cost.discount != "auto" and not 0 < config.cost.discount < 1:
        raise ConfigError(f"invalid value {config.cost.discount!r} for 'cost.discount'; it must be in (0, 1) or 'auto'")
    if train.seed_steps < world_model.horizon:
        raise ConfigError(
            f"invalid value {train.seed_steps!r} for 'train.seed_steps'; it must be at least "
            f"world_model.horizon={world_model.horizon} so that the first update can sample a sub-trajectory"
        )
    if train.seed_steps > train.total_steps:
        raise ConfigError(
            f"invalid value {train.seed_steps!r} for 'train.seed_steps'; it exceeds train.total_steps="
            f"{train.total_steps}, so the agent would never be updated"
        )
    validate_num_envs(config)
    if memory.capacity != "auto" and memory.capacity < world_model.horizon:
        raise ConfigError(
            f"invalid value {memory.capacity!r} for 'memory.capacity'; it must hold at least "
            f"world_model.horizon={world_model.horizon} steps to sample one sub-trajectory"
        )
    capacity = train.total_steps if memory.capacity == "auto" else memory.capacity
    if memory.batch_size > capacity:
        raise ConfigError(
            f"invalid value {memory.batch_size!r} for 'memory.batch_size'; it exceeds the replay capacity of {capacity} steps "
            "(memory.capacity, which defaults to train.total_steps)"
        )
    if config.env.max_episode_steps < 0:
        raise ConfigError(
            f"invalid value {config.env.max_episode_steps!r} for 'env.max_episode_steps'; use a positive limit, or 0 for the task's own"
        )
    if len(set(train.eval_modes)) != len(train.eval_modes):
        raise ConfigError(f"'train.eval_modes' lists a mode twice: {list(train.eval_modes)!r}")
    if train.pretrain_updates != "auto" and train.pretrain_updates < 0:
        raise ConfigError(f"invalid value {train.pretrain_updates!r} for 'train.pretrain_updates'; it must be >= 0 or 'auto'")
    if not train.eval_modes:
        raise ConfigError("'train.eval_modes' is empty; list at least one of 'reactive', 'deliberative'")
    if config.actor.policy.log_std_min >= config.actor.policy.log_std_max:
        raise ConfigError("'actor.policy.log_std_min' must be below 'actor.policy.log_std_max'")
    distill_coef = config.actor.policy.distill_coef
    if not (math.isfinite(distill_coef) and distill_coef >= 0):
        raise ConfigError(f"invalid value {distill_coef!r} for 'actor.policy.distill_coef'; it must be finite and >= 0 (0 turns it off)")
    if distill_coef > 0 and (memory.replay != "trajectory" or config.env.pixels):
        # The frame replay, which pixel observations use, stores no planned actions.
        replay = "frames (env.pixels = true)" if config.env.pixels else repr(memory.replay)
        raise ConfigError(
            f"'actor.policy.distill_coef' = {distill_coef!r} needs the 'trajectory' replay of state observations, which stores "
            f"the planned actions, but this run uses the {replay} replay; set actor.policy.distill_coef = 0"
        )
    validate_hierarchy(config)
    validate_goal(config)
    validate_cost(config)
    validate_pixels(config)


def validate_num_envs(config: RunConfig) -> None:
    """Raise ConfigError unless the step counts split evenly over ``env.num_envs`` envs.

    One vector step advances every env, so the counters move by ``num_envs`` env steps at a time.
    """
    num_envs, train = config.env.num_envs, config.train
    if num_envs == 1:
        return
    for key, value in {"train.total_steps": train.total_steps, "train.seed_steps": train.seed_steps}.items():
        if value % num_envs != 0:
            raise ConfigError(
                f"invalid value {value!r} for {key!r}; with env.num_envs={num_envs} it must be a multiple of {num_envs}, "
                "because each vector step counts one env step per env"
            )
    horizon = config.world_model.horizon
    if train.seed_steps < horizon * num_envs:
        raise ConfigError(
            f"invalid value {train.seed_steps!r} for 'train.seed_steps'; with env.num_envs={num_envs} it must be at least "
            f"world_model.horizon * num_envs = {horizon * num_envs}, so that the seed steps store sub-trajectories of every env"
        )
    capacity = train.total_steps if config.memory.capacity == "auto" else config.memory.capacity
    if capacity // num_envs < horizon:
        raise ConfigError(
            f"invalid value {config.memory.capacity!r} for 'memory.capacity'; the replay keeps capacity // env.num_envs = "
            f"{capacity // num_envs} steps per env, fewer than world_model.horizon={horizon}"
        )


def validate_cost(config: RunConfig) -> None:
    """Raise ConfigError naming the first invalid field of the cost terms or of the mode budget."""
    validate_cost_section(config.cost)
    budget = config.configurator.deliberation_budget
    if not 0 <= budget <= 1:
        raise ConfigError(f"invalid value {budget!r} for 'configurator.deliberation_budget'; it must be in [0, 1], the target share of deliberative steps")


def validate_cost_section(cost: CostConfig) -> None:
    """Raise ConfigError naming the first invalid field of a cost section; a new cost at evaluation is checked by this too."""
    if not (math.isfinite(cost.critic_weight) and cost.critic_weight >= 0):
        raise ConfigError(f"invalid value {cost.critic_weight!r} for 'cost.critic_weight'; it must be finite and >= 0")
    if any(d <= 0 for d in cost.quantity_hidden_dims):
        raise ConfigError(f"invalid value {list(cost.quantity_hidden_dims)!r} for 'cost.quantity_hidden_dims'; every layer size must be positive")
    for name, weight in cost.intrinsic.items():
        if not (math.isfinite(weight) and weight >= 0):
            raise ConfigError(f"invalid value {weight!r} for 'cost.intrinsic.{name}'; a cost weight must be finite and >= 0")
    if not math.isfinite(cost.task_weight):
        raise ConfigError(f"invalid value {cost.task_weight!r} for 'cost.task_weight'; it must be finite")
    if cost.discount != "auto" and not 0 < cost.discount < 1:
        raise ConfigError(f"invalid value {cost.discount!r} for 'cost.discount'; it must be in (0, 1) or 'auto'")
    parse_term_tables(cost)


def usable_cpus() -> int:
    """Return the number of CPUs this process may run on: its affinity mask where the OS reports one."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
