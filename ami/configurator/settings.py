"""Settings that the configurator derives from the task for config fields set to ``auto``."""

from __future__ import annotations

from dataclasses import dataclass

from ami.config.schema import RunConfig
from ami.spec import TaskSpec

MIN_DISCOUNT, MAX_DISCOUNT = 0.95, 0.99


@dataclass(frozen=True)
class ModuleSettings:
    """Resolved values of every ``auto`` field, with no ``auto`` left."""

    discount: float
    replay_capacity: int
    pretrain_updates: int


def heuristic_discount(episode_length: int) -> float:
    """Return the discount whose horizon 1 / (1 - discount) is a fifth of the episode, clipped to [0.95, 0.99].

    The rule is TD-MPC2's (Hansen et al., 2024, appendix). Its upper clip is 0.995; ours is
    tighter because unscaled MuJoCo returns over 200 steps already span thousands.
    """
    fifth = episode_length / 5
    return float(min(max((fifth - 1) / fifth, MIN_DISCOUNT), MAX_DISCOUNT))


def resolve_settings(config: RunConfig, spec: TaskSpec) -> ModuleSettings:
    discount = config.cost.discount
    if discount == "auto":
        discount = heuristic_discount(spec.max_episode_steps)
    capacity = config.memory.capacity
    if capacity == "auto":
        capacity = config.train.total_steps
    pretrain = config.train.pretrain_updates
    if pretrain == "auto":
        pretrain = config.train.seed_steps
    return ModuleSettings(discount=float(discount), replay_capacity=int(capacity), pretrain_updates=int(pretrain))
