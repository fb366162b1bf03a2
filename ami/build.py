"""Wire the six AMI modules from a config, looking each one up in its registry."""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from typing import Any

import torch

from ami.actor.actor import Actor
from ami.actor.base import PLANNERS, POLICIES
from ami.actor.memory import activation_width, check_planner_memory
from ami.config.loader import ConfigError
from ami.config.schema import RunConfig
from ami.config.hierarchy import validate_sequence_length
from ami.configurator.base import CONFIGURATORS, Configurator
from ami.cost.base import CRITICS
from ami.cost.build import build_cost_module
from ami.cost.module import CostModule
from ami.memory.base import REPLAY_BUFFERS, ReplayBuffer
from ami.memory.short_term import ShortTermMemory, middle_of_action_range
from ami.perception.base import ENCODERS
from ami.registry import Registry, import_plugins
from ami.spec import TaskSpec
from ami.world_model.base import WORLD_MODELS, WorldModel

logger = logging.getLogger(__name__)


@dataclass
class Modules:
    """The six modules of one agent, on one device."""

    configurator: Configurator
    world_model: WorldModel
    cost: CostModule
    actor: Actor
    memory: ShortTermMemory
    replay: ReplayBuffer


def build_modules(config: RunConfig, spec: TaskSpec, device: torch.device) -> Modules:
    """Build every module named in ``config`` for the task ``spec`` and move it to ``device``.

    Unknown names raise ``RegistryError`` listing the valid ones; the config's ``imports`` are
    imported first so that user-registered classes are found.
    """
    import_plugins(config.imports)
    configurator = instantiate(CONFIGURATORS, config.configurator.name, "configurator.name", config, spec, **config.configurator.options)
    settings = configurator.settings

    perception = config.perception
    encoder = instantiate(ENCODERS, perception.name, "perception.name", perception, spec, **perception.options)
    world_model = instantiate(
        WORLD_MODELS, config.world_model.name, "world_model.name", config.world_model, spec, encoder=encoder, **config.world_model.options
    )
    validate_sequence_length(config, world_model.required_sequence_length, config.env.num_envs)

    critic_config = config.cost.critic
    critic = instantiate(
        CRITICS, critic_config.name, "cost.critic.name", critic_config, encoder.latent_dim, spec.action_dim, **critic_config.options
    )
    cost = build_cost_module(config.cost, spec, world_model, critic, settings.discount)

    policy_config, planner_config = config.actor.policy, config.actor.planner
    policy = instantiate(POLICIES, policy_config.name, "actor.policy.name", policy_config, spec, encoder.latent_dim, **policy_config.options)
    planner = instantiate(PLANNERS, planner_config.name, "actor.planner.name", planner_config, spec, **planner_config.options)
    planner.check_world_model(world_model)
    actor = Actor(policy, planner)

    # Only vector runs pass num_envs, so replay classes written for one env keep working.
    replay_options = {"num_envs": config.env.num_envs} if config.env.num_envs > 1 else {}
    replay_name, obs_size = replay_for_observations(config.memory.replay, spec)
    replay = instantiate(
        REPLAY_BUFFERS, replay_name, "memory.replay",
        settings.replay_capacity, obs_size, spec.action_dim, device, config.seed, **replay_options,
    )
    memory = ShortTermMemory(config.memory.context_length, middle_of_action_range(spec.action_low, spec.action_high, device))

    world_model.to(device)
    cost.to(device)
    actor.to(device)
    check_planner_fits(planner, world_model, cost, policy, config.env.num_envs, device)
    logger.info(
        "built modules: encoder=%s world_model=%s critic=%s policy=%s planner=%s replay=%s on %s",
        perception.name, config.world_model.name, critic_config.name, policy_config.name,
        planner_config.name, replay_name, device,
    )
    modules = Modules(configurator, world_model, cost, actor, memory, replay)
    configurator.attach(modules)
    return modules


def replay_for_observations(name: str, spec: TaskSpec) -> tuple[str, int | tuple[int, ...]]:
    """Return the replay class to build for ``spec``'s observations and its observation-size argument.

    For pixel observations the default ``trajectory`` replay, which would store every frame
    stack twice as float32, becomes the ``frames`` replay, and any replay class receives the
    observation shape ``(frames, height, width, 3)`` in place of ``obs_dim``.
    """
    if not spec.pixels:
        return name, spec.obs_dim
    if name == "trajectory":
        logger.info("pixel observations: storing them in the 'frames' replay, which keeps each frame once as uint8")
        name = "frames"
    return name, spec.obs_shape


def instantiate(registry: Registry, name: str, key: str, *args: Any, **kwargs: Any) -> Any:
    """Build ``registry[name](*args, **kwargs)``; a config-made mismatch raises ConfigError naming ``key``.

    The arguments are bound to the constructor's signature first, so an unknown entry in a
    section's ``options`` is reported as a config error instead of a TypeError deep inside.
    """
    cls = registry.get(name, key)
    try:
        inspect.signature(cls).bind(*args, **kwargs)
    except TypeError as error:
        raise ConfigError(
            f"invalid options for {key} = {name!r} ({cls.__module__}.{cls.__qualname__}): {error}. "
            f"Constructor signature: {inspect.signature(cls)}"
        ) from None
    return cls(*args, **kwargs)


def check_planner_fits(planner, world_model, cost, policy, batch: int, device: torch.device) -> None:
    """Raise PlannerMemoryError if one planning call for ``batch`` envs does not fit in the free memory of ``device``."""
    width = activation_width(world_model, cost, policy)
    check_planner_memory(planner.memory_estimate(batch, world_model.latent_dim, width), batch, device)
