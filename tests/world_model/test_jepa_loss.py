"""The JEPA world-model loss: it can be minimized, and masked steps do not count."""

from __future__ import annotations

import torch

from ami.config import PerceptionConfig, WorldModelConfig
from ami.memory import TrajectoryBatch
from ami.perception import MLPEncoder
from ami.world_model import JEPAWorldModel
from tests.tiny import tiny_spec

SPEC = tiny_spec()
HORIZON, BATCH = 3, 32


def make_world_model(seed: int = 0) -> JEPAWorldModel:
    torch.manual_seed(seed)
    encoder = MLPEncoder(PerceptionConfig(latent_dim=8, hidden_dims=(32,)), SPEC)
    return JEPAWorldModel(WorldModelConfig(hidden_dims=(32,), horizon=HORIZON), SPEC, encoder=encoder)


def random_batch(seed: int = 0) -> TrajectoryBatch:
    generator = torch.Generator().manual_seed(seed)
    return TrajectoryBatch(
        obs=torch.randn(BATCH, SPEC.obs_dim, generator=generator),
        actions=torch.rand(HORIZON, BATCH, SPEC.action_dim, generator=generator) * 2 - 1,
        rewards=torch.randn(HORIZON, BATCH, generator=generator),
        next_obs=torch.randn(HORIZON, BATCH, SPEC.obs_dim, generator=generator),
        terminated=(torch.rand(HORIZON, BATCH, generator=generator) < 0.1).float(),
        truncated=torch.zeros(HORIZON, BATCH),
        mask=torch.ones(HORIZON, BATCH),
    )


def test_jepa_loss_decreases_on_fixed_batch():
    world_model = make_world_model()
    batch = random_batch()
    optimizer = torch.optim.Adam(world_model.parameters(), lr=1e-3)
    initial = world_model.loss(batch)

    # The EMA target encoder stays fixed here, so every step minimizes the same objective.
    for _ in range(200):
        output = world_model.loss(batch)
        optimizer.zero_grad()
        output.loss.backward()
        optimizer.step()
    final = world_model.loss(batch)

    assert final.loss.item() < 0.5 * initial.loss.item()
    assert final.metrics["world_model/latent_loss"].item() < 0.5 * initial.metrics["world_model/latent_loss"].item()
    assert final.metrics["world_model/reward_loss"].item() < 0.75 * initial.metrics["world_model/reward_loss"].item()


def test_jepa_loss_ignores_masked_steps():
    world_model = make_world_model()
    batch = random_batch()
    # Episode ends at step 0 of the first 8 windows, so their steps 1 and 2 are masked.
    batch.terminated[0, :8] = 1.0
    batch.mask[1:, :8] = 0.0
    changed = TrajectoryBatch(**vars(batch))
    changed.rewards = batch.rewards.clone()
    changed.next_obs = batch.next_obs.clone()
    changed.terminated = batch.terminated.clone()
    changed.rewards[1:, :8] += 100.0
    changed.next_obs[1:, :8] += 100.0
    changed.terminated[1:, :8] = 1.0

    with torch.no_grad():
        original = world_model.loss(batch)
        modified = world_model.loss(changed)

    torch.testing.assert_close(modified.loss, original.loss)


def test_jepa_loss_counts_unmasked_steps():
    world_model = make_world_model()
    batch = random_batch()
    changed = TrajectoryBatch(**vars(batch))
    changed.rewards = batch.rewards.clone()
    changed.rewards[1:, :8] += 100.0

    with torch.no_grad():
        original = world_model.loss(batch)
        modified = world_model.loss(changed)

    assert modified.loss.item() > original.loss.item() + 1.0
