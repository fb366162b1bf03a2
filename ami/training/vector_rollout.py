"""Experience collection from a Gymnasium vector env under next-step autoreset."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from agents.ami_agent import AMIAgent
from envs.guard import INSTABILITY_KEY
from envs.state import load_vector_env_state_dict, vector_env_state_dict


@dataclass
class VectorStepOutcome:
    """Episodes that one vector step finished."""

    episode_returns: list[float] = field(default_factory=list)
    """Returns of the episodes that ended in this step, in env order."""
    unstable_episodes: int = 0
    """Episodes that an unstable simulation step cut short in this step."""


class VectorRollout:
    """Steps the envs of a vector env together and stores their real transitions in the agent's replay.

    Gymnasium 1.x vector envs reset an env on the step after its episode ended (next-step
    autoreset): that step ignores the env's action and returns the reset observation with
    reward 0, so its transition is not stored. After that step the env's short-term memory
    (context and previous plan) is forgotten, because its observation now starts a new episode.
    """

    def __init__(self, env: gym.vector.VectorEnv, agent: AMIAgent) -> None:
        self.env = env
        self.agent = agent
        self.num_envs = env.num_envs
        self.obs: np.ndarray | None = None
        """``(num_envs, obs_dim)``: observations to act on next, or None before ``start``."""
        self.episode_returns = np.zeros(self.num_envs)
        """``(num_envs,)``: return so far of each env's episode in progress."""
        self.autoresetting = np.zeros(self.num_envs, dtype=bool)
        """``(num_envs,)``: envs whose next step is an autoreset, because their episode just ended."""

    def start(self, seed: int) -> None:
        """Reset every env; env ``i`` is seeded with ``seed + i``, as Gymnasium seeds vector envs."""
        self.obs, _ = self.env.reset(seed=seed)
        self.episode_returns[:] = 0.0
        self.autoresetting[:] = False

    def step(self, actions: np.ndarray, planned_actions: torch.Tensor | None = None) -> VectorStepOutcome:
        """Step every env with ``actions (num_envs, action_dim)`` and store the transitions that are real steps.

        ``planned_actions (num_envs, action_dim)``, given when the planner chose ``actions``, is stored with them.
        """
        obs = self.obs
        next_obs, rewards, terminated, truncated, info = self.env.step(actions)
        stepped = ~self.autoresetting
        unstable = stepped & np.asarray(info.get("_" + INSTABILITY_KEY, np.zeros(self.num_envs, dtype=bool)))
        stored = stepped & ~unstable

        # Store the real transitions. An unstable step is dropped and cuts its episode before it.
        env_ids = np.flatnonzero(stored)
        stored_planned = None if planned_actions is None else planned_actions[torch.as_tensor(env_ids, device=planned_actions.device)]
        self.agent.observe_batch(
            obs[env_ids], actions[env_ids], rewards[env_ids], next_obs[env_ids], terminated[env_ids], truncated[env_ids], env_ids,
            stored_planned,
        )
        if unstable.any():
            self.agent.modules.replay.mark_truncated(env_ids=torch.as_tensor(np.flatnonzero(unstable)))
        self.episode_returns[stored] += rewards[stored]

        # Gymnasium resets exactly the envs that ended now, at their next step.
        ended = terminated | truncated
        outcome = VectorStepOutcome(self.episode_returns[ended].tolist(), int(unstable.sum()))
        self.episode_returns[ended] = 0.0
        self.agent.reset(env_ids=np.flatnonzero(self.autoresetting).tolist())
        self.autoresetting = ended
        self.obs = next_obs
        return outcome

    def state_dict(self) -> dict[str, Any]:
        return {
            "obs": torch.from_numpy(np.array(self.obs)),
            "episode_returns": self.episode_returns.tolist(),
            "autoresetting": self.autoresetting.tolist(),
            "env": vector_env_state_dict(self.env),
        }

    def load_state_dict(self, state: dict[str, Any], seed: int) -> None:
        """Continue the saved episodes, or start new ones (``reset(seed=seed)``) where the envs cannot be restored."""
        self.start(seed)
        if not load_vector_env_state_dict(self.env, state["env"]):
            # NOTE: an async vector env resumes here, so its resume is not exact. The stored
            # episodes are cut where they stopped, so no sub-trajectory runs into a new episode.
            self.agent.modules.replay.mark_truncated()
            self.agent.reset()
            return
        self.obs = state["obs"].numpy()
        self.episode_returns = np.array(state["episode_returns"], dtype=float)
        self.autoresetting = np.array(state["autoresetting"], dtype=bool)
