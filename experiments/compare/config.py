"""The TOML file of ``ami compare``: tasks, agents, seeds and the shared evaluation schedule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym

from ami.config.loader import ConfigError, apply_override, from_dict, load_config, read_toml
from ami.config.validate import MAX_SEED, validate_config
from envs.make import check_task

AgentKind = Literal["ami", "sac", "td3", "ppo", "random", "mpc_true"]


@dataclass(frozen=True)
class AgentEntry:
    """One agent of the comparison; ``name`` labels it in tables, plots and folders."""

    name: str
    kind: AgentKind
    options: dict[str, Any] = field(default_factory=dict)
    """Runner settings for every task: constructor arguments of an SB3 algorithm or of the MPC."""
    task_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per-task settings by task id, merged over ``options``."""
    configs: dict[str, str] = field(default_factory=dict)
    """``ami`` only: the ``ami run`` config file of each task, relative to the comparison file."""
    set: tuple[str, ...] = ()
    """``ami`` only: ``KEY=VALUE`` overrides applied to every task's config, as with ``ami run --set``."""
    tasks: tuple[str, ...] = ()
    """Tasks this agent runs on, a subset of the comparison's; empty means every task."""

    def options_for(self, task: str) -> dict[str, Any]:
        return {**self.options, **self.task_options.get(task, {})}

    def runs_on(self, task: str) -> bool:
        return not self.tasks or task in self.tasks


@dataclass(frozen=True)
class CompareConfig:
    name: str = "compare"
    output_dir: str = "runs/compare"
    """Folder of the comparison: per-run folders, ``results.csv``, ``summary.md`` and plots."""
    tasks: dict[str, int] = field(default_factory=dict)
    """Env steps of training per Gymnasium task id."""
    seeds: tuple[int, ...] = (0, 1, 2)
    eval_every: int = 1_000
    """Env steps between evaluations, the same for every agent."""
    eval_episodes: int = 5
    """Deterministic episodes per evaluation; episode i starts from ``reset(seed=seed + 10000 + i)``."""
    budgets: tuple[int, ...] = ()
    """Env steps at which ``summary.md`` reports the return; each must be a multiple of ``eval_every``."""
    workers: int = 1
    """Runs trained at once in separate processes."""
    num_threads: int = 1
    """PyTorch threads per run; keep ``workers * num_threads`` at or below the number of cores."""
    agents: tuple[AgentEntry, ...] = ()


def load_compare_config(path: str | Path, overrides: Sequence[str] = ()) -> CompareConfig:
    """Read, override, type-check and validate a comparison file; raise ConfigError naming the problem."""
    path = Path(path)
    raw = read_toml(path)
    for override in overrides:
        apply_override(raw, override)
    config = from_dict(CompareConfig, raw)
    config = resolve_config_paths(config, path.parent)
    validate_compare_config(config)
    return config


def resolve_config_paths(config: CompareConfig, base: Path) -> CompareConfig:
    """Make the ``ami`` config paths absolute, relative to the comparison file's folder."""
    agents = []
    for agent in config.agents:
        # Path.joinpath keeps an absolute second part as it is.
        configs = {task: str((base / file).resolve()) for task, file in agent.configs.items()}
        agents.append(replace(agent, configs=configs))
    return replace(config, agents=tuple(agents))


def validate_compare_config(config: CompareConfig) -> None:
    if not config.tasks:
        raise ConfigError("no tasks in the comparison; add a [tasks] table of task id = env steps, e.g. \"InvertedPendulum-v5\" = 10000")
    if not config.agents:
        raise ConfigError("no agents in the comparison; add at least one [[agents]] table with a name and a kind")
    if not config.seeds:
        raise ConfigError("'seeds' is empty; list at least one seed, e.g. seeds = [0, 1, 2]")
    for key, value in {"eval_every": config.eval_every, "eval_episodes": config.eval_episodes, "workers": config.workers, "num_threads": config.num_threads}.items():
        if value < 1:
            raise ConfigError(f"invalid value {value!r} for {key!r}; it must be a positive integer")
    if any(not 0 <= seed <= MAX_SEED for seed in config.seeds):
        raise ConfigError(f"invalid value {list(config.seeds)!r} for 'seeds'; each seed must be between 0 and 2**32 - 1")
    if not config.output_dir.strip():
        raise ConfigError("'output_dir' is empty; name the folder of the comparison, e.g. output_dir = \"runs/compare\"")
    if len(set(config.seeds)) != len(config.seeds):
        raise ConfigError(f"'seeds' lists a seed twice: {list(config.seeds)!r}")

    for task, steps in config.tasks.items():
        check_task(task, key="[tasks]")
        check_continuous_actions(task)
        if steps < config.eval_every:
            raise ConfigError(f"invalid value {steps!r} for tasks.{task!r}; it must be at least eval_every={config.eval_every}")
    for budget in config.budgets:
        if budget < 1 or budget % config.eval_every:
            raise ConfigError(f"invalid budget {budget!r} in 'budgets'; each must be a positive multiple of eval_every={config.eval_every}")
        if budget > max(config.tasks.values()):
            raise ConfigError(f"invalid budget {budget!r} in 'budgets'; it exceeds the env steps of every task")
    if len(set(config.budgets)) != len(config.budgets):
        raise ConfigError(f"'budgets' lists a budget twice: {list(config.budgets)!r}")

    names = [agent.name for agent in config.agents]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"agent name {name!r} is used twice; give every [[agents]] entry its own name")
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(f"invalid agent name {name!r}; use letters, digits, '_' and '-' only, because it names folders")
    for agent in config.agents:
        validate_agent(agent, config)
    check_unique_labels(config)


