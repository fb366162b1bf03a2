"""Short-term memory: the recent past of the current episode and the previous plan."""

from __future__ import annotations

from collections import deque

import torch


class ShortTermMemory:
    """Recent latents and actions of the current episode, and the last plan of the actor.

    The previous plan ``(batch, horizon, action_dim)`` warm-starts the next one after a shift.
    """

    def __init__(self, context_length: int) -> None:
        if context_length < 1:
            raise ValueError(f"memory.context_length must be at least 1, got {context_length}")
        self.latents: deque[torch.Tensor] = deque(maxlen=context_length)
        self.actions: deque[torch.Tensor] = deque(maxlen=context_length)
        self.previous_plan: torch.Tensor | None = None

    def reset(self) -> None:
        """Forget the episode: a new episode starts without context or warm start."""
        self.latents.clear()
        self.actions.clear()
        self.previous_plan = None

    def remember(self, latent: torch.Tensor, action: torch.Tensor) -> None:
        self.latents.append(latent.detach())
        self.actions.append(action.detach())

    def context(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Recent ``(steps, batch, latent_dim)`` latents and ``(steps, batch, action_dim)`` actions."""
        if not self.latents:
            return None
        return torch.stack(list(self.latents)), torch.stack(list(self.actions))

    def state_dict(self) -> dict:
        return {"latents": list(self.latents), "actions": list(self.actions), "previous_plan": self.previous_plan}

    def load_state_dict(self, state: dict, device: torch.device) -> None:
        self.reset()
        self.latents.extend(latent.to(device) for latent in state["latents"])
        self.actions.extend(action.to(device) for action in state["actions"])
        plan = state["previous_plan"]
        self.previous_plan = None if plan is None else plan.to(device)
