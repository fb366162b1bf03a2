"""Contract of replay buffers: the agent's long-term memory of transitions."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from ami.memory.batch import TrajectoryBatch
from ami.registry import Registry


class ReplayBuffer(ABC):
    """Stores transitions on the training device and samples sub-trajectories.

    Built as ``cls(capacity, obs_dim, action_dim, device, seed)``, plus ``num_envs=N`` when a run
    steps ``N > 1`` envs; sub-trajectories must then never mix two envs. ``terminated`` (the MDP ended)
    and ``truncated`` (a time limit cut the episode) are stored apart: only termination stops
    bootstrapping, while both end the sub-trajectories used by multi-step losses.
    """

    @abstractmethod
    def add(
        self,
        obs: torch.Tensor,
        action: torch.Tensor,
        reward: torch.Tensor,
        next_obs: torch.Tensor,
        terminated: torch.Tensor,
        truncated: torch.Tensor,
        env_ids: torch.Tensor | None = None,
        planned_actions: torch.Tensor | None = None,
    ) -> None:
        """Append one step of ``num_envs`` envs: ``obs (num_envs, obs_dim)``, ``reward (num_envs,)``...

        With ``env_ids (k,)`` the rows are steps of only those envs, e.g. when some envs reset.
        ``planned_actions (k, action_dim)`` is given when the planner chose these actions: its
        noise-free actions, which a replay may store for the policy's distillation term.
        """

    @abstractmethod
    def sample(self, batch_size: int, horizon: int) -> TrajectoryBatch:
        """Sample ``batch_size`` sub-trajectories of ``horizon`` consecutive steps."""

    @abstractmethod
    def __len__(self) -> int:
        """Number of stored transitions."""

    @abstractmethod
    def mark_truncated(self, env_ids: torch.Tensor | None = None) -> None:
        """Mark the newest stored step of every env, or of the envs in ``env_ids``, as truncated.

        The trainer calls it when an episode ends on a step that is not stored (an unstable
        simulation), so sub-trajectories never run from that episode into the next one.
        """

    @abstractmethod
    def state_dict(self) -> dict:
        """Stored transitions, write position and sampling RNG, as tensors and plain data."""

    @abstractmethod
    def load_state_dict(self, state: dict) -> None:
        """Restore ``state_dict``; raise ValueError if it does not fit this buffer."""


REPLAY_BUFFERS: Registry[type[ReplayBuffer]] = Registry("replay buffer", ReplayBuffer)
