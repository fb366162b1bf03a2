"""Short-term memory: the recent past of the current episode and the previous plan."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import torch


class ShortTermMemory:
    """Recent latents and actions of the current episode, and the last plan of the actor.

    Every tensor has one row per env (``batch = num_envs`` with a vector env, else 1). The
    previous plan ``(batch, horizon, action_dim)`` warm-starts the next one after a shift.

    ``reset(env_ids)`` forgets the episode of some envs only. Their context rows become zero,
    and their rows of the previous plan hold ``cold_start_action`` at every step. The sampling
    planners shift that row into the middle of the action range, which is also where they
    start without a plan.
    """

    def __init__(self, context_length: int, cold_start_action: torch.Tensor | None = None) -> None:
        if context_length < 1:
            raise ValueError(f"memory.context_length must be at least 1, got {context_length}")
        self.latents: deque[torch.Tensor] = deque(maxlen=context_length)
        self.actions: deque[torch.Tensor] = deque(maxlen=context_length)
        self.cold_start_action = cold_start_action
        """``(action_dim,)``: the middle of the action range, written into a forgotten env's plan row."""
        self._previous_plan: torch.Tensor | None = None
        self._forgotten_rows: set[int] = set()

    @property
    def previous_plan(self) -> torch.Tensor | None:
        """The last plan ``(batch, horizon, action_dim)``, or None when no env has one to continue."""
        return self._previous_plan

    @previous_plan.setter
    def previous_plan(self, plan: torch.Tensor | None) -> None:
        self._previous_plan = plan
        self._forgotten_rows = set()

    def reset(self, env_ids: Iterable[int] | None = None) -> None:
        """Forget the episode of every env, or of the envs in ``env_ids``: no context or warm start for them."""
        if env_ids is None:
            self.latents.clear()
            self.actions.clear()
            self.previous_plan = None
            return
        rows = sorted({int(env) for env in env_ids})
        if not rows:
            return
        for history in (self.latents, self.actions):
            cleared_entries = [zero_rows(entry, rows) for entry in history]
            history.clear()
            history.extend(cleared_entries)
        self._forget_plan_rows(rows)

    def _forget_plan_rows(self, rows: list[int]) -> None:
        plan = self._previous_plan
        if plan is None:
            return
        forgotten = self._forgotten_rows | set(rows)
        if len(forgotten) == plan.shape[0]:
            self.previous_plan = None
            return
        if self.cold_start_action is None:
            raise ValueError(
                "ShortTermMemory needs cold_start_action (the middle of the action range) to forget the plan of some envs only"
            )
        plan = plan.clone()
        plan[rows] = self.cold_start_action.to(plan.device, plan.dtype)
        self._previous_plan = plan
        self._forgotten_rows = forgotten

    def remember(self, latent: torch.Tensor, action: torch.Tensor) -> None:
        self.latents.append(latent.detach())
        self.actions.append(action.detach())

    def context(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Recent ``(steps, batch, latent_dim)`` latents and ``(steps, batch, action_dim)`` actions.

        An env whose episode began inside the window has zero rows before its first step.
        """
        if not self.latents:
            return None
        return torch.stack(list(self.latents)), torch.stack(list(self.actions))

    def state_dict(self) -> dict:
        return {
            "latents": list(self.latents),
            "actions": list(self.actions),
            "previous_plan": self._previous_plan,
            "forgotten_rows": sorted(self._forgotten_rows),
        }

    def load_state_dict(self, state: dict, device: torch.device) -> None:
        self.reset()
        self.latents.extend(latent.to(device) for latent in state["latents"])
        self.actions.extend(action.to(device) for action in state["actions"])
        plan = state["previous_plan"]
        self._previous_plan = None if plan is None else plan.to(device)
        self._forgotten_rows = set(state.get("forgotten_rows", []))


def zero_rows(tensor: torch.Tensor, rows: list[int]) -> torch.Tensor:
    """Return a copy of ``tensor (batch, ...)`` with ``rows`` set to zero."""
    cleared = tensor.clone()
    cleared[rows] = 0
    return cleared


def middle_of_action_range(action_low: tuple[float, ...], action_high: tuple[float, ...], device: torch.device) -> torch.Tensor:
    """Compute the middle of the action range ``(action_dim,)`` as the sampling planners compute it."""
    return ((torch.tensor(action_low) + torch.tensor(action_high)) / 2).to(device)
