"""The interface every agent (AMI or baseline) presents to the runner."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class Agent(ABC):
    """An agent acting in one env. The runner passes it each transition and calls ``update`` to train it."""

    @abstractmethod
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Action ``(action_dim,)`` for observation ``(obs_dim,)``, inside the action bounds."""

    def reset(self) -> None:
        """Called at the start of every episode."""

    def observe(
        self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray, terminated: bool, truncated: bool
    ) -> None:
        """Record one transition; agents that do not learn ignore it."""

    def update(self) -> dict[str, float]:
        """Make one learning update and return its metrics; agents that do not learn return ``{}``."""
        return {}
