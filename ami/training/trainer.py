"""The Gymnasium training loop of the AMI agent."""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections import deque
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from agents.ami_agent import AMIAgent
from agents.random_agent import RandomAgent
from ami.config.loader import dump_toml
from ami.config.schema import RunConfig
from ami.device import resolve_device
from ami.spec import TaskSpec
from ami.training.checkpoint import CHECKPOINT_NAME, save_checkpoint
from ami.training.evaluate import EvalResult, evaluate
from ami.training.logger import MetricLogger
from ami.config.validate import validate_config
from envs.make import make_env

logger = logging.getLogger(__name__)

EVAL_SEED_OFFSET = 10_000
"""Evaluation episodes use seeds from ``seed + EVAL_SEED_OFFSET``, apart from training seeds."""


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class TrainingDivergedError(RuntimeError):
    """A training loss became NaN or infinite."""


LOSS_TAGS = ("world_model/loss", "critic/loss", "actor/policy_loss")


def check_finite(metrics: dict[str, float], step: int) -> None:
    """Raise TrainingDivergedError if a logged loss is NaN or infinite."""
    for tag in LOSS_TAGS:
        if tag in metrics and not math.isfinite(metrics[tag]):
            raise TrainingDivergedError(
                f"{tag} is {metrics[tag]} at step {step}: training diverged. Lower train.learning_rate "
                "or train.grad_clip_norm, and check the task's observations for non-finite values"
            )


