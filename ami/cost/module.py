"""The cost module: task terms + intrinsic and safety terms + critic, the energy the actor minimizes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ami.cost.base import CostTerm, Critic
from ami.cost.inputs import CostInputs
from ami.cost.quantity_heads import QuantityHeads
from ami.world_model.base import WorldModel

RESERVED_NAMES = ("task", "critic", "total")
"""Names of the cost module's own entries in ``TrajectoryCost.terms`` and the plan's cost terms."""
SAFETY_PREFIX = "safety/"
"""Prefix of safety terms in ``step_terms``, so that they log as ``cost/safety/<name>``."""


@dataclass
class TrajectoryCost:
    """Discounted cost of a batch of latent trajectories, in total and by term."""

    total: torch.Tensor
    """``(batch,)``."""
    terms: dict[str, torch.Tensor]
    """Weighted, discounted contribution ``(batch,)`` of each term: ``task``, each task term,
    intrinsic term and ``safety/<name>`` term by name, and ``critic``; they add up to ``total``."""


class CostModule(nn.Module):
    """``cost = task_weight * (-predicted reward) + sum_i w_i * term_i + sum_j w_j * intrinsic_j
    + sum_k s_k * safety_k + critic_weight * critic``.

    Task terms (``cost.terms``) and ``task_weight`` define the task and can be
    changed between runs or at evaluation. Intrinsic terms (``cost.intrinsic``) and safety
    terms (``cost.safety``) are fixed: ``set_task_weight`` rejects their names, and validation
    keeps safety weights positive, so no task setting switches a safety limit off.

    The per-step cost ``c_t`` of all but the critic is what the critic learns to sum beyond
    the horizon, so planning and TD learning optimize one quantity. Terms marked
    ``planning_only`` (they read the critic) are left out of the TD target.
    """

    def __init__(
        self,
        world_model: WorldModel,
        critic: Critic,
        intrinsic: dict[str, tuple[float, CostTerm]],
        task_weight: float,
        discount: float,
        terms: dict[str, tuple[float, CostTerm]] | None = None,
        safety: dict[str, tuple[float, CostTerm]] | None = None,
        quantity_heads: QuantityHeads | None = None,
        critic_weight: float = 1.0,
    ) -> None:
        super().__init__()
        # The world model is trained and owned elsewhere; keep it out of this module's
        # parameters and state_dict.
        self._world_model = (world_model,)
        self.critic = critic
        terms = terms or {}
        safety = safety or {}
        check_term_names(intrinsic, terms, safety)
        self.intrinsic_weights = {name: weight for name, (weight, _) in intrinsic.items()}
        self.intrinsic = nn.ModuleDict({name: term for name, (_, term) in intrinsic.items()})
        self.term_weights = {name: weight for name, (weight, _) in terms.items()}
        self.terms = nn.ModuleDict({name: term for name, (_, term) in terms.items()})
        self.safety_weights = {name: weight for name, (weight, _) in safety.items()}
        self.safety = nn.ModuleDict({name: term for name, (_, term) in safety.items()})
        self.task_weight = task_weight
        self.critic_weight = critic_weight
        self.discount = discount
        if quantity_heads is None:
            quantity_heads = QuantityHeads("", (), world_model.latent_dim, ())
        self.quantity_heads = quantity_heads
        missing = sorted(set(self.required_quantities()) - set(quantity_heads.names))
        if missing:
            raise ValueError(f"the cost terms read quantities {missing} that have no quantity head; heads: {quantity_heads.names}")

    @property
    def world_model(self) -> WorldModel:
        return self._world_model[0]

    def required_quantities(self) -> list[str]:
        """Sorted names of the physical quantities that some term reads."""
        modules = [*self.terms.values(), *self.intrinsic.values(), *self.safety.values()]
        return sorted({name for term in modules for name in term.quantities})

    def set_task_weight(self, name: str, weight: float) -> None:
        """Set the weight of the task term ``name``, or of the predicted reward with ``name = "task"``.

        Raises KeyError for intrinsic and safety terms, whose weights are fixed when the module is built.
        """
        if name == "task":
            self.task_weight = weight
        elif name in self.terms:
            self.term_weights[name] = weight
        elif name in self.safety or name in self.intrinsic:
            kind = "a safety term" if name in self.safety else "an intrinsic term"
            raise KeyError(f"cannot set the task weight of {name!r}: it is {kind}; task terms: {['task', *self.terms]}")
        else:
            raise KeyError(f"cannot set the task weight of {name!r}: no such term; task terms: {['task', *self.terms]}")

    def step_terms(
        self,
        latent: torch.Tensor,
        action: torch.Tensor,
        reward: torch.Tensor | None = None,
        critic_target: bool = False,
        quantities: dict[str, torch.Tensor] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Weighted per-step terms ``(...)``.

        ``reward`` and ``quantities`` ``(...)`` replace the predicted reward and quantities when
        given, e.g. with values read from real observations. With ``critic_target``, terms
        marked ``planning_only`` are left out.
        """
        inputs = CostInputs(latent, action, self.world_model, self.critic, self.quantity_heads, reward, quantities)
        terms = {"task": -self.task_weight * inputs.reward()}
        groups = (
            ("", self.terms, self.term_weights),
            ("", self.intrinsic, self.intrinsic_weights),
            (SAFETY_PREFIX, self.safety, self.safety_weights),
        )
        for prefix, modules, weights in groups:
            for name, term in modules.items():
                if critic_target and term.planning_only:
                    continue
                terms[prefix + name] = weights[name] * term.evaluate(inputs)
        return terms

    def step_cost(
        self, latent: torch.Tensor, action: torch.Tensor, reward: torch.Tensor | None = None, critic_target: bool = False
    ) -> torch.Tensor:
        """Total per-step cost ``c_t`` ``(...)``."""
        return torch.stack(list(self.step_terms(latent, action, reward, critic_target).values())).sum(dim=0)

    def trajectory_cost(
        self,
        latents: torch.Tensor,
        actions: torch.Tensor,
        terminal_policy: Callable[[torch.Tensor], torch.Tensor],
    ) -> TrajectoryCost:
        """Score rollouts: discounted step costs plus the critic at the horizon.

        Args:
            latents: ``(horizon + 1, batch, latent_dim)``, the start latent and the predicted ones.
            actions: ``(horizon, batch, action_dim)``.
            terminal_policy: maps the last latents ``(batch, latent_dim)`` to the actions
                ``(batch, action_dim)`` that the critic scores.

        A predicted termination stops later costs: each step is weighted by the predicted
        probability that the episode is still running.
        """
        horizon = actions.shape[0]
        step_terms = self.step_terms(latents[:-1], actions)  # each (H, batch)

        # P(alive before step t): 1 for t = 0, then cumulative (1 - p_terminated).
        termination = self.world_model.termination_prob(latents[1:])  # (H, batch)
        alive = torch.cumprod(torch.cat([torch.ones_like(termination[:1]), 1 - termination]), dim=0)
        discounts = self.discount ** torch.arange(horizon + 1, device=latents.device, dtype=latents.dtype)
        step_weights = (discounts[:-1, None] * alive[:-1])  # (H, batch)

        terms = {name: (step_weights * value).sum(dim=0) for name, value in step_terms.items()}
        final_latent = latents[-1]
        critic_cost = self.critic.cost_to_go(final_latent, terminal_policy(final_latent))
        terms["critic"] = self.critic_weight * discounts[-1] * alive[-1] * critic_cost
        total = torch.stack(list(terms.values())).sum(dim=0)
        return TrajectoryCost(total=total, terms=terms)


def check_term_names(*groups: dict[str, tuple[float, CostTerm]]) -> None:
    """Raise ValueError if a term name is reserved or used in two groups of terms."""
    seen: set[str] = set()
    for group in groups:
        for name in group:
            if name in RESERVED_NAMES:
                raise ValueError(f"cost term name {name!r} is reserved; rename the term, names {list(RESERVED_NAMES)} are taken")
            if name in seen:
                raise ValueError(
                    f"cost term name {name!r} is used twice; names must be unique across cost.terms, cost.intrinsic and cost.safety"
                )
            seen.add(name)
