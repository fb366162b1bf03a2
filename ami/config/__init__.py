"""Typed run configuration, its TOML loader and its validation."""

from ami.config.loader import ConfigError, apply_override, dump_toml, from_dict, load_config, to_dict
from ami.config.schema import (
    ActorConfig,
    ConfiguratorConfig,
    CostConfig,
    CriticConfig,
    EnvConfig,
    MemoryConfig,
    PerceptionConfig,
    PlannerConfig,
    PolicyConfig,
    RunConfig,
    TrainConfig,
    WorldModelConfig,
)

__all__ = [
    "ActorConfig",
    "ConfigError",
    "ConfiguratorConfig",
    "CostConfig",
    "CriticConfig",
    "EnvConfig",
    "MemoryConfig",
    "PerceptionConfig",
    "PlannerConfig",
    "PolicyConfig",
    "RunConfig",
    "TrainConfig",
    "WorldModelConfig",
    "apply_override",
    "dump_toml",
    "from_dict",
    "load_config",
    "to_dict",
]
