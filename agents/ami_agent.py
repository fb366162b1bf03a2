"""The AMI agent: perception, world model, cost, memory, actor and configurator in one loop."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch

from agents.base import Agent
from ami.build import build_modules
from ami.config.schema import Mode, RunConfig
from ami.memory.short_term import ShortTermMemory
from ami.spec import TaskSpec
from ami.training.learner import Learner

PREPARE_EVERY_UPDATES = 1000
"""Updates after which the planner rebuilds what it derives from the modules and the replay (``Planner.prepare``)."""


class AMIAgent(Agent):
    """Acts reactively or deliberately from the same trained modules and learns from replay.

    ``act`` takes one observation ``(obs_dim,)`` and returns one action ``(action_dim,)``;
    ``act_batch`` does the same for the envs of a vector env, ``(num_envs, obs_dim)`` to
    ``(num_envs, action_dim)``, with one policy or planner call for all of them. Tensors stay
    on ``device`` from the encoder to the chosen actions.
    """

    def __init__(self, config: RunConfig, spec: TaskSpec, device: torch.device) -> None:
        self.config = config
        self.spec = spec
        self.device = device
        self.modules = build_modules(config, spec, device)
        self.learner = Learner(
            self.modules.world_model, self.modules.cost, self.modules.actor.policy, config.train, config.world_model.rho,
            distill_coef=config.actor.policy.distill_coef,
        )
        self.last_plan_ms = 0.0
        self.last_planned_actions: torch.Tensor | None = None
        """``(num_envs, action_dim)``: the planner's noise-free actions of the last ``act_batch`` call; None after a reactive call."""
        self.last_cost_terms: dict[str, torch.Tensor] = {}
        self.num_updates = 0
        self._prepared_at: int | None = None
        """``num_updates`` when the planner was last prepared; None when it must be prepared before planning."""
        self._prepared_planner = None
        """The planner that was last prepared, so that a planner swapped in is prepared too."""

    @property
    def configurator(self):
        return self.modules.configurator

    def reset(self, env_ids: Sequence[int] | None = None) -> None:
        """Forget the short-term memory of every env's episode, or of the envs in ``env_ids`` only."""
        self.modules.memory.reset(env_ids)

    @contextmanager
    def separate_memory(self) -> Iterator[None]:
        """Act with a fresh short-term memory, then restore the one of the interrupted episode."""
        saved = self.modules.memory
        self.modules.memory = ShortTermMemory(self.config.memory.context_length, saved.cold_start_action)
        try:
            yield
        finally:
            self.modules.memory = saved

    def act(self, obs: np.ndarray, deterministic: bool = False, mode: Mode | None = None) -> np.ndarray:
        """Encode ``obs``, remember it, and act in ``mode`` (the configured mode when None)."""
        return self.act_batch(np.asarray(obs)[None], deterministic, mode)[0]

    def act_batch(self, obs: np.ndarray, deterministic: bool = False, mode: Mode | None = None) -> np.ndarray:
        """Act for ``obs (num_envs, obs_dim)`` with one policy or planner call; return ``(num_envs, action_dim)``.

        ``last_plan_ms`` is the time of the whole call, which every env of the batch waits for.
        """
        modules = self.modules
        mode = mode or self.config.configurator.mode
        start = time.perf_counter()
        with torch.no_grad():
            obs_tensor = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
            modules.configurator.set_goal_from_observation(obs_tensor, modules.world_model, modules.cost)
            latent = modules.world_model.encode(obs_tensor)
            if mode != "reactive":
                self.prepare_planner()
                modules.actor.planner.condition(obs_tensor, modules.world_model, modules.configurator.goal_setter)
            output = modules.actor.act(latent, mode, modules.world_model, modules.cost, modules.memory, deterministic)
            modules.memory.remember(latent, output.action)
            actions = output.action.cpu().numpy()
        self.last_plan_ms = 1000 * (time.perf_counter() - start)
        self.last_cost_terms = output.cost_terms
        self.last_planned_actions = output.planned_action
        return actions

    def prepare_planner(self) -> None:
        """Let the planner rebuild what it derives from the modules and the replay, if it never did or the modules changed enough."""
        modules = self.modules
        fresh = (
            self._prepared_at is not None
            and modules.actor.planner is self._prepared_planner
            and self.num_updates - self._prepared_at < PREPARE_EVERY_UPDATES
        )
        if fresh:
            return
        modules.actor.planner.prepare(modules.world_model, modules.cost, modules.replay, modules.configurator.goal_setter)
        self._prepared_at = self.num_updates
        self._prepared_planner = modules.actor.planner

    def observe(self, obs, action, reward, next_obs, terminated, truncated, planned_action: torch.Tensor | None = None) -> None:
        """Store one transition; ``planned_action (1, action_dim)`` marks a step whose action the planner chose."""

        def row(value) -> torch.Tensor:
            return torch.as_tensor(np.asarray(value, dtype=np.float32), device=self.device).reshape(1, -1)

        if self.spec.pixels:
            # Frames stay uint8 in their own shape, as the frame replay stores them.
            obs_row = torch.as_tensor(np.asarray(obs), device=self.device).unsqueeze(0)
            next_obs_row = torch.as_tensor(np.asarray(next_obs), device=self.device).unsqueeze(0)
        else:
            obs_row, next_obs_row = row(obs), row(next_obs)
        self.modules.replay.add(
            obs_row, row(action), row(reward)[:, 0], next_obs_row, row(float(terminated))[:, 0], row(float(truncated))[:, 0],
            planned_actions=planned_action,
        )
        self.modules.world_model.observe(next_obs_row)

    def observe_batch(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_obs: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        env_ids: np.ndarray,
        planned_actions: torch.Tensor | None = None,
    ) -> None:
        """Store one step of the envs in ``env_ids (k,)``: ``obs (k, obs_dim)``, ``actions (k, action_dim)``, the rest ``(k,)``.

        ``planned_actions (k, action_dim)`` marks steps whose actions the planner chose.
        """
        if len(env_ids) == 0:
            return

        # NOTE: rows are float32 vectors, so vector envs with pixel observations are not supported yet.
        def rows(value: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.asarray(value, dtype=np.float32), device=self.device).reshape(len(env_ids), -1)

        next_obs_rows = rows(next_obs)
        self.modules.replay.add(
            rows(obs), rows(actions), rows(rewards)[:, 0], next_obs_rows, rows(terminated)[:, 0], rows(truncated)[:, 0],
            env_ids=torch.as_tensor(env_ids), planned_actions=planned_actions,
        )
        self.modules.world_model.observe(next_obs_rows)

    def update(self) -> dict[str, torch.Tensor]:
        replay = self.modules.replay
        batch = replay.sample(self.config.memory.batch_size, self.modules.world_model.required_sequence_length)
        terms = self.learner.goal_distance_terms
        goal_windows = None
        # Goal distances start training once every env stream contains one window.
        if terms and all(len(replay) >= term.window * self.config.env.num_envs for term in terms):
            goal_windows = [replay.sample(term.num_windows, term.window) for term in terms]
        self.num_updates += 1
        return self.learner.update(batch, goal_windows)

    def state_dict(self) -> dict:
        """Trained modules (EMA targets and normalizer statistics included) and optimizer states."""
        modules = self.modules
        return {
            "world_model": modules.world_model.state_dict(),
            "cost": modules.cost.state_dict(),
            "actor": modules.actor.state_dict(),
            "learner": self.learner.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        modules = self.modules
        modules.world_model.load_state_dict(state["world_model"])
        modules.cost.load_state_dict(state["cost"])
        modules.actor.load_state_dict(state["actor"])
        self.learner.load_state_dict(state["learner"])
        self._prepared_at = None

    def memory_state_dict(self) -> dict:
        """Return what the agent remembers beyond its weights: replay, short-term memory and mode counts."""
        modules = self.modules
        return {
            "replay": modules.replay.state_dict(),
            "short_term": modules.memory.state_dict(),
            "configurator": modules.configurator.state_dict(),
        }

    def load_memory_state_dict(self, state: dict) -> None:
        modules = self.modules
        modules.replay.load_state_dict(state["replay"])
        modules.memory.load_state_dict(state["short_term"], self.device)
        modules.configurator.load_state_dict(state["configurator"])
        self._prepared_at = None
