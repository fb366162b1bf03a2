"""Goal cost that follows the corridors: a learned temporal distance between a latent and the goal's."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from ami.cost.base import COST_TERMS
from ami.cost.goal import GoalLatentDistance
from ami.nn import ema_update, mlp
from ami.spec import TaskSpec


class TemporalDistanceHead(nn.Module):
    """Head that predicts the discounted number of env steps from a latent to a goal latent, >= 0.

    The input is ``[latent, goal, latent - goal]``, because the difference makes the zero
    distance of a latent to itself easy to express.
    """

    def __init__(self, latent_dim: int, hidden_dims: Sequence[int]) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.net = mlp(3 * latent_dim, hidden_dims, 1)

    def forward(self, latent: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        """Return the distance ``(...)`` from ``latent (..., D)`` to ``goal (..., D)``."""
        features = torch.cat([latent, goal, latent - goal], dim=-1)
        return nn.functional.softplus(self.net(features).squeeze(-1))


@COST_TERMS.register("goal_temporal_distance")
class GoalTemporalDistance(GoalLatentDistance):
    """Goal cost: the learned number of env steps to the goal, at every level.

    The squared latent distance of ``goal_latent_distance`` ranks states as the straight line
    does, so a wall between the ball and the goal is a local minimum. This term learns how many
    steps separate two states instead. One head per level maps ``(latent, goal latent)`` to the
    discounted step count ``(1 - discount ** d) / (1 - discount)`` of a shortest path of ``d``
    steps, at most ``1 / (1 - discount)``.

    Training is reward-free, on replay windows of ``window`` steps with hindsight goals, as in
    HIQL (Park et al., NeurIPS 2023, arXiv:2307.11949). The goal of a transition ``(s_t,
    s_t+1)`` is ``s_t`` itself (a share ``self_goal_share``, distance 0), a later state of the
    same episode (a share ``future_goal_share``), or a state of another window. The TD target
    is ``1 + discount * d_target(s_t+1, goal)``. For a later goal of the same episode it is at
    most the discounted count of the steps that the replay took to reach it, so exactly 1 when
    ``s_t+1`` is the goal. The loss is an expectile regression with weight ``expectile`` on
    overestimates, so the heads learn the shortest distance that the replay's transitions
    allow rather than the behaviour's mean. The learner trains the heads on detached online
    latents, so they never change the world model, and ``target_tau`` moves their EMA targets.
    """

    def __init__(
        self,
        spec: TaskSpec,
        latent_dims: Sequence[int] = (),
        hidden_dims: Sequence[int] = (256, 256),
        discount: float = 0.99,
        expectile: float = 0.7,
        target_tau: float = 0.01,
        window: int = 64,
        num_windows: int = 64,
        num_pairs: int = 512,
        self_goal_share: float = 0.1,
        future_goal_share: float = 0.5,
    ) -> None:
        super().__init__(spec)
        check_options(latent_dims, discount, expectile, target_tau, window, num_windows, num_pairs, self_goal_share, future_goal_share)
        self.discount = float(discount)
        self.expectile = float(expectile)
        self.target_tau = float(target_tau)
        self.window = int(window)
        self.num_windows = int(num_windows)
        self.num_pairs = int(num_pairs)
        self.self_goal_share = float(self_goal_share)
        self.future_goal_share = float(future_goal_share)
        self.heads = nn.ModuleList([TemporalDistanceHead(dim, tuple(hidden_dims)) for dim in latent_dims])
        self.target_heads = copy.deepcopy(self.heads).requires_grad_(False)

    @property
    def max_distance(self) -> float:
        """Largest discounted step count, ``1 / (1 - discount)``."""
        return 1.0 / (1.0 - self.discount)

    def pair_distance(self, latent: torch.Tensor, goal: torch.Tensor, level: int = 0) -> torch.Tensor:
        return self.heads[level](latent, goal.to(latent.dtype))

    def loss(self, latents: list[torch.Tensor], mask: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Compute the expectile TD loss of every level on replay windows and return it with metrics by TensorBoard tag.

        Args:
            latents: per level, ``(W + 1, B, D_l)``, detached: the latents of each window's
                first observation, then of the observation after each of its ``W`` actions.
            mask: ``(W, B)``, float 0/1: transition ``t`` belongs to the window's first episode.
        """
        pairs = self._sample_pairs(mask)
        total = mask.new_zeros(())
        metrics = {}
        for level, level_latents in enumerate(latents):
            level_loss, level_metrics = self._level_loss(level, level_latents, pairs)
            total = total + level_loss
            metrics.update({f"goal_distance/level_{level}/{name}": value for name, value in level_metrics.items()})
        return total, metrics

    def update_targets(self) -> None:
        ema_update(self.target_heads, self.heads, self.target_tau)

    def _sample_pairs(self, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """Draw ``num_pairs`` transitions and their goals from windows with validity ``mask (W, B)``.

        Returns ``(num_pairs,)`` index tensors: the window ``b`` and step ``t`` of each
        transition, and the window ``goal_b`` and state index ``goal_j`` of its goal (state
        ``j`` follows ``j`` actions). ``kind`` is 0 for the state itself, 1 for a later state
        of its episode and 2 for another window's state.
        """
        num_windows = mask.shape[1]
        device = mask.device
        valid = mask.sum(dim=0).long()  # (B,): transitions 0 to valid - 1 are in the window's first episode
        b = torch.randint(num_windows, (self.num_pairs,), device=device)
        t = (torch.rand(self.num_pairs, device=device) * valid[b]).long()

        draw = torch.rand(self.num_pairs, device=device)
        kind = torch.full_like(b, 2)
        kind[draw < self.self_goal_share + self.future_goal_share] = 1
        kind[draw < self.self_goal_share] = 0

        # A later state of the same episode: j uniform in [t + 1, valid].
        later = t + 1 + (torch.rand(self.num_pairs, device=device) * (valid[b] - t)).long()
        other_b = torch.randint(num_windows, (self.num_pairs,), device=device)
        other_j = (torch.rand(self.num_pairs, device=device) * (valid[other_b] + 1)).long()
        goal_b = torch.where(kind == 2, other_b, b)
        goal_j = torch.where(kind == 0, t, torch.where(kind == 1, later, other_j))
        return {"b": b, "t": t, "goal_b": goal_b, "goal_j": goal_j, "kind": kind}

    def _level_loss(self, level: int, latents: torch.Tensor, pairs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Compute the expectile TD loss of the head of ``level`` on ``latents (W + 1, B, D)``."""
        b, t, kind = pairs["b"], pairs["t"], pairs["kind"]
        state, next_state = latents[t, b], latents[t + 1, b]
        goal = latents[pairs["goal_j"], pairs["goal_b"]]

        with torch.no_grad():
            bootstrap = self.target_heads[level](next_state, goal)
            target = (1.0 + self.discount * bootstrap).clamp(max=self.max_distance)
            # The replay reached a later goal of its episode in goal_j - t steps, so the shortest
            # path is no longer. This bound gives long-range targets before TD has propagated.
            steps = (pairs["goal_j"] - t).to(target.dtype)
            replay_bound = (1.0 - self.discount**steps) / (1.0 - self.discount)
            target = torch.where(kind == 1, torch.minimum(target, replay_bound), target)
            target = torch.where(kind == 0, torch.zeros_like(target), target)

        predicted = self.heads[level](state, goal)
        error = target - predicted
        # Overestimates (error < 0) get the weight ``expectile``, so the heads lean toward the shortest path.
        weight = torch.where(error < 0, self.expectile, 1.0 - self.expectile)
        loss = (weight * error.square()).mean()
        future = (kind == 1).to(predicted.dtype)
        metrics = {
            "loss": loss.detach(),
            "distance": predicted.detach().mean(),
            # A masked mean, so that the metric needs no device-to-host copy.
            "future_goal_distance": (predicted.detach() * future).sum() / future.sum().clamp_min(1.0),
        }
        return loss, metrics


def check_options(
    latent_dims: Sequence[int], discount: float, expectile: float, target_tau: float, window: int,
    num_windows: int, num_pairs: int, self_goal_share: float, future_goal_share: float,
) -> None:
    """Raise ValueError naming the first option out of its range."""
    if not latent_dims or any(int(dim) < 1 for dim in latent_dims):
        raise ValueError(f"invalid latent_dims {list(latent_dims)!r}: list the latent width (at least 1) of every world-model level")
    checks = [
        ("discount", discount, 0 < discount < 1, "in (0, 1)"),
        ("expectile", expectile, 0 < expectile < 1, "in (0, 1): 0.5 learns the replay's mean distance, and higher values lean toward the shortest"),
        ("target_tau", target_tau, 0 < target_tau <= 1, "in (0, 1]"),
        ("window", window, window >= 2, "an integer >= 2"),
        ("num_windows", num_windows, num_windows >= 1, "an integer >= 1"),
        ("num_pairs", num_pairs, num_pairs >= 1, "an integer >= 1"),
        ("self_goal_share", self_goal_share, 0 <= self_goal_share <= 1, "in [0, 1]"),
        ("future_goal_share", future_goal_share, 0 <= future_goal_share <= 1, "in [0, 1]"),
    ]
    for name, value, ok, expected in checks:
        if not ok:
            raise ValueError(f"invalid value {value!r} for option {name!r} of goal_temporal_distance; it must be {expected}")
    if self_goal_share + future_goal_share > 1:
        raise ValueError(
            f"self_goal_share + future_goal_share is {self_goal_share + future_goal_share}; it must be at most 1 "
            "(the rest of the goals come from other windows)"
        )