def policy_labels(agent: AgentEntry) -> list[str]:
    """Labels of an agent's evaluated policies: the AMI agent has one per acting mode."""
    if agent.kind == "ami":
        return [f"{agent.name}_reactive", f"{agent.name}_deliberative"]
    return [agent.name]


def check_unique_labels(config: CompareConfig) -> None:
    seen: dict[str, str] = {}
    for agent in config.agents:
        for label in policy_labels(agent):
            if label in seen:
                raise ConfigError(
                    f"agent name {agent.name!r} clashes with the label {label!r} of agent {seen[label]!r}; "
                    "the AMI agent is reported as <name>_reactive and <name>_deliberative, so rename one of them"
                )
            seen[label] = agent.name


def check_continuous_actions(task: str) -> None:
    """Raise ConfigError unless ``task`` has a continuous Box action space, as every agent needs."""
    env = gym.make(task)
    try:
        if not isinstance(env.action_space, gym.spaces.Box):
            raise ConfigError(f"task {task!r} has action space {env.action_space}; the agents need a continuous Box action space")
    finally:
        env.close()


def validate_agent(agent: AgentEntry, config: CompareConfig) -> None:
    unknown_tasks = sorted(set(agent.task_options) - set(config.tasks))
    if unknown_tasks:
        raise ConfigError(f"agent {agent.name!r} has task_options for {unknown_tasks}, which are not in [tasks]; add them there or remove them here")
    unknown_tasks = sorted(set(agent.tasks) - set(config.tasks))
    if unknown_tasks:
        raise ConfigError(f"agent {agent.name!r} lists tasks {unknown_tasks}, which are not in [tasks]; add them there or remove them here")
    if agent.kind != "ami":
        if agent.configs or agent.set:
            raise ConfigError(f"agent {agent.name!r} of kind {agent.kind!r} cannot take 'configs' or 'set'; they are for kind 'ami'")
        for task in config.tasks:
            if agent.runs_on(task):
                check_agent_options(agent, task)
        return

    extra = sorted(set(agent.configs) - set(config.tasks))
    if extra:
        raise ConfigError(f"agent {agent.name!r} has configs for {extra}, which are not in [tasks]; add them there or remove them here")
    missing = [task for task in config.tasks if agent.runs_on(task) and task not in agent.configs]
    if missing:
        raise ConfigError(f"agent {agent.name!r} has no ami config for {missing}; add them to its 'configs' table, task id = config file")
    for task, file in agent.configs.items():
        if not Path(file).is_file():
            raise ConfigError(f"config file not found for agent {agent.name!r} on {task!r}: {file!r}")
        # The same step settings as the run itself gets from the comparison (see ami_runner.run_ami).
        overrides = [
            *agent.set, f"env.task={task}", f"train.total_steps={config.tasks[task]}", f"train.eval_every={config.eval_every}",
        ]
        try:
            run_config = load_config(file, overrides)
            validate_config(run_config)
        except ConfigError as error:
            raise ConfigError(f"agent {agent.name!r} on {task!r}: {error}") from None
        num_envs = run_config.env.num_envs
        if config.eval_every % num_envs:
            raise ConfigError(
                f"agent {agent.name!r} on {task!r}: eval_every={config.eval_every} is not a multiple of env.num_envs={num_envs}, "
                "so its evaluations would land on other env steps than the other agents'; make eval_every a multiple of it"
            )


def check_agent_options(agent: AgentEntry, task: str) -> None:
    """Check a baseline's option names and value types (and the MPC's values) before any run starts."""
    options = agent.options_for(task)
    try:
        if agent.kind in ("sac", "td3", "ppo"):
            from agents.sb3_baselines import check_options

            check_options(agent.kind, options)
        elif agent.kind == "mpc_true":
            from agents.mujoco_rewards import REWARD_CLASSES
            from agents.true_sim_mpc import TrueSimMPCConfig

            TrueSimMPCConfig.from_options(options)
            if task not in REWARD_CLASSES:
                raise ValueError(
                    f"the true-simulator MPC has no reward for {task!r}; it supports {', '.join(REWARD_CLASSES)}. "
                    "Limit the agent with its 'tasks' list"
                )
        elif options:
            raise ValueError(f"kind {agent.kind!r} takes no options, got {sorted(options)}")
    except (ValueError, TypeError) as error:
        raise ConfigError(f"agent {agent.name!r} on {task!r}: {error}") from None