class Trainer:
    """Collects experience, updates the agent and evaluates both acting modes.

    Building a ``Trainer`` validates the config, creates the envs and builds every module.
    Bad input therefore fails before a run folder exists, and only ``train`` writes to one.
    """

    def __init__(self, config: RunConfig, show_progress: bool = True) -> None:
        validate_config(config)
        self.config = config
        self.show_progress = show_progress
        self.device = resolve_device(config.device)
        if config.num_threads > 0:
            torch.set_num_threads(config.num_threads)
        seed_everything(config.seed)

        self.env = make_env(config.env)
        self.eval_env = make_env(config.env)
        self.spec = TaskSpec.from_env(self.env, config.env.task)
        self.agent = AMIAgent(config, self.spec, self.device)
        self.explorer = RandomAgent(self.env.action_space, config.seed)

        self.step = 0
        self.episode_returns: deque[float] = deque(maxlen=100)
        self.plan_seconds = 0.0
        self.update_seconds = 0.0
        self.last_eval: dict[str, EvalResult] = {}

    def train(self, run_dir: Path) -> dict:
        """Run ``train.total_steps`` env steps, log to ``run_dir`` and save the final checkpoint."""
        config = self.config
        self.run_dir = run_dir
        self.metrics = MetricLogger(run_dir)
        self.metrics.text("config", "```toml\n" + dump_toml(config) + "\n```")
        logger.info("training %s for %d steps on %s; run folder %s", config.env.task, config.train.total_steps, self.device, run_dir)

        start = time.perf_counter()
        obs, _ = self.env.reset(seed=config.seed)
        episode_return = 0.0
        progress = tqdm(total=config.train.total_steps, disable=not self.show_progress, unit="step", dynamic_ncols=True)
        interrupted = False
        try:
            while self.step < config.train.total_steps:
                obs, episode_return = self._collect_step(obs, episode_return)
                self.step += 1
                self._train_step()
                self._log_periodically(start)
                progress.update(1)
                if self.episode_returns:
                    elapsed = time.perf_counter() - start
                    progress.set_postfix(ret=f"{self.episode_returns[-1]:.1f}", sps=f"{self.step / elapsed:.0f}", refresh=False)
        except KeyboardInterrupt:
            # Keep what was learned: the checkpoint and summary below are written as at the end.
            interrupted = True
            logger.warning("interrupted at step %d; saving the checkpoint and summary of the run so far", self.step)
        finally:
            progress.close()

        summary = self._finish(time.perf_counter() - start, interrupted)
        self.metrics.close()
        return summary

    def _collect_step(self, obs: np.ndarray, episode_return: float) -> tuple[np.ndarray, float]:
        """Act once in the env, store the transition, and reset at the end of an episode."""
        if self.step < self.config.train.seed_steps:
            action = self.explorer.act(obs)
        else:
            mode = self.agent.configurator.select_mode(self.step)
            action = self.agent.act(obs, mode=mode)
            self.plan_seconds += self.agent.last_plan_ms / 1000
            if self.agent.last_cost_terms:
                self.metrics.accumulate({f"cost/{name}": value.mean() for name, value in self.agent.last_cost_terms.items()})
            self.metrics.accumulate({f"plan/ms_per_action/{mode}": self.agent.last_plan_ms})

        next_obs, reward, terminated, truncated, _ = self.env.step(action)
        self.agent.observe(obs, action, reward, next_obs, terminated, truncated)
        episode_return += float(reward)
        if not (terminated or truncated):
            return next_obs, episode_return

        self.episode_returns.append(episode_return)
        self.metrics.scalars({"rollout/ep_rew": episode_return}, self.step + 1)
        self.agent.reset()
        next_obs, _ = self.env.reset()
        return next_obs, 0.0

    def _train_step(self) -> None:
        """Make the pretraining updates after the seed steps, then ``updates_per_step`` each step."""
        train = self.config.train
        if self.step < train.seed_steps:
            return
        if self.step == train.seed_steps:
            num_updates = max(self.agent.configurator.settings.pretrain_updates, train.updates_per_step)
            logger.info("seed steps done; pretraining with %d updates", num_updates)
        else:
            num_updates = train.updates_per_step
        start = time.perf_counter()
        show_updates = self.show_progress and num_updates > train.updates_per_step
        for _ in tqdm(range(num_updates), desc="pretraining", unit="update", leave=False, disable=not show_updates):
            self.metrics.accumulate(self.agent.update())
        self.update_seconds += time.perf_counter() - start

    def _log_periodically(self, start: float) -> None:
        train = self.config.train
        if self.step % train.log_every == 0 or self.step == train.total_steps:
            values = {"time/fps": self.step / (time.perf_counter() - start)}
            if self.episode_returns:
                values["rollout/ep_rew_mean"] = float(np.mean(self.episode_returns))
            values["configurator/deliberative_share"] = self.agent.configurator.deliberative_share()
            self.metrics.scalars(values, self.step)
            check_finite(self.metrics.write_accumulated(self.step), self.step)
        if self.step % train.eval_every == 0 or self.step == train.total_steps:
            self._evaluate()
            self.metrics.flush()

    def _evaluate(self) -> None:
        train = self.config.train
        for mode in train.eval_modes:
            result = evaluate(self.agent, self.eval_env, mode, train.eval_episodes, self.config.seed + EVAL_SEED_OFFSET)
            self.last_eval[mode] = result
            self.metrics.scalars(
                {
                    f"eval/{mode}/mean_reward": result.mean_return,
                    f"eval/{mode}/std_reward": result.std_return,
                    f"eval/{mode}/mean_ep_length": result.mean_length,
                    f"eval/{mode}/ms_per_action": result.ms_per_action,
                },
                self.step,
            )
            logger.info("step %d: eval %s return %.1f +- %.1f (%.2f ms per action)", self.step, mode, result.mean_return, result.std_return, result.ms_per_action)

    def _finish(self, wall_seconds: float, interrupted: bool) -> dict:
        """Save the checkpoint and ``summary.json``; return the summary."""
        metadata = {"task": self.config.env.task, "step": self.step, "obs_dim": self.spec.obs_dim, "action_dim": self.spec.action_dim}
        save_checkpoint(self.run_dir / CHECKPOINT_NAME, self.agent.state_dict(), metadata)
        acting_steps = max(self.step - self.config.train.seed_steps, 1)
        summary = {
            "task": self.config.env.task,
            "seed": self.config.seed,
            "env_steps": self.step,
            "interrupted": interrupted,
            "wall_seconds": wall_seconds,
            "ms_per_step_acting": 1000 * self.plan_seconds / acting_steps,
            "ms_per_step_updating": 1000 * self.update_seconds / acting_steps,
            "eval": {
                mode: {"mean_return": r.mean_return, "std_return": r.std_return, "returns": list(r.returns), "ms_per_action": r.ms_per_action}
                for mode, r in self.last_eval.items()
            },
        }
        (self.run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        return summary
