"""Contract of configurators: module settings for the task, and the mode of each step."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from ami.config.schema import Mode, RunConfig
from ami.configurator.goal import GoalSetter
from ami.configurator.settings import ModuleSettings, resolve_settings
from ami.registry import Registry
from ami.spec import TaskSpec
from ami.world_model.base import WorldModel

if TYPE_CHECKING:
    from ami.build import Modules

logger = logging.getLogger(__name__)


class Configurator(ABC):
    """Turns the task and the config into module settings, and picks the mode of each step.

    Built as ``cls(config, spec, **config.configurator.options)``. Every mode switch is logged
    through ``logging`` (at ``switch_log_level``) and counted; ``metrics`` feeds TensorBoard.
    Once the modules are built, ``attach`` hands them over, so that a configurator can look at
    the world model, the cost and the memory when it chooses a mode.
    """

    switch_log_level = logging.INFO
    """Level of the log line of each switch; configurators that switch often log at DEBUG and report counts."""

    def __init__(self, config: RunConfig, spec: TaskSpec) -> None:
        self.config = config
        self.spec = spec
        self.settings: ModuleSettings = resolve_settings(config, spec)
        self.goal_setter = GoalSetter(config.configurator.goal, spec)
        self.mode_counts: dict[str, int] = {"reactive": 0, "deliberative": 0}
        self.switch_count = 0
        self.modules: Modules | None = None
        self._last_mode: Mode | None = None
        self._obs: np.ndarray | None = None
        logger.info("configurator %s resolved settings for %s: %s", type(self).__name__, spec.task, self.settings)

    def attach(self, modules: Modules) -> None:
        """Keep the agent's modules, which ``build_modules`` hands over once they are built."""
        self.modules = modules

    @property
    def current_obs(self) -> np.ndarray | None:
        """The observation ``select_mode`` was called with, or None when the caller gave none."""
        return self._obs

    @abstractmethod
    def choose_mode(self, step: int) -> Mode:
        """Mode for env step ``step``; called through ``select_mode``."""

    def select_mode(self, step: int, obs: np.ndarray | None = None) -> Mode:
        """Pick, record and log the mode for env step ``step``, at observation ``obs`` when given."""
        self._obs = obs
        mode = self.choose_mode(step)
        self.mode_counts[mode] += 1
        if mode != self._last_mode:
            if self._last_mode is not None:
                self.switch_count += 1
            logger.log(self.switch_log_level, "step %d: configurator switches to %s mode", step, mode)
            self._last_mode = mode
        return mode

    def metrics(self) -> dict[str, float]:
        """Scalars for TensorBoard under ``configurator/``."""
        return {"configurator/deliberative_share": self.deliberative_share(), "configurator/switches": float(self.switch_count)}

    def set_goal_from_observation(self, obs: torch.Tensor, world_model: WorldModel, cost: nn.Module) -> None:
        """Set the goal of the cost module's goal terms at every level from observations ``(num_envs, obs_dim)``.

        The agent calls it before each action, so a new goal in the observation takes effect at once.
        """
        self.goal_setter.set_goal(obs, world_model, cost)

    def state_dict(self) -> dict:
        """Mode counts, switch count and the last mode; subclasses with more state extend it."""
        return {"mode_counts": dict(self.mode_counts), "last_mode": self._last_mode, "switch_count": self.switch_count}

    def load_state_dict(self, state: dict) -> None:
        self.mode_counts = dict(state["mode_counts"])
        self._last_mode = state["last_mode"]
        self.switch_count = state.get("switch_count", 0)

    def deliberative_share(self) -> float:
        total = sum(self.mode_counts.values())
        return self.mode_counts["deliberative"] / total if total else 0.0


CONFIGURATORS: Registry[type[Configurator]] = Registry("configurator", Configurator)
