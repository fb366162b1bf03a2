"""Analytic matrix-multiply FLOPs of one call of a sampling planner.

Counting rule: every matrix product of ``m x k`` by ``k x n`` counts ``2 * m * k * n`` FLOPs
(one multiply and one add per term), for each ``nn.Linear`` and each member of an
``EnsembleLinear`` that the planner evaluates. Bias adds, LayerNorm, activations, the cost
arithmetic, sampling, the elite selection and the refit are not counted. This is the
model-FLOPs convention, so FLOP/s over the matmul peak is the share of the wall time the
planner would need if it ran only its matrix products, at peak rate.

One call of a planner with ``num_samples`` N, ``iterations`` I, ``horizon`` H, ``P`` policy
samples and ``B`` environments evaluates, on ``rows = N * B`` latents:

- per iteration and horizon step: the latent predictor, the reward head and, when present,
  the termination head, each on ``rows`` rows;
- per iteration, at the horizon: the policy (the critic's action) and two critic members,
  each on ``rows`` rows, because ``EnsembleCritic.cost_to_go`` averages two random members;
- in the first iteration only: the policy on ``P * B`` rows per horizon step, for the
  policy candidates.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ami.actor.sampling import SamplingPlanner
from ami.cost.critic import EnsembleCritic
from ami.cost.module import CostModule
from ami.nn import EnsembleLinear
from ami.world_model.jepa import JEPAWorldModel

CRITIC_MEMBERS_PER_CALL = 2
"""Members that ``EnsembleCritic.cost_to_go`` evaluates on every row."""


def linear_flops_per_row(module: nn.Module) -> int:
    """FLOPs per input row of the ``nn.Linear`` layers of ``module``: ``2 * in * out`` each."""
    return sum(2 * layer.in_features * layer.out_features for layer in module.modules() if isinstance(layer, nn.Linear))


def ensemble_flops_per_row_and_member(module: nn.Module) -> int:
    """FLOPs per input row of one member of the ``EnsembleLinear`` layers of ``module``."""
    total = 0
    for layer in module.modules():
        if isinstance(layer, EnsembleLinear):
            _, in_dim, out_dim = layer.weight.shape
            total += 2 * in_dim * out_dim
    return total


@dataclass(frozen=True)
class PlanningFlops:
    """Matrix-multiply FLOPs of one planner call, by network."""

    predictor: int
    reward: int
    termination: int
    critic: int
    policy: int

    @property
    def total(self) -> int:
        return self.predictor + self.reward + self.termination + self.critic + self.policy


def planning_flops(
    planner: SamplingPlanner, world_model: nn.Module, cost: CostModule, policy: nn.Module, batch: int
) -> PlanningFlops:
    """Count the FLOPs of one ``planner.plan`` call for ``batch`` environments (rule in the module docstring).

    Raises TypeError for a world model other than ``JEPAWorldModel`` or a critic other than
    ``EnsembleCritic``, because the count depends on which networks they evaluate.
    """
    if not isinstance(world_model, JEPAWorldModel):
        raise TypeError(f"FLOP counting supports JEPAWorldModel only, got {type(world_model).__name__}")
    if not isinstance(cost.critic, EnsembleCritic):
        raise TypeError(f"FLOP counting supports EnsembleCritic only, got {type(cost.critic).__name__}")
    config = planner.config
    rows = config.num_samples * batch
    step_rows = config.iterations * config.horizon * rows
    termination = 0
    if world_model.termination_head is not None:
        termination = step_rows * linear_flops_per_row(world_model.termination_head)
    policy_rows = config.iterations * rows + config.horizon * planner.num_policy_samples * batch
    critic_per_row = CRITIC_MEMBERS_PER_CALL * ensemble_flops_per_row_and_member(cost.critic.net)
    return PlanningFlops(
        predictor=step_rows * linear_flops_per_row(world_model.predictor),
        reward=step_rows * linear_flops_per_row(world_model.reward_head),
        termination=termination,
        critic=config.iterations * rows * critic_per_row,
        policy=policy_rows * linear_flops_per_row(policy),
    )
