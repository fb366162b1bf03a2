"""A planner registered outside the library, as a user would write it.

A config selects it with ``imports = ["tests.plugins.user_planner"]`` and
``actor.planner.name = "test_random_shooting"``.
"""

from __future__ import annotations

import torch

from ami.actor import PLANNERS, Planner, PlanResult


@PLANNERS.register("test_random_shooting")
class RandomShootingPlanner(Planner):
    """Scores uniform random action sequences and executes the first action of the cheapest.

    ``num_sequences`` comes from ``actor.planner.options``, and ``calls`` counts ``plan`` calls.
    """

    def __init__(self, config, spec, num_sequences: int = 64) -> None:
        self.config = config
        self.num_sequences = num_sequences
        self.action_low = torch.tensor(spec.action_low)
        self.action_high = torch.tensor(spec.action_high)
        self.calls = 0

    @torch.no_grad()
    def plan(self, latent, world_model, cost, policy, previous_plan=None, deterministic=False) -> PlanResult:
        self.calls += 1
        batch = latent.shape[0]
        horizon, num_sequences = self.config.horizon, self.num_sequences
        low, high = self.action_low.to(latent.device), self.action_high.to(latent.device)

        uniform = torch.rand(horizon, num_sequences, batch, low.shape[0], device=latent.device)
        candidates = low + (high - low) * uniform
        flat_actions = candidates.flatten(1, 2)  # (horizon, num_sequences * batch, action_dim)
        latents = [latent.repeat(num_sequences, 1)]
        for t in range(horizon):
            latents.append(world_model.predict(latents[-1], flat_actions[t]))
        scored = cost.trajectory_cost(torch.stack(latents), flat_actions, lambda z: policy(z)[0])

        best = scored.total.view(num_sequences, batch).argmin(dim=0)  # (batch,)
        batch_index = torch.arange(batch, device=latent.device)
        plan = candidates[:, best, batch_index].transpose(0, 1)  # (batch, horizon, action_dim)
        cost_terms = {
            name: value.view(num_sequences, batch)[best, batch_index] for name, value in scored.terms.items()
        }
        return PlanResult(action=plan[:, 0], plan=plan, cost_terms=cost_terms)
