"""Hierarchical planner: MPPI over action chunks at level 1 picks a subgoal, MPPI at level 0 steers to it."""

from __future__ import annotations

import logging
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ami.actor.acceleration import matmul_precision
from ami.actor.base import PLANNERS, Planner, PlanResult, Policy
from ami.actor.landmarks import LandmarkGraph, landmarks_from_replay, place_latents
from ami.actor.memory import BYTES_PER_FLOAT, PlanMemory, rollout_floats_per_row
from ami.actor.mppi import MPPIPlanner
from ami.actor.mppi_update import MIN_TEMPERATURE, mppi_refit
from ami.config.schema import HighLevelPlannerConfig, PlannerConfig
from ami.configurator.goal import GoalSetter
from ami.cost.goal import find_goal_terms, goal_pair_distance, named_goal_terms
from ami.cost.module import CostModule, TrajectoryCost
from ami.memory.replay import TrajectoryReplay
from ami.spec import TaskSpec
from ami.world_model.base import WorldModel
from ami.world_model.hjepa import HJEPAWorldModel
from ami.world_model.level import WorldModelLevel

logger = logging.getLogger(__name__)

SUBGOALS = typing.get_args(typing.get_type_hints(HighLevelPlannerConfig)["subgoal"])
"""Values of ``actor.planner.high_level.subgoal``, read from its type."""


@dataclass(frozen=True)
class LandmarkQuery:
    """Inputs of one landmark-graph lookup, computed from the observations of the plan's batch."""

    start: torch.Tensor
    """``(batch, D1)``: level-1 latents of the places of the observations."""
    goal: torch.Tensor
    """``(batch, D1)``: level-1 latents of the places of their goal observations."""
    goal_entries: torch.Tensor
    """``(batch, len(goal_indices))``: the goal entries of the observations, given back to the waypoints' observations."""
    goal_setter: GoalSetter


class SubgoalMPPI(MPPIPlanner):
    """MPPI over the ``k`` env actions of one level-1 step, with a cost for missing a subgoal.

    The cost of a candidate is the flat planners' trajectory cost, with its goal terms scaled by
    ``goal_weight``, plus ``subgoal_weight`` times the distance between the level-1
    abstraction of its last latent and the subgoal. That distance is the first goal term's
    ``pair_distance`` at level 1 (a learned step count for ``goal_temporal_distance``), or the
    mean squared latent distance when the cost has no goal term. ``plan_to_subgoal`` starts
    from a given mean, the first chunk of the high level's plan, instead of the shifted
    previous plan.
    """

    def __init__(self, config: PlannerConfig, spec: TaskSpec, subgoal_weight: float, goal_weight: float = 1.0, **speed_options) -> None:
        super().__init__(config, spec, **speed_options)
        self.subgoal_weight = subgoal_weight
        self.goal_weight = goal_weight
        self._initial_plan: torch.Tensor | None = None
        self._subgoal: torch.Tensor | None = None
        self._level: WorldModelLevel | None = None

    def plan_to_subgoal(
        self,
        latent: torch.Tensor,
        world_model: WorldModel,
        cost: CostModule,
        policy: Policy,
        initial_plan: torch.Tensor | None,
        subgoal: torch.Tensor,
        level: WorldModelLevel,
        deterministic: bool,
        previous_plan: torch.Tensor | None = None,
    ) -> PlanResult:
        """Plan from ``latent (batch, D0)`` toward ``subgoal (batch, D1)``.

        The search starts at ``initial_plan (horizon, batch, A)``, or without one at the shifted
        ``previous_plan (batch, horizon, A)``, as the flat planner's does.
        """
        self._initial_plan, self._subgoal, self._level = initial_plan, subgoal, level
        try:
            return self.plan(latent, world_model, cost, policy, previous_plan, deterministic)
        finally:
            self._initial_plan, self._subgoal, self._level = None, None, None

    def _initial_mean(self, previous_plan, batch, low, high) -> torch.Tensor:
        if self._initial_plan is None:
            return super()._initial_mean(previous_plan, batch, low, high)
        return self._initial_plan.clone()

    def _step_functions(self, world_model, cost, policy):
        predict, score = super()._step_functions(world_model, cost, policy)
        if self._subgoal is None:
            return predict, score
        subgoal, level, weight, goal_weight = self._subgoal, self._level, self.subgoal_weight, self.goal_weight
        distance = goal_pair_distance(cost)
        goal_names = [name for name, _, _ in named_goal_terms(cost)] if goal_weight != 1.0 else []

        def score_with_subgoal(latents: torch.Tensor, actions: torch.Tensor) -> TrajectoryCost:
            scored = score(latents, actions)
            terms, total = dict(scored.terms), scored.total
            for name in goal_names:
                terms[name] = goal_weight * scored.terms[name]
                total = total + terms[name] - scored.terms[name]
            # Rows are sample-major, so a (num_samples, batch, D1) view lines up with the subgoal of each env.
            batch = subgoal.shape[0]
            abstract = level.abstract(latents[-1]).view(-1, batch, subgoal.shape[-1])
            subgoal_distance = distance(abstract, subgoal.to(abstract.dtype).expand_as(abstract), 1).flatten()  # (num_samples * batch,)
            terms["subgoal"] = weight * subgoal_distance.to(total.dtype)
            return TrajectoryCost(total=total + terms["subgoal"], terms=terms)

        return predict, score_with_subgoal


