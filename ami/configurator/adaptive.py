"""A configurator that deliberates only where the critic ensemble is uncertain, within a budget."""

from __future__ import annotations

import logging
from collections import deque

import numpy as np
import torch

from ami.config.schema import Mode, RunConfig
from ami.configurator.base import CONFIGURATORS, Configurator
from ami.spec import TaskSpec

logger = logging.getLogger(__name__)


@CONFIGURATORS.register("adaptive")
class AdaptiveConfigurator(Configurator):
    """Acts reactively where the critic members agree, and deliberates where they disagree.

    The uncertainty of a step is the standard deviation over the critic members of their
    cost-to-go at ``(z, pi(z))``, with ``z`` the encoded observation and ``pi`` the
    deterministic policy. The step deliberates when its uncertainty exceeds the
    ``1 - configurator.deliberation_budget`` quantile of the last ``window`` uncertainties, so
    about that share of steps deliberates while the scale of the uncertainty drifts with
    training. A long window lags that drift: while the uncertainty falls during training, the
    share stays below the budget. The first ``min_history`` steps deliberate, because no
    threshold exists yet; a budget of 0 never deliberates and a budget of 1 always does.

    NOTE: the share exceeds the budget when the uncertainty rises within episodes or jumps
    between them, most while the history is shorter than ``window``. Evaluating a Reacher-v5
    run for 500 steps with budget 0.1 gave a share of 0.21 (experiments/RESULTS.md).

    With ``plan_margin`` (in cost units) a step also deliberates when the previous plan's next
    action beats the policy's action by more than the margin, by the mean critic. Such steps
    come on top of the budget. They only follow a deliberative step, because a reactive step
    clears the previous plan.

    Without the modules or an observation (a caller that passes none to ``select_mode``), it
    acts in ``configurator.mode``. Switches are logged at DEBUG with the uncertainty and the
    threshold, because they can happen every few steps; ``metrics`` reports their count.
    """

    switch_log_level = logging.DEBUG

    def __init__(
        self, config: RunConfig, spec: TaskSpec, window: int = 200, min_history: int = 10, plan_margin: float | None = None
    ) -> None:
        super().__init__(config, spec)
        # TOML options arrive untyped, so a string or a bool must fail here and not in a comparison below.
        for name, value in (("window", window), ("min_history", min_history)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"invalid value {value!r} for 'configurator.options.{name}'; it must be an integer")
        if plan_margin is not None and (isinstance(plan_margin, bool) or not isinstance(plan_margin, (int, float))):
            raise ValueError(f"invalid value {plan_margin!r} for 'configurator.options.plan_margin'; it must be a number (cost units)")
        if window < 1:
            raise ValueError(f"configurator.options.window must be positive, got {window}")
        if not 1 <= min_history <= window:
            raise ValueError(f"configurator.options.min_history must be between 1 and window={window}, got {min_history}")
        if plan_margin is not None and not plan_margin >= 0:
            raise ValueError(f"configurator.options.plan_margin must be >= 0 (cost units), got {plan_margin}")
        self.budget = config.configurator.deliberation_budget
        self.min_history = min_history
        self.plan_margin = plan_margin
        self.history: deque[float] = deque(maxlen=window)
        self.last_uncertainty = float("nan")
        self.last_threshold = float("nan")
        self.plan_triggers = 0
        self._warned_fallback = False

    def choose_mode(self, step: int) -> Mode:
        obs = self.current_obs
        if self.modules is None or obs is None:
            if not self._warned_fallback:
                logger.warning("adaptive configurator has no modules or observation; acting in configurator.mode=%s", self.config.configurator.mode)
                self._warned_fallback = True
            return self.config.configurator.mode
        uncertainty, plan_advantage = self.measure(obs)
        mode = self.decide(uncertainty, plan_advantage)
        if mode != self._last_mode:
            logger.debug(
                "step %d: uncertainty %.4g, threshold %.4g, plan advantage %s", step, uncertainty, self.last_threshold, plan_advantage
            )
        return mode

    @torch.no_grad()
    def measure(self, obs: np.ndarray) -> tuple[float, float | None]:
        """Return the critic disagreement at ``obs`` and, with ``plan_margin``, the previous plan's advantage.

        ``obs`` is ``(obs_dim,)`` or ``(num_envs, obs_dim)``; for several envs the largest
        uncertainty and advantage count, so one uncertain env makes the whole batch deliberate.
        """
        modules = self.modules
        world_model, critic, policy = modules.world_model, modules.cost.critic, modules.actor.policy
        device = next(critic.parameters()).device
        obs_tensor = torch.as_tensor(np.atleast_2d(obs), dtype=torch.float32, device=device)
        latent = world_model.encode(obs_tensor)
        action, _ = policy(latent, deterministic=True)
        members = critic(latent, action)  # (num_critics, batch)
        uncertainty = float(members.std(dim=0, correction=0).max())

        previous_plan = modules.memory.previous_plan  # (batch, horizon, action_dim) or None
        if self.plan_margin is None or previous_plan is None or previous_plan.shape[0] != latent.shape[0]:
            return uncertainty, None
        # The shifted plan starts with the plan's second action, the warm start of this step.
        plan_action = previous_plan[:, min(1, previous_plan.shape[1] - 1)]
        advantage = members.mean(dim=0) - critic(latent, plan_action).mean(dim=0)
        return uncertainty, float(advantage.max())

    def decide(self, uncertainty: float, plan_advantage: float | None = None) -> Mode:
        """Choose the mode for a step with this ``uncertainty``, then add it to the history."""
        if len(self.history) >= self.min_history:
            self.last_threshold = float(np.quantile(np.fromiter(self.history, dtype=float), 1 - self.budget))
        self.history.append(uncertainty)
        self.last_uncertainty = uncertainty

        if self.budget <= 0:
            deliberate = False
        elif self.budget >= 1 or len(self.history) <= self.min_history:
            deliberate = True
        else:
            deliberate = uncertainty > self.last_threshold
        if not deliberate and self.plan_margin is not None and plan_advantage is not None and plan_advantage > self.plan_margin:
            self.plan_triggers += 1
            deliberate = True
        return "deliberative" if deliberate else "reactive"

    def metrics(self) -> dict[str, float]:
        return {
            **super().metrics(),
            "configurator/uncertainty": self.last_uncertainty,
            "configurator/uncertainty_threshold": self.last_threshold,
            "configurator/plan_triggers": float(self.plan_triggers),
        }

    def state_dict(self) -> dict:
        return {
            **super().state_dict(),
            "history": list(self.history),
            "last_threshold": self.last_threshold,
            "plan_triggers": self.plan_triggers,
        }

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.history.clear()
        self.history.extend(state.get("history", []))
        self.last_threshold = state.get("last_threshold", float("nan"))
        self.plan_triggers = state.get("plan_triggers", 0)
