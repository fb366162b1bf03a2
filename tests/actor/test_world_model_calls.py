"""The planner calls the world model once per horizon step and iteration, on every candidate at once.

A counting wrapper around a real JEPA world model records the batch of each ``predict`` call.
"""

from __future__ import annotations

import pytest
import torch

from ami.build import build_modules
from ami.memory import TrajectoryBatch
from ami.world_model import WorldModel, WorldModelLoss
from tests.tiny import HORIZON, tiny_config, tiny_spec

SPEC = tiny_spec()
NUM_SAMPLES = 16
ITERATIONS = 2


class CountingWorldModel(WorldModel):
    """Delegates to ``inner`` and records the latent shape of every ``predict`` call."""

    def __init__(self, inner: WorldModel) -> None:
        super().__init__()
        self.inner = inner
        self.latent_dim = inner.latent_dim
        self.encoder = inner.encoder
        self.predict_shapes: list[tuple[int, ...]] = []

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        return self.inner.encode(obs)

    def encode_target(self, obs: torch.Tensor) -> torch.Tensor:
        return self.inner.encode_target(obs)

    def predict(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        self.predict_shapes.append(tuple(latent.shape))
        return self.inner.predict(latent, action)

    def reward(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.inner.reward(latent, action)

    def termination_prob(self, next_latent: torch.Tensor) -> torch.Tensor:
        return self.inner.termination_prob(next_latent)

    def loss(self, batch: TrajectoryBatch) -> WorldModelLoss:
        return self.inner.loss(batch)

    def update_targets(self) -> None:
        self.inner.update_targets()


@pytest.mark.parametrize("planner_name", ["mppi", "cem"])
@pytest.mark.parametrize("num_envs", [1, 5])
def test_predict_calls_per_action(planner_name, num_envs):
    torch.manual_seed(0)
    config = tiny_config(
        f"actor.planner.name={planner_name}",
        f"actor.planner.num_samples={NUM_SAMPLES}",
        f"actor.planner.iterations={ITERATIONS}",
    )
    modules = build_modules(config, SPEC, torch.device("cpu"))
    world_model = CountingWorldModel(modules.world_model)
    latent = world_model.encode(torch.randn(num_envs, SPEC.obs_dim)).detach()
    previous_plan = None

    for call in range(1, 3):
        result = modules.actor.planner.plan(latent, world_model, modules.cost, modules.actor.policy, previous_plan)
        previous_plan = result.plan

        assert len(world_model.predict_shapes) == call * HORIZON * ITERATIONS
    full_batch = (NUM_SAMPLES * num_envs, world_model.latent_dim)
    assert all(shape == full_batch for shape in world_model.predict_shapes), world_model.predict_shapes
    assert result.action.shape == (num_envs, SPEC.action_dim)