@PLANNERS.register("hierarchical")
class HierarchicalPlanner(Planner):
    """Two-level model-predictive control in a hierarchical world model (``hjepa``).

    High level: MPPI over action sequences of ``high_level.horizon`` chunks of ``k`` env
    actions, all drawn from the Gaussian (policy candidates seed the low level only). Each chunk is encoded into a macro-action by the level-1 chunk encoder, and all
    candidates of all envs are rolled out with the level-1 predictor, one batched call per
    level-1 step. A candidate's high-level cost is the discounted negative level-1 reward,
    times ``cost.task_weight``, plus each goal term's weight times the discounted distance of
    the level-1 latents to the level-1 goal, when a goal is set. The subgoal is the level-1
    latent after the first chunk of the refit mean sequence.

    Low level: the MPPI of the flat planner over the next ``k`` actions (``actor.planner``
    budget, whose ``horizon`` must equal ``k``), started from the high level's first chunk. Its
    cost is the flat trajectory cost, with the goal terms scaled by
    ``high_level.low_level_goal_weight``, plus ``high_level.subgoal_weight`` times the
    distance between the abstraction of its last latent and the subgoal (see ``SubgoalMPPI``).

    With ``high_level.landmarks`` above 0, ``prepare`` builds a ``LandmarkGraph`` of level-1
    latents of stored observations. The high level's goal cost then measures the distance to a
    waypoint ``high_level.waypoint_hops`` hops along the shortest graph path to the goal, not
    the distance to the goal. Its weight is the sum of the goal terms' weights.

    With ``high_level.subgoal = "waypoint"`` the graph search is the whole high level: the
    waypoint itself is the low level's subgoal, no level-1 rollouts run, and the low level
    starts from its own shifted previous plan. The returned plan is then ``(batch, k,
    action_dim)``. Until the graph exists, the level-1 goal is the subgoal.

    The returned plan ``(batch, k * high_level.horizon, action_dim)`` is the low level's
    refined first chunk followed by the high level's later chunks. Shifted by one step, it
    warm-starts both levels of the next call. Cost terms hold the low level's terms (with
    ``subgoal``) and ``high_level/task``, ``high_level/goal`` and ``high_level/total``. With
    landmarks they also hold ``high_level/path_length``, the graph's length of the path to the
    goal, and ``high_level/waypoint_is_goal``, 1 where the path was short enough to aim at the goal.

    NOTE: the high level has no critic beyond its horizon, because the critic scores level-0
    latents and actions. Its horizon should reach far enough to see what matters.
    """

    def __init__(
        self,
        config: PlannerConfig,
        spec: TaskSpec,
        compile: bool | None = None,
        cuda_graphs: bool | None = None,
        precision: str | None = None,
    ) -> None:
        validate_high_level_config(config.high_level)
        self.config = config
        self.high = config.high_level
        self.low_level = SubgoalMPPI(
            config, spec, config.high_level.subgoal_weight, config.high_level.low_level_goal_weight,
            compile=compile, cuda_graphs=cuda_graphs, precision=precision,
        )
        self.landmarks: LandmarkGraph | None = None
        """Graph of the waypoints, built by ``prepare`` when ``high_level.landmarks`` is above 0."""
        self._query: LandmarkQuery | None = None
        """Observations of the next plan for the landmark graph, set by ``condition``."""
        self._warned: set[str] = set()

    def prepare(self, world_model: WorldModel, cost: CostModule, replay, goal_setter: GoalSetter | None = None) -> None:
        """Rebuild the landmark graph from the replay with the current modules; without ``high_level.landmarks`` do nothing."""
        if self.high.landmarks == 0:
            return
        if not isinstance(replay, TrajectoryReplay):
            raise ValueError(
                f"actor.planner.high_level.landmarks = {self.high.landmarks} needs a replay of state observations, "
                f"got {type(replay).__name__}; set it to 0 for pixel observations"
            )
        self.landmarks = None
        if not find_goal_terms(cost) or goal_setter is None or not goal_setter.enabled:
            self._warn_once(
                "actor.planner.high_level.landmarks = %d has no effect: the run has no goal (configurator.goal and a goal cost "
                "term), so there is no path to plan along; set it to 0", self.high.landmarks,
            )
            return
        if len(replay) < 2:
            self._warn_once(
                "the replay buffer stores %d observation(s), too few for a landmark graph, so the high level plans toward the "
                "goal itself until it stores more", len(replay),
            )
            return
        level_distance = goal_pair_distance(cost)
        self._first_level(world_model)
        self.landmarks = landmarks_from_replay(
            world_model, replay, lambda latent, goal: level_distance(latent, goal, 1),
            self.high.landmarks, self.high.landmark_neighbors, goal_setter,
        )

    def _warn_once(self, message: str, *args) -> None:
        """Log a warning the first time this planner meets ``message``; ``prepare`` runs every 1,000 updates."""
        if message not in self._warned:
            self._warned.add(message)
            logger.warning(message, *args)

    def condition(self, obs: torch.Tensor, world_model: WorldModel, goal_setter: GoalSetter | None = None) -> None:
        """Encode the places of ``obs (batch, obs_dim)`` and of its goal observation, to query the landmark graph."""
        self._query = None
        graph = self.landmarks
        if graph is None or graph.observations is None or goal_setter is None or not goal_setter.enabled:
            return
        start = place_latents(world_model, goal_setter, obs, graph.goal_fill)
        goal = place_latents(world_model, goal_setter, goal_setter.goal_observation(obs), graph.goal_fill)
        self._query = LandmarkQuery(start, goal, obs[:, goal_setter.goal_indices], goal_setter)

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
        level = self._first_level(world_model)
        with matmul_precision(self.low_level.precision, latent.device):
            waypoint, path_length, at_goal = self._waypoint(latent, world_model, cost, level)
            if self.high.subgoal == "plan":
                high_mean, subgoal, high_terms = self._plan_high_level(latent, cost, level, previous_plan, waypoint)
            else:
                high_mean, subgoal, high_terms = None, self._waypoint_or_goal(waypoint, cost, latent), {}
        if path_length is not None:
            high_terms["path_length"] = path_length.float()
            high_terms["waypoint_is_goal"] = at_goal.float()

        k = level.span
        initial_plan = None if high_mean is None else high_mean[:k]
        low = self.low_level.plan_to_subgoal(latent, world_model, cost, policy, initial_plan, subgoal, level, deterministic, previous_plan)
        plan = low.plan  # (batch, k, A) for waypoint subgoals
        if high_mean is not None:
            plan = torch.cat([low.plan, high_mean[k:].transpose(0, 1)], dim=1)  # (batch, k * H_high, A)
        cost_terms = {**low.cost_terms, **{f"high_level/{name}": value for name, value in high_terms.items()}}
        return PlanResult(action=low.action, plan=plan.contiguous(), cost_terms=cost_terms, subgoal=subgoal)

    def memory_estimate(self, batch: int, latent_dim: int, activation_width: int) -> PlanMemory:
        """Return the larger of the two levels' estimates, because the levels plan one after the other.

        With waypoint subgoals no level-1 rollouts run, so the low level's estimate is returned.
        """
        if self.high.subgoal == "waypoint":
            return self.low_level.memory_estimate(batch, latent_dim, activation_width)
        high = self.high
        steps = self.config.horizon * high.horizon  # env actions per high-level candidate
        action_dim = self.low_level.action_low.shape[0]
        floats = high.num_samples * batch * rollout_floats_per_row(steps, action_dim, latent_dim, activation_width)
        high_level = PlanMemory(floats * BYTES_PER_FLOAT, "actor.planner.high_level.num_samples", high.num_samples)
        low_level = self.low_level.memory_estimate(batch, latent_dim, activation_width)
        return max(high_level, low_level, key=lambda estimate: estimate.num_bytes)

    def check_world_model(self, world_model: WorldModel) -> None:
        self._first_level(world_model)

    def _first_level(self, world_model: WorldModel) -> WorldModelLevel:
        if not isinstance(world_model, HJEPAWorldModel):
            raise TypeError(
                f"actor.planner.name = 'hierarchical' needs a hierarchical world model (world_model.name = \"hjepa\"), "
                f"got {type(world_model).__name__}"
            )
        level = world_model.level(1)
        if level.span != self.config.horizon:
            raise ValueError(
                f"actor.planner.horizon = {self.config.horizon} must equal the env steps of one level-1 step, "
                f"world_model.levels[0].k = {level.span}"
            )
        return level

    def _waypoint(
        self, latent: torch.Tensor, world_model: WorldModel, cost: CostModule, level: WorldModelLevel
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """Return the waypoint ``(batch, D1)`` on the landmark graph, the path length ``(batch,)`` and whether the goal is the waypoint ``(batch,)``.

        All three are None without a graph or a goal.
        """
        if self.landmarks is None:
            return None, None, None
        goals = level_one_goals(cost)
        if not goals:
            return None, None, None
        graph, hops = self.landmarks, self.high.waypoint_hops
        query, self._query = self._query, None  # a query serves the plan right after ``condition`` only
        if query is None or query.start.shape[0] != latent.shape[0]:
            # Without observations from ``condition``, the planning latents query the graph as they are.
            node, at_goal, length = graph.waypoint_nodes(level.abstract(latent), goals[0], hops)
            landmark = graph.latents[node]
        else:
            node, at_goal, length = graph.waypoint_nodes(query.start, query.goal, hops)
            # The waypoint's place gets the episode's own goal back, so that its latent lies in the
            # space that both levels plan in, as the goal's latent does.
            landmark = level.abstract(world_model.encode(query.goal_setter.place(graph.observations[node], query.goal_entries)))

        waypoint = torch.where(at_goal[:, None], goals[0], landmark.to(goals[0].dtype))
        return waypoint.to(latent.dtype), length, at_goal

    def _waypoint_or_goal(self, waypoint: torch.Tensor | None, cost: CostModule, latent: torch.Tensor) -> torch.Tensor:
        """Return the subgoal ``(batch, D1)`` of ``high_level.subgoal = "waypoint"``: the waypoint, or the level-1 goal before the graph exists."""
        if waypoint is not None:
            return waypoint
        goals = level_one_goals(cost)
        if not goals:
            raise ValueError(
                'actor.planner.high_level.subgoal = "waypoint" steers the low level to a waypoint toward the goal, but the cost '
                "has no goal set; add a goal term (cost.terms.goal with term = \"goal_temporal_distance\") and configurator.goal"
            )
        return goals[0].to(latent.dtype).expand(latent.shape[0], -1)

    def _plan_high_level(
        self,
        latent: torch.Tensor,
        cost: CostModule,
        level: WorldModelLevel,
        previous_plan: torch.Tensor | None,
        waypoint: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Refine the action sequence at level 1, toward ``waypoint (batch, D1)`` when given.

        Return the mean ``(k * H, batch, A)``, the subgoal and the best candidate's terms.
        """
        high = self.high
        batch = latent.shape[0]
        # Both levels share the action bounds, which the low level keeps on the latent's device.
        low, high_bound = self.low_level._bounds(latent.device)
        action_dim = low.shape[0]
        half_range = (high_bound - low) / 2
        min_std, max_std = self.config.min_std * half_range, self.config.max_std * half_range
        steps = level.span * high.horizon

        mean = self._initial_mean(previous_plan, batch, steps, low, high_bound)  # (T, batch, A)
        std = max_std.expand_as(mean).clone()
        start = level.abstract(latent)  # (batch, D1)
        start_rows = start.repeat(high.num_samples, 1)  # (N * batch, D1), sample-major
        score = self._high_level_score(cost, level, waypoint)

        for _ in range(high.iterations):
            noise = torch.randn(steps, high.num_samples, batch, action_dim, device=latent.device)
            candidates = torch.clamp(mean[:, None] + std[:, None] * noise, low, high_bound)  # (T, N, batch, A)
            latents, rewards = self._rollout(level, start_rows, candidates)
            terms = score(latents, rewards)
            costs = terms["total"].float().view(high.num_samples, batch)

            elite_costs, elite_index = torch.topk(costs, high.num_elites, dim=0, largest=False)  # (K, batch)
            gather_index = elite_index[None, :, :, None].expand(steps, -1, -1, action_dim)
            elite_actions = torch.gather(candidates, 1, gather_index)  # (T, K, batch, A)
            mean, std, _ = mppi_refit(elite_actions, elite_costs, high.temperature)
            mean = torch.clamp(mean, low, high_bound)
            std = torch.maximum(torch.minimum(std, max_std), min_std)

        # The subgoal: where the refit mean's first chunk leads at level 1.
        first_chunk = mean[: level.span].transpose(0, 1)  # (batch, k, A)
        subgoal = level.predict(start, level.encode_actions(first_chunk)).to(latent.dtype)
        best = elite_index[0]  # (batch,): topk sorts, so the first elite is the cheapest
        best_terms = {name: value.float().view(high.num_samples, batch).gather(0, best[None]).squeeze(0) for name, value in terms.items()}
        return mean, subgoal, best_terms

    def _initial_mean(
        self, previous_plan: torch.Tensor | None, batch: int, steps: int, low: torch.Tensor, high: torch.Tensor
    ) -> torch.Tensor:
        """Return the previous plan shifted by one env step, or the middle of the action range: ``(steps, batch, A)``."""
        center = ((low + high) / 2).expand(steps, batch, -1)
        if previous_plan is None or not self.config.warm_start:
            return center.clone()
        previous = previous_plan.transpose(0, 1)  # (T, batch, A)
        if previous.shape != center.shape:
            raise ValueError(
                f"previous plan has shape {tuple(previous_plan.shape)}, expected (batch, k * actor.planner.high_level.horizon, "
                f"action_dim) = {(batch, steps, low.shape[0])}"
            )
        return torch.cat([previous[1:], previous[-1:]], dim=0)

    @staticmethod
    def _rollout(level: WorldModelLevel, start_rows: torch.Tensor, candidates: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Roll candidates ``(k * H, N, batch, A)`` out at level 1: latents ``(H + 1, N * batch, D1)`` and rewards ``(H, N * batch)``."""
        steps, num_samples, batch, action_dim = candidates.shape
        k = level.span
        horizon = steps // k
        # (k * H, N, batch, A) -> (H, k, N * batch, A) -> (H, N * batch, k, A): one chunk per row and level-1 step.
        chunks = candidates.reshape(horizon, k, num_samples * batch, action_dim).transpose(1, 2)
        macro_actions = level.encode_actions(chunks)  # (H, N * batch, M), one call for every chunk
        z = start_rows
        latents, rewards = [z], []
        for h in range(horizon):
            rewards.append(level.reward(z, macro_actions[h]))
            z = level.predict(z, macro_actions[h]).to(start_rows.dtype)
            latents.append(z)
        return torch.stack(latents), torch.stack(rewards)

    def _high_level_score(
        self, cost: CostModule, level: WorldModelLevel, waypoint: torch.Tensor | None = None
    ) -> Callable[[torch.Tensor, torch.Tensor], dict[str, torch.Tensor]]:
        """Return the high-level cost of rollouts by term ``(N * batch,)``: ``task``, ``goal`` when a goal is set, ``total``.

        With a ``waypoint (batch, D1)``, the goal cost is the distance to it, weighted by the sum of the goal terms' weights.
        """
        goal_terms = [(weight, term) for weight, term in find_goal_terms(cost) if term.goal_latent(1) is not None]
        k, discount, task_weight = level.span, cost.discount, cost.task_weight
        goal_cost = self._goal_cost(cost, goal_terms, waypoint)

        def score(latents: torch.Tensor, rewards: torch.Tensor) -> dict[str, torch.Tensor]:
            horizon = rewards.shape[0]
            # Level-1 step h starts k * h env steps ahead, so its reward sum is discounted by discount**(k * h).
            exponents = k * torch.arange(horizon + 1, device=latents.device, dtype=latents.dtype)
            discounts = discount**exponents
            terms = {"task": -task_weight * (discounts[:-1, None] * rewards).sum(dim=0)}
            if goal_cost is not None:
                terms["goal"] = (discounts[1:, None] * goal_cost(latents[1:])).sum(dim=0)
            terms["total"] = torch.stack(list(terms.values())).sum(dim=0)
            return terms

        return score

    def _goal_cost(
        self, cost: CostModule, goal_terms: list, waypoint: torch.Tensor | None
    ) -> Callable[[torch.Tensor], torch.Tensor] | None:
        """Return the weighted goal cost ``(H, N * batch)`` of level-1 latents ``(H, N * batch, D1)``, or None without a goal."""
        if not goal_terms:
            return None
        if waypoint is None:
            return lambda latents: sum(weight * term.distance(latents, level=1) for weight, term in goal_terms)

        distance = goal_pair_distance(cost)
        weight = sum(weight for weight, _ in goal_terms)
        targets = waypoint.repeat(self.high.num_samples, 1)  # (N * batch, D1), sample-major like the rollout rows
        return lambda latents: weight * distance(latents, targets.expand_as(latents), 1)


def level_one_goals(cost: CostModule) -> list[torch.Tensor]:
    """Return the level-1 goal latents ``(num_envs, D1)`` of the cost's goal terms that have one."""
    return [term.goal_latent(1) for _, term in find_goal_terms(cost) if term.goal_latent(1) is not None]


def validate_high_level_config(config: HighLevelPlannerConfig) -> None:
    """Raise ValueError naming the first invalid ``actor.planner.high_level`` field."""
    key = "actor.planner.high_level"
    checks = [
        (config.num_samples >= 1, f"{key}.num_samples must be positive, got {config.num_samples}"),
        (config.horizon >= 1, f"{key}.horizon must be positive, got {config.horizon}"),
        (config.iterations >= 1, f"{key}.iterations must be positive, got {config.iterations}"),
        (
            1 <= config.num_elites <= config.num_samples,
            f"{key}.num_elites must be between 1 and num_samples={config.num_samples}, got {config.num_elites}",
        ),
        (
            MIN_TEMPERATURE <= config.temperature < math.inf,
            f"{key}.temperature must be finite and at least {MIN_TEMPERATURE:.3g} (the smallest normal float32), got {config.temperature}",
        ),
        (
            math.isfinite(config.subgoal_weight) and config.subgoal_weight >= 0,
            f"{key}.subgoal_weight must be finite and >= 0, got {config.subgoal_weight}",
        ),
        (
            math.isfinite(config.low_level_goal_weight) and config.low_level_goal_weight >= 0,
            f"{key}.low_level_goal_weight must be finite and >= 0, got {config.low_level_goal_weight}",
        ),
        (config.landmarks == 0 or config.landmarks >= 2, f"{key}.landmarks must be 0 (no graph) or at least 2, got {config.landmarks}"),
        (config.landmark_neighbors >= 1, f"{key}.landmark_neighbors must be positive, got {config.landmark_neighbors}"),
        (config.waypoint_hops >= 1, f"{key}.waypoint_hops must be positive, got {config.waypoint_hops}"),
        (config.subgoal in SUBGOALS, f"{key}.subgoal must be one of {', '.join(map(repr, SUBGOALS))}, got {config.subgoal!r}"),
        (
            config.subgoal != "waypoint" or config.landmarks > 0,
            f'{key}.subgoal = "waypoint" needs a landmark graph; set {key}.landmarks to at least 2 (e.g. 2000)',
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(message)
