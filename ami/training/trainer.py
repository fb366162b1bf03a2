"""The Gymnasium training loop of the AMI agent."""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from agents.ami_agent import AMIAgent
from agents.random_agent import RandomAgent
from ami.config.loader import dump_toml
from ami.config.schema import RunConfig
from ami.device import resolve_device
from ami.registry import import_plugins
from ami.spec import TaskSpec
from ami.config.validate import validate_config
from ami.training.checkpoint import CHECKPOINT_NAME, checkpoint_metadata, save_checkpoint
from ami.training.evaluate import EVAL_SEED_OFFSET, EvalResult, evaluate
from ami.training.learner import TrainingDivergedError
from ami.training.maze_evaluation import held_out_reset_options
from ami.training.planned_path import MazeEvalDiagnostics
from ami.training.logger import MetricLogger
from ami.training.pixel_diagnostics import PixelDiagnostics
from ami.training.prediction_error import log_prediction_errors
from ami.training.rng import load_rng_state_dict, rng_state_dict, seed_everything
from envs.guard import INSTABILITY_KEY
from ami.training.vector_rollout import VectorRollout
from envs.make import make_env, make_vector_env
from envs.state import env_state_dict, load_env_state_dict

logger = logging.getLogger(__name__)

__all__ = ["Trainer", "TrainingDivergedError"]


