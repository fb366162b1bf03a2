"""Contract of configurators: module settings for the task, and the mode of each step."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod

import torch
from torch import nn

from ami.config.schema import Mode, RunConfig
from ami.configurator.goal import GoalSetter
from ami.configurator.settings import ModuleSettings, resolve_settings
from ami.registry import Registry
from ami.spec import TaskSpec
from ami.world_model.base import WorldModel

logger = logging.getLogger(__name__)


class Configurator(ABC):
    """Turns the task and the config into module settings, and picks the mode of each step.

    Built as ``cls(config, spec, **config.configurator.options)``. Every mode switch is logged
    through ``logging`` and counted; ``deliberative_share`` feeds TensorBoard.
    """

    def __init__(self, config: RunConfig, spec: TaskSpec) -> None:
        self.config = config
        self.spec = spec
        self.settings: ModuleSettings = resolve_settings(config, spec)
        self.goal_setter = GoalSetter(config.configurator.goal, spec)
        self.mode_counts: dict[str, int] = {"reactive": 0, "deliberative": 0}
        self._last_mode: Mode | None = None
        logger.info("configurator %s resolved settings for %s: %s", type(self).__name__, spec.task, self.settings)

    @abstractmethod
    def choose_mode(self, step: int) -> Mode:
        """Mode for env step ``step``; called through ``select_mode``."""

    def select_mode(self, step: int) -> Mode:
        """Pick, record and log the mode for env step ``step``."""
        mode = self.choose_mode(step)
        self.mode_counts[mode] += 1
        if mode != self._last_mode:
            logger.info("step %d: configurator switches to %s mode", step, mode)
            self._last_mode = mode
        return mode

    def set_goal_from_observation(self, obs: torch.Tensor, world_model: WorldModel, cost: nn.Module) -> None:
        """Set the goal of the cost module's goal terms at every level from observations ``(num_envs, obs_dim)``.

        The agent calls it before each action, so a new goal in the observation takes effect at once.
        """
        self.goal_setter.set_goal(obs, world_model, cost)

    def state_dict(self) -> dict:
        """Mode counts and the last mode; subclasses with more state extend it."""
        return {"mode_counts": dict(self.mode_counts), "last_mode": self._last_mode}

    def load_state_dict(self, state: dict) -> None:
        self.mode_counts = dict(state["mode_counts"])
        self._last_mode = state["last_mode"]

    def deliberative_share(self) -> float:
        total = sum(self.mode_counts.values())
        return self.mode_counts["deliberative"] / total if total else 0.0


CONFIGURATORS: Registry[type[Configurator]] = Registry("configurator", Configurator)
