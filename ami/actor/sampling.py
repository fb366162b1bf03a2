"""Shared machinery of sampling-based planners (MPPI, CEM): sample, roll out, score, refit."""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Callable

import torch

from ami.actor.acceleration import GuardedCompile, matmul_precision, validate_acceleration
from ami.actor.base import Planner, PlanResult, Policy
from ami.actor.memory import BYTES_PER_FLOAT, PlanMemory, rollout_floats_per_row
from ami.actor.mppi_update import MIN_TEMPERATURE
from ami.config.schema import PlannerConfig
from ami.cost.module import CostModule, TrajectoryCost
from ami.spec import TaskSpec
from ami.world_model.base import WorldModel


class SamplingPlanner(Planner):
    """Iteratively refits a diagonal Gaussian over action sequences to low-cost candidates.

    Each iteration draws ``num_samples`` candidates per state: a share from the policy (rolled
    out once, in the first iteration) and the rest from the Gaussian, clamped to the action
    bounds. All candidates of all states are rolled out together, one world-model call per
    horizon step on a batch of ``num_samples * batch`` latents. Subclasses only define how the
    elites refit the Gaussian.

    Internal layout: candidates ``(horizon, num_samples, batch, action_dim)``, policy samples first.

    Speed options (the ``actor.planner`` fields of these names, which constructor keywords override):

    - ``compile``: run the world-model step and the trajectory scoring through
      ``torch.compile``. When compiling fails, a warning is logged and planning runs
      uncompiled. Compiled random draws (the critic's two members) come from another
      generator, so a seeded plan differs from the uncompiled one.
    - ``cuda_graphs``: with ``compile`` on CUDA, replay the compiled calls as CUDA graphs.
    - ``precision``: ``fp32`` (default), ``tf32`` (CUDA tensor cores, fp32 elsewhere) or
      ``bf16`` (autocast). Costs are compared in fp32 in every case.
    """

    def __init__(
        self,
        config: PlannerConfig,
        spec: TaskSpec,
        compile: bool | None = None,
        cuda_graphs: bool | None = None,
        precision: str | None = None,
    ) -> None:
        self.config = config
        self.num_policy_samples = int(round(config.policy_fraction * config.num_samples))
        self.action_low = torch.tensor(spec.action_low)
        self.action_high = torch.tensor(spec.action_high)
        validate_planner_config(config, self.num_policy_samples)
        # Keyword arguments override the config fields, e.g. from a benchmark's flags.
        compile = config.compile if compile is None else compile
        cuda_graphs = config.cuda_graphs if cuda_graphs is None else cuda_graphs
        precision = config.precision if precision is None else precision
        validate_acceleration(compile, cuda_graphs, precision)
        self.compile = compile
        self.cuda_graphs = cuda_graphs
        self.precision = precision
        self._step_owner: tuple[WorldModel, CostModule, Policy] | None = None
        self._predict: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
        self._score: Callable[[torch.Tensor, torch.Tensor], TrajectoryCost] | None = None

    def _bounds(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Action bounds on ``device``, moved there once so that planning copies nothing from the host."""
        if self.action_low.device != device:
            self.action_low = self.action_low.to(device)
            self.action_high = self.action_high.to(device)
        return self.action_low, self.action_high

    def memory_estimate(self, batch: int, latent_dim: int, activation_width: int) -> PlanMemory:
        config = self.config
        rows = config.num_samples * batch
        floats = rows * rollout_floats_per_row(config.horizon, self.action_low.shape[0], latent_dim, activation_width)
        return PlanMemory(floats * BYTES_PER_FLOAT, "actor.planner.num_samples", config.num_samples)

    @abstractmethod
    def refit(
        self, elite_actions: torch.Tensor, elite_costs: torch.Tensor, mean: torch.Tensor, std: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return the new ``mean`` and ``std`` ``(horizon, batch, action_dim)`` and elite weights ``(num_elites, batch)``.

        ``elite_actions`` is ``(horizon, num_elites, batch, action_dim)``, ``elite_costs`` is
        ``(num_elites, batch)``.
        """

    @torch.no_grad()
    def plan(
        self,
        latent: torch.Tensor,
        world_model: WorldModel,
        cost: CostModule,
        policy: Policy,
        previous_plan: torch.Tensor | None = None,
        deterministic: bool = False,
    ) -> PlanResult:
        with matmul_precision(self.precision, latent.device):
            return self._plan(latent, world_model, cost, policy, previous_plan, deterministic)

    def _plan(
        self,
        latent: torch.Tensor,
        world_model: WorldModel,
        cost: CostModule,
        policy: Policy,
        previous_plan: torch.Tensor | None,
        deterministic: bool,
    ) -> PlanResult:
        config = self.config
        batch, latent_dim = latent.shape
        low, high = self._bounds(latent.device)
        half_range = (high - low) / 2
        min_std, max_std = config.min_std * half_range, config.max_std * half_range

        # Start from the shifted previous plan, or from the middle of the action range.
        mean = self._initial_mean(previous_plan, batch, low, high)  # (H, batch, A)
        std = max_std.expand_as(mean).clone()
        candidates = torch.empty(config.horizon, config.num_samples, batch, low.shape[0], device=latent.device)
        predict, score = self._step_functions(world_model, cost, policy)

        for iteration in range(config.iterations):
            # Draw the Gaussian candidates; the policy candidates are filled during the first rollout.
            num_gaussian = config.num_samples - self.num_policy_samples
            noise = torch.randn(config.horizon, num_gaussian, batch, low.shape[0], device=latent.device)
            gaussian = mean[:, None] + std[:, None] * noise
            candidates[:, self.num_policy_samples :] = torch.clamp(gaussian, low, high)

            latents = self._rollout(latent, candidates, predict, policy, fill_policy=iteration == 0)
            flat_actions = candidates.flatten(1, 2)  # (H, num_samples * batch, A)
            scored = score(latents, flat_actions)
            # bf16 costs have 8 significant bits, too few to rank close candidates.
            costs = scored.total.float().view(config.num_samples, batch)

            # Keep the elites and refit the sampling distribution to them.
            elite_costs, elite_index = torch.topk(costs, config.num_elites, dim=0, largest=False)  # (K, batch)
            gather_index = elite_index[None, :, :, None].expand(config.horizon, -1, -1, low.shape[0])
            elite_actions = torch.gather(candidates, 1, gather_index)  # (H, K, batch, A)
            mean, std, weights = self.refit(elite_actions, elite_costs, mean, std)
            mean = torch.clamp(mean, low, high)
            std = torch.maximum(torch.minimum(std, max_std), min_std)

        action = self._select_action(elite_actions, weights, mean, std, low, high, deterministic)
        best = elite_index[0]  # (batch,): topk sorts, so the first elite is the cheapest.
        cost_terms = {
            name: value.float().view(config.num_samples, batch).gather(0, best[None]).squeeze(0)
            for name, value in scored.terms.items()
        }
        cost_terms["total"] = elite_costs[0]
        return PlanResult(action=action, plan=mean.transpose(0, 1).contiguous(), cost_terms=cost_terms)

    def _initial_mean(self, previous_plan: torch.Tensor | None, batch: int, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        horizon = self.config.horizon
        center = ((low + high) / 2).expand(horizon, batch, -1)
        if previous_plan is None or not self.config.warm_start:
            return center.clone()
        previous = previous_plan.transpose(0, 1)  # (H, batch, A)
        if previous.shape != center.shape:
            raise ValueError(
                f"previous plan has shape {tuple(previous_plan.shape)}, expected "
                f"(batch, horizon, action_dim) = {(batch, horizon, low.shape[0])}"
            )
        # Shift by one step: the first action was executed; repeat the last one.
        return torch.cat([previous[1:], previous[-1:]], dim=0)

    def _step_functions(
        self, world_model: WorldModel, cost: CostModule, policy: Policy
    ) -> tuple[Callable[[torch.Tensor, torch.Tensor], torch.Tensor], Callable[[torch.Tensor, torch.Tensor], TrajectoryCost]]:
        """Return the one-step prediction and the trajectory scoring for these modules, compiled when requested.

        Compiled versions are built once per set of modules and kept, so that compiled code is
        reused across calls. Training updates the parameters in place, which needs no recompiling.
        """

        def score(latents: torch.Tensor, actions: torch.Tensor) -> TrajectoryCost:
            return cost.trajectory_cost(latents, actions, lambda final_latent: policy(final_latent)[0])

        if not self.compile:
            return world_model.predict, score
        owner = (world_model, cost, policy)
        if self._step_owner is None or any(a is not b for a, b in zip(self._step_owner, owner)):
            self._predict = GuardedCompile(world_model.predict, "the world-model step", self.cuda_graphs)
            self._score = GuardedCompile(score, "the trajectory cost", self.cuda_graphs)
            self._step_owner = owner
        return self._predict, self._score

    def _rollout(
        self,
        latent: torch.Tensor,
        candidates: torch.Tensor,
        predict: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        policy: Policy,
        fill_policy: bool,
    ) -> torch.Tensor:
        """Roll all candidates out: latents ``(H + 1, num_samples * batch, latent_dim)``.

        With ``fill_policy`` the policy acts in closed loop for its rows and its actions are
        written into ``candidates``, so later iterations reuse them open loop.
        """
        horizon, num_samples, batch, action_dim = candidates.shape
        policy_rows = self.num_policy_samples * batch
        z = latent.repeat(num_samples, 1)  # (num_samples * batch, D), sample-major like candidates
        latents = [z]
        for t in range(horizon):
            if fill_policy and policy_rows > 0:
                policy_action = policy(z[:policy_rows])[0]
                candidates[t, : self.num_policy_samples] = policy_action.view(self.num_policy_samples, batch, action_dim)
            # Under bf16 autocast the prediction is bf16, so it is cast back to the latent's dtype.
            z = predict(z, candidates[t].reshape(num_samples * batch, action_dim)).to(latent.dtype)
            latents.append(z)
        return torch.stack(latents)

    def _select_action(self, elite_actions, weights, mean, std, low, high, deterministic: bool) -> torch.Tensor:
        """First action ``(batch, A)`` of an elite drawn by weight, plus exploration noise unless deterministic.

        A deterministic plan with ``deterministic_action = "mean"`` returns the refit mean's first action instead.
        """
        if deterministic and self.config.deterministic_action == "mean":
            return torch.clamp(mean[0], low, high)
        chosen = torch.multinomial(weights.T, 1).squeeze(1)  # (batch,)
        batch_index = torch.arange(chosen.shape[0], device=chosen.device)
        first_actions = elite_actions[0, chosen, batch_index]  # (batch, A), inside the bounds like every candidate
        if deterministic:
            return first_actions
        noisy = first_actions + std[0] * torch.randn_like(first_actions)
        return torch.clamp(noisy, low, high)


def validate_planner_config(config: PlannerConfig, num_policy_samples: int) -> None:
    """Raise ValueError naming the first inconsistent planner setting."""
    checks = [
        (config.num_samples >= 1, f"actor.planner.num_samples must be positive, got {config.num_samples}"),
        (config.horizon >= 1, f"actor.planner.horizon must be positive, got {config.horizon}"),
        (config.iterations >= 1, f"actor.planner.iterations must be positive, got {config.iterations}"),
        (
            1 <= config.num_elites <= config.num_samples,
            f"actor.planner.num_elites must be between 1 and num_samples={config.num_samples}, got {config.num_elites}",
        ),
        (
            MIN_TEMPERATURE <= config.temperature < math.inf,
            f"actor.planner.temperature must be finite and at least {MIN_TEMPERATURE:.3g} (the smallest normal float32), "
            f"got {config.temperature}",
        ),
        (
            0 < config.min_std <= config.max_std,
            f"actor.planner needs 0 < min_std <= max_std, got min_std={config.min_std}, max_std={config.max_std}",
        ),
        (
            0 <= config.policy_fraction < 1 and num_policy_samples < config.num_samples,
            f"actor.planner.policy_fraction must be in [0, 1) and leave Gaussian samples, got {config.policy_fraction}",
        ),
        (0 <= config.momentum < 1, f"actor.planner.momentum must be in [0, 1), got {config.momentum}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(message)