class Trainer:
    """Collects experience, updates the agent and evaluates both acting modes.

    Building a ``Trainer`` validates the config, creates the envs and builds every module.
    Bad input therefore fails before a run folder exists, and only ``train`` writes to one.
    ``load_state_dict`` with a checkpoint's state makes ``train`` continue that run exactly.

    With ``env.num_envs > 1`` training steps a Gymnasium vector env through a ``VectorRollout``.
    Every counter, interval and TensorBoard x-axis counts env steps: one vector step of N envs
    is N env steps and makes ``N * train.updates_per_step`` updates.
    """

    def __init__(self, config: RunConfig, show_progress: bool = True) -> None:
        validate_config(config)
        self.config = config
        self.show_progress = show_progress
        self.device = resolve_device(config.device)
        if config.num_threads > 0:
            torch.set_num_threads(config.num_threads)
        seed_everything(config.seed)

        # Plugins may register Gymnasium tasks as well as modules, so they load before the envs.
        import_plugins(config.imports)
        self.num_envs = config.env.num_envs
        self.env = make_env(config.env) if self.num_envs == 1 else make_vector_env(config.env)
        self.eval_env = make_env(config.env)
        self.spec = TaskSpec.from_env(self.eval_env, config.env.task)
        self.agent = build_agent(config, self.spec, self.device)
        self.explorer = RandomAgent(self.eval_env.action_space, config.seed)
        self.rollout = VectorRollout(self.env, self.agent) if self.num_envs > 1 else None
        """Collects the experience of a vector env; None with one env, which the trainer steps itself."""

        self.step = 0
        self.obs: np.ndarray | None = None
        """Observation to act on next; None until the first episode starts."""
        self.episode_return = 0.0
        self.episode_returns: deque[float] = deque(maxlen=100)
        self.unstable_episodes = 0
        self.plan_seconds = 0.0
        self.update_seconds = 0.0
        """Seconds of the updates after pretraining, one batch per env step."""
        self.pretrain_seconds = 0.0
        self.pretrain_updates = 0
        """Updates made at once after the seed steps (``train.pretrain_updates``), timed apart from the per-step ones."""
        self.earlier_wall_seconds = 0.0
        """Wall time of the sessions before a resume."""
        self.last_eval: dict[str, EvalResult] = {}
        self._pending_metrics: dict[str, torch.Tensor] = {}
        self.resumed = False
        self.evaluation_hooks: list[Callable[[int, EvalResult], None]] = []
        """Called with the env step and the result of every evaluation, e.g. to record a comparison."""
        if self.spec.pixels:
            self.evaluation_hooks.append(PixelDiagnostics(self).on_evaluation)
        self.eval_reset_options = held_out_reset_options(self.eval_env, config.train.eval_episodes)
        """Held-out start/goal of each evaluation episode on maze tasks; None on other tasks, which reset by seed only."""
        if self.eval_reset_options is not None and not self.spec.pixels:
            self.evaluation_hooks.append(MazeEvalDiagnostics(self).on_evaluation)

    def train(self, run_dir: Path) -> dict:
        """Run env steps up to ``train.total_steps``, log to ``run_dir`` and save checkpoints there."""
        config = self.config
        self.run_dir = run_dir
        self.metrics = MetricLogger(run_dir, purge_step=self.step + 1 if self.resumed else None)
        if self.resumed:
            self.metrics.load_pending_state_dict(self._pending_metrics)
            logger.info("resuming %s at step %d of %d; run folder %s", config.env.task, self.step, config.train.total_steps, run_dir)
        else:
            self.metrics.text("config", "```toml\n" + dump_toml(config) + "\n```")
            logger.info(
                "training %s for %d steps with %d env(s) on %s; run folder %s",
                config.env.task, config.train.total_steps, self.num_envs, self.device, run_dir,
            )
            if self.rollout is not None:
                self.rollout.start(config.seed)
            else:
                self.obs, _ = self.env.reset(seed=config.seed)

        self._session_start = time.perf_counter()
        progress = tqdm(
            initial=self.step, total=config.train.total_steps, disable=not self.show_progress, unit="step", dynamic_ncols=True
        )
        interrupted = False
        self._stop_requested = False
        try:
            with self._stop_on_interrupt():
                self._run_steps(progress)
            interrupted = self._stop_requested
            if interrupted:
                logger.warning("stopped at step %d; saving the checkpoint and summary of the run so far", self.step)
        except KeyboardInterrupt:
            # Keep what was learned: the checkpoint and summary below are written as at the end.
            # NOTE: an interrupt raised inside a step leaves the step half done, so a resume from
            # this checkpoint is not exact. The first Ctrl-C or SIGTERM stops between steps instead.
            interrupted = True
            logger.warning("interrupted at step %d; saving the checkpoint and summary of the run so far", self.step)
        finally:
            progress.close()

        summary = self._finish(interrupted)
        self.metrics.close()
        return summary

    def _run_steps(self, progress: tqdm) -> None:
        """Step, update, log and checkpoint until ``total_steps`` or a requested stop."""
        config = self.config
        while self.step < config.train.total_steps and not self._stop_requested:
            self._collect_step()
            self.step += self.num_envs
            self._train_step()
            self._log_periodically()
            self._checkpoint_periodically()
            progress.update(self.num_envs)
            if self.episode_returns:
                progress.set_postfix(ret=f"{self.episode_returns[-1]:.1f}", sps=f"{self._steps_per_second():.0f}", refresh=False)

    @contextmanager
    def _stop_on_interrupt(self) -> Iterator[None]:
        """Make Ctrl-C (SIGINT) or SIGTERM stop training after the current env step.

        The checkpoint is then taken between steps and resumes exactly. Job schedulers such as
        Slurm send SIGTERM before they kill a job. A second signal raises KeyboardInterrupt at
        once. Outside the main thread, where Python cannot install signal handlers, both
        signals keep their default behaviour.
        """
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def request_stop(signal_number: int, frame: object) -> None:
            if self._stop_requested:
                raise KeyboardInterrupt
            self._stop_requested = True
            logger.warning(
                "%s received: stopping at the end of the env step in progress; send it again to stop at once",
                signal.Signals(signal_number).name,
            )

        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {number: signal.signal(number, request_stop) for number in handled}
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler if handler is not None else signal.SIG_DFL)

    def _wall_seconds(self) -> float:
        return self.earlier_wall_seconds + time.perf_counter() - self._session_start

    def _steps_per_second(self) -> float:
        return self.step / max(self._wall_seconds(), 1e-9)

    def _reached(self, interval: int) -> bool:
        """Return whether the env steps of the last loop iteration reached a multiple of ``interval``."""
        return self.step // interval > (self.step - self.num_envs) // interval

    def _act(self, obs: np.ndarray) -> np.ndarray:
        """Choose the mode of this step and act: ``(obs_dim,)`` to ``(action_dim,)``, or batched for a vector env."""
        mode = self.agent.configurator.select_mode(self.step, obs)
        if self.rollout is None:
            action = self.agent.act(obs, mode=mode)
        else:
            action = self.agent.act_batch(obs, mode=mode)
        self.plan_seconds += self.agent.last_plan_ms / 1000
        if self.agent.last_cost_terms:
            self.metrics.accumulate({f"cost/{name}": value.mean() for name, value in self.agent.last_cost_terms.items()})
        self.metrics.accumulate({f"plan/ms_per_action/{mode}": self.agent.last_plan_ms})
        return action

    def _collect_step(self) -> None:
        """Act once in the env, store the transition, and reset at the end of an episode."""
        if self.rollout is not None:
            self._collect_vector_step()
            return
        obs = self.obs
        planned_action = None
        if self.step < self.config.train.seed_steps:
            action = self.explorer.act(obs)
        else:
            action = self._act(obs)
            planned_action = self.agent.last_planned_actions

        next_obs, reward, terminated, truncated, info = self.env.step(action)
        if INSTABILITY_KEY in info:
            self._drop_unstable_step()
        else:
            self.agent.observe(obs, action, reward, next_obs, terminated, truncated, planned_action)
            self.episode_return += float(reward)
        self.obs = next_obs
        if terminated or truncated:
            self._end_episode()

    def _collect_vector_step(self) -> None:
        """Act once in every env of the vector env and record the episodes that ended."""
        obs = self.rollout.obs
        planned_actions = None
        if self.step < self.config.train.seed_steps:
            actions = np.stack([self.explorer.act(env_obs) for env_obs in obs])
        else:
            actions = self._act(obs)
            planned_actions = self.agent.last_planned_actions
        outcome = self.rollout.step(actions, planned_actions)

        end_step = self.step + self.num_envs
        if outcome.unstable_episodes:
            self.unstable_episodes += outcome.unstable_episodes
            self.metrics.scalars({"guard/unstable_episodes": self.unstable_episodes}, end_step)
        if outcome.episode_returns:
            self.episode_returns.extend(outcome.episode_returns)
            # One point per vector step, the mean of its episodes, so no step has two points.
            self.metrics.scalars({"rollout/ep_rew": float(np.mean(outcome.episode_returns))}, end_step)

    def _drop_unstable_step(self) -> None:
        """Keep an unstable step out of the replay buffer and cut its episode before it."""
        self.agent.modules.replay.mark_truncated()
        self.unstable_episodes += 1
        self.metrics.scalars({"guard/unstable_episodes": self.unstable_episodes}, self.step + 1)

    def _end_episode(self) -> None:
        self.episode_returns.append(self.episode_return)
        self.metrics.scalars({"rollout/ep_rew": self.episode_return}, self.step + 1)
        self.agent.reset()
        self.obs, _ = self.env.reset()
        self.episode_return = 0.0

    def _train_step(self) -> None:
        """Make the pretraining updates after the seed steps, then ``updates_per_step`` per env step."""
        train = self.config.train
        if self.step < train.seed_steps:
            return
        updates_per_loop = train.updates_per_step * self.num_envs
        pretraining = self.step - self.num_envs < train.seed_steps
        if pretraining:
            num_updates = max(self.agent.configurator.settings.pretrain_updates, updates_per_loop)
            logger.info("seed steps done; pretraining with %d updates", num_updates)
        else:
            num_updates = updates_per_loop
        start = time.perf_counter()
        show_updates = self.show_progress and num_updates > updates_per_loop
        for _ in tqdm(range(num_updates), desc="pretraining", unit="update", leave=False, disable=not show_updates):
            self.metrics.accumulate(self.agent.update())
        seconds = time.perf_counter() - start
        if pretraining:
            self.pretrain_seconds += seconds
            self.pretrain_updates += num_updates
        else:
            self.update_seconds += seconds

    def _log_periodically(self) -> None:
        train = self.config.train
        if self._reached(train.log_every) or self.step == train.total_steps:
            values = {"time/fps": self._steps_per_second()}
            if self.episode_returns:
                values["rollout/ep_rew_mean"] = float(np.mean(self.episode_returns))
            values.update(self.agent.configurator.metrics())
            for name, count in self.agent.learner.skipped_steps.items():
                values[f"guard/skipped_steps/{name}"] = count
            self.metrics.scalars(values, self.step)
            self.metrics.write_accumulated(self.step)
        if self._reached(train.eval_every) or self.step == train.total_steps:
            self._evaluate()
            self.metrics.flush()

    def _checkpoint_periodically(self) -> None:
        every = self.config.train.checkpoint_every
        # The final checkpoint is written by _finish, with the summary.
        if every > 0 and self._reached(every) and self.step < self.config.train.total_steps:
            self.save_checkpoint()

    def _evaluate(self) -> None:
        train = self.config.train
        for mode in train.eval_modes:
            result = evaluate(
                self.agent, self.eval_env, mode, train.eval_episodes, self.config.seed + EVAL_SEED_OFFSET, self.eval_reset_options
            )
            self.last_eval[mode] = result
            for hook in self.evaluation_hooks:
                hook(self.step, result)
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
        modules = self.agent.modules
        log_prediction_errors(modules.world_model, modules.replay, self.config.memory.batch_size, self.metrics, self.step)

    def save_checkpoint(self) -> None:
        """Write the whole training state to the run folder, replacing the previous checkpoint."""
        # Flush first: the points logged up to this step must be on disk before a checkpoint
        # records that the run got this far, or a resume would miss them.
        self.metrics.flush()
        metadata = checkpoint_metadata(self.config, self.spec, self.step)
        save_checkpoint(self.run_dir / CHECKPOINT_NAME, self.state_dict(), metadata)
        logger.info("step %d: saved checkpoint %s", self.step, self.run_dir / CHECKPOINT_NAME)

    def state_dict(self) -> dict[str, Any]:
        """Return the agent and everything the loop needs to continue: counters, episode, env and RNG states."""
        training = {
            "step": self.step,
            "episode_returns": list(self.episode_returns),
            "unstable_episodes": self.unstable_episodes,
            "plan_seconds": self.plan_seconds,
            "update_seconds": self.update_seconds,
            "pretrain_seconds": self.pretrain_seconds,
            "pretrain_updates": self.pretrain_updates,
            "wall_seconds": self._wall_seconds(),
            "last_eval": {mode: eval_result_state(result) for mode, result in self.last_eval.items()},
            "pending_metrics": self.metrics.pending_state_dict(),
            "explorer_rng": self.explorer.rng.bit_generator.state,
            "rng": rng_state_dict(),
        }
        if self.rollout is not None:
            training["rollout"] = self.rollout.state_dict()
        else:
            training["obs"] = torch.from_numpy(np.array(self.obs))
            training["episode_return"] = self.episode_return
            training["env"] = env_state_dict(self.env)
        return {"agent": self.agent.state_dict(), "memory": self.agent.memory_state_dict(), "training": training}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint's state: the next ``train`` call resumes at its step."""
        self.agent.load_state_dict(state["agent"])
        self.agent.load_memory_state_dict(state["memory"])
        training = state["training"]
        self.step = training["step"]
        self.episode_returns = deque(training["episode_returns"], maxlen=self.episode_returns.maxlen)
        self.unstable_episodes = training["unstable_episodes"]
        self.plan_seconds = training["plan_seconds"]
        self.update_seconds = training["update_seconds"]
        # Older checkpoints lack these fields and count the pretraining time in update_seconds.
        self.pretrain_seconds = training.get("pretrain_seconds", 0.0)
        self.pretrain_updates = training.get("pretrain_updates", 0)
        self.earlier_wall_seconds = training["wall_seconds"]
        self.last_eval = {
            mode: EvalResult(mode, tuple(result["returns"]), tuple(result["lengths"]), result["ms_per_action"])
            for mode, result in training["last_eval"].items()
        }
        self._pending_metrics = training["pending_metrics"]
        self.explorer.rng.bit_generator.state = training["explorer_rng"]
        self._restore_episode(training)
        load_rng_state_dict(training["rng"])
        self.resumed = True

    def _restore_episode(self, training: dict[str, Any]) -> None:
        """Put the training env back in the saved episode, or start a new one where it cannot be."""
        if self.rollout is not None:
            self.rollout.load_state_dict(training["rollout"], self.config.seed)
            return
        self.episode_return = training["episode_return"]
        self.obs, _ = self.env.reset(seed=self.config.seed)
        if load_env_state_dict(self.env, training["env"]):
            self.obs = training["obs"].numpy()
            return
        self.episode_return = 0.0
        self.agent.reset()

    def _finish(self, interrupted: bool) -> dict:
        """Save the checkpoint and ``summary.json``; return the summary."""
        self.save_checkpoint()
        acting_steps = self.step - self.config.train.seed_steps

        def per_acting_step(seconds: float) -> float | None:
            return 1000 * seconds / acting_steps if acting_steps > 0 else None

        summary = {
            "task": self.config.env.task,
            "seed": self.config.seed,
            "env_steps": self.step,
            "interrupted": interrupted,
            "wall_seconds": self._wall_seconds(),
            "ms_per_step_acting": per_acting_step(self.plan_seconds),
            "ms_per_step_updating": per_acting_step(self.update_seconds),
            "pretrain_updates": self.pretrain_updates,
            "ms_per_pretrain_update": 1000 * self.pretrain_seconds / self.pretrain_updates if self.pretrain_updates else None,
            "unstable_episodes": self.unstable_episodes,
            "skipped_steps": dict(self.agent.learner.skipped_steps),
            "eval": {
                mode: {"mean_return": r.mean_return, "std_return": r.std_return, "returns": list(r.returns), "ms_per_action": r.ms_per_action}
                for mode, r in self.last_eval.items()
            },
        }
        (self.run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        return summary


def build_agent(config: RunConfig, spec: TaskSpec, device: torch.device) -> AMIAgent:
    """Build the agent; running out of memory while allocating its modules is reported as bad input."""
    try:
        return AMIAgent(config, spec, device)
    except RuntimeError as error:
        # CUDA raises torch.OutOfMemoryError; the CPU allocator raises a RuntimeError with this text.
        if not isinstance(error, torch.OutOfMemoryError) and "can't allocate memory" not in str(error):
            raise
        raise MemoryError(
            f"not enough memory on {device} to build the agent's modules ({str(error).strip().splitlines()[0]}); "
            "lower the network sizes (perception.latent_dim and the hidden_dims fields)"
        ) from None


def eval_result_state(result: EvalResult) -> dict[str, Any]:
    return {"returns": list(result.returns), "lengths": list(result.lengths), "ms_per_action": result.ms_per_action}
