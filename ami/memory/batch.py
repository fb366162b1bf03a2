"""A batch of sub-trajectories sampled from replay, time-major."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class TrajectoryBatch:
    """``batch`` sub-trajectories of ``horizon`` steps, time-major.

    ``mask[t]`` is 0 for steps after the episode ended inside the sub-trajectory (a
    termination or truncation at an earlier step); losses ignore those steps.
    """

    obs: torch.Tensor
    """``(batch, obs_dim)``: observation before the first action."""
    actions: torch.Tensor
    """``(horizon, batch, action_dim)``."""
    rewards: torch.Tensor
    """``(horizon, batch)``."""
    next_obs: torch.Tensor
    """``(horizon, batch, obs_dim)``: observation after each action."""
    terminated: torch.Tensor
    """``(horizon, batch)``, float 0/1: the MDP ended, so no value is bootstrapped after it."""
    truncated: torch.Tensor
    """``(horizon, batch)``, float 0/1: the episode was cut by a time limit."""
    mask: torch.Tensor
    """``(horizon, batch)``, float 0/1: step belongs to the same episode as the first step."""
    planned: torch.Tensor | None = None
    """``(horizon, batch)``, float 0/1: the planner chose the action of this step. None from replays that do not record it."""
    planned_actions: torch.Tensor | None = None
    """``(horizon, batch, action_dim)``: the planner's noise-free action at the planned steps, zeros elsewhere."""

    @property
    def horizon(self) -> int:
        return self.actions.shape[0]

    @property
    def batch_size(self) -> int:
        return self.actions.shape[1]

    def prefix(self, horizon: int) -> TrajectoryBatch:
        """Return the first ``horizon`` steps of every sub-trajectory, as views of these tensors."""
        if not 1 <= horizon <= self.horizon:
            raise ValueError(f"cannot take the first {horizon} steps of sub-trajectories of {self.horizon} steps")
        if horizon == self.horizon:
            return self
        return TrajectoryBatch(
            obs=self.obs,
            actions=self.actions[:horizon],
            rewards=self.rewards[:horizon],
            next_obs=self.next_obs[:horizon],
            terminated=self.terminated[:horizon],
            truncated=self.truncated[:horizon],
            mask=self.mask[:horizon],
            planned=None if self.planned is None else self.planned[:horizon],
            planned_actions=None if self.planned_actions is None else self.planned_actions[:horizon],
        )
