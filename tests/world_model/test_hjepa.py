"""The hierarchical JEPA world model: level shapes, the action-chunk encoder, the level losses and EMA targets."""

from __future__ import annotations

import pytest
import torch

from ami.config import PerceptionConfig, WorldModelConfig
from ami.config.schema import LevelConfig
from ami.memory import TrajectoryBatch
from ami.perception import MLPEncoder
from ami.world_model import HJEPAWorldModel, JEPAWorldModel
from ami.world_model.chunk_encoder import ActionChunkEncoder
from tests.tiny import DEVICES, tiny_spec

SPEC = tiny_spec()
LATENT_DIM, LEVEL_DIM, MACRO_DIM = 8, 6, 5
K, LEVEL_HORIZON, HORIZON, BATCH = 3, 2, 3, 32
LENGTH = K * LEVEL_HORIZON
"""Sub-trajectory length the one-level model needs: max(horizon 3, k 3 * level horizon 2)."""


def level_config(**changes) -> LevelConfig:
    values = dict(k=K, latent_dim=LEVEL_DIM, macro_action_dim=MACRO_DIM, hidden_dims=(32,), horizon=LEVEL_HORIZON)
    values.update(changes)
    return LevelConfig(**values)


def make_world_model(levels: tuple[LevelConfig, ...] = (level_config(),), seed: int = 0, cls=HJEPAWorldModel):
    torch.manual_seed(seed)
    encoder = MLPEncoder(PerceptionConfig(latent_dim=LATENT_DIM, hidden_dims=(32,)), SPEC)
    name = "hjepa" if cls is HJEPAWorldModel else "jepa"
    config = WorldModelConfig(name=name, hidden_dims=(32,), horizon=HORIZON, levels=levels if cls is HJEPAWorldModel else ())
    return cls(config, SPEC, encoder=encoder)


def random_batch(length: int = LENGTH, seed: int = 0, device: str = "cpu") -> TrajectoryBatch:
    generator = torch.Generator().manual_seed(seed)
    batch = TrajectoryBatch(
        obs=torch.randn(BATCH, SPEC.obs_dim, generator=generator),
        actions=torch.rand(length, BATCH, SPEC.action_dim, generator=generator) * 2 - 1,
        rewards=torch.randn(length, BATCH, generator=generator),
        next_obs=torch.randn(length, BATCH, SPEC.obs_dim, generator=generator),
        terminated=torch.zeros(length, BATCH),
        truncated=torch.zeros(length, BATCH),
        mask=torch.ones(length, BATCH),
    )
    # The planned fields of a batch without them stay None.
    return TrajectoryBatch(**{name: None if value is None else value.to(device) for name, value in vars(batch).items()})


@pytest.mark.parametrize("device", DEVICES)
def test_level_shapes_and_device(device):
    world_model = make_world_model().to(device)
    level = world_model.level(1)
    latent = world_model.encode(torch.randn(BATCH, SPEC.obs_dim, device=device))
    chunk = torch.rand(BATCH, K, SPEC.action_dim, device=device)

    level_latent = level.abstract(latent)
    macro_action = level.encode_actions(chunk)
    next_level_latent = level.predict(level_latent, macro_action)
    level_reward = level.reward(level_latent, macro_action)
    target = level.abstract_target(world_model.encode_target(torch.randn(BATCH, SPEC.obs_dim, device=device)))

    assert level_latent.shape == (BATCH, LEVEL_DIM)
    assert macro_action.shape == (BATCH, MACRO_DIM)
    assert next_level_latent.shape == (BATCH, LEVEL_DIM)
    assert level_reward.shape == (BATCH,)
    assert target.shape == (BATCH, LEVEL_DIM)
    assert not target.requires_grad
    for tensor in (level_latent, macro_action, next_level_latent, level_reward, target):
        assert tensor.device.type == torch.device(device).type


@pytest.mark.parametrize("device", DEVICES)
def test_loss_shapes_and_tags(device):
    world_model = make_world_model().to(device)

    output = world_model.loss(random_batch(device=device))

    assert output.loss.dim() == 0
    assert output.loss.device.type == torch.device(device).type
    # Level-0 outputs keep the flat model's shapes, so the critic and policy losses are unchanged.
    assert output.latents.shape == (HORIZON + 1, BATCH, LATENT_DIM)
    assert output.target_latents.shape == (HORIZON, BATCH, LATENT_DIM)
    for tag in ("latent_loss", "reward_loss", "variance_loss", "covariance_loss", "embedding_std", "effective_rank", "loss"):
        assert f"world_model/level_1/{tag}" in output.metrics, tag
    for step in range(1, LEVEL_HORIZON + 1):
        assert f"world_model/level_1/latent_loss/step_{step}" in output.metrics
    for tag in ("latent_loss", "reward_loss", "embedding_std", "effective_rank"):
        assert f"world_model/{tag}" in output.metrics, tag


def test_required_sequence_length():
    assert make_world_model().required_sequence_length == LENGTH
    assert make_world_model((level_config(horizon=1),)).required_sequence_length == HORIZON
    two_levels = make_world_model((level_config(k=2, horizon=2), level_config(k=3, horizon=2)))
    assert two_levels.level_spans == (1, 2, 6)
    assert two_levels.required_sequence_length == 12


def test_sequence_length_without_config_raises():
    world_model = make_world_model(cls=JEPAWorldModel)
    del world_model.config

    with pytest.raises(NotImplementedError, match="stores no `config`.*override required_sequence_length"):
        world_model.required_sequence_length


def test_default_level_when_levels_empty():
    world_model = make_world_model(levels=())

    assert world_model.num_levels == 2
    assert world_model.level(1).span == LevelConfig().k


def test_two_levels_loss_tags():
    world_model = make_world_model((level_config(k=2, horizon=2), level_config(k=2, horizon=2)))

    output = world_model.loss(random_batch(length=8))

    assert world_model.abstract(torch.randn(4, LATENT_DIM), level=2).shape == (4, LEVEL_DIM)
    assert "world_model/level_2/latent_loss/step_2" in output.metrics
    assert "world_model/level_2/effective_rank" in output.metrics


def test_loss_rejects_short_batch():
    with pytest.raises(ValueError, match="sub-trajectories of 6 steps"):
        make_world_model().loss(random_batch(length=HORIZON))


def test_missing_level_raises():
    with pytest.raises(IndexError, match="level 2 does not exist"):
        make_world_model().level(2)


def test_level_zero_matches_flat_model():
    # hjepa builds its level-0 modules first, from the same seed, so level 0 is the flat model.
    batch = random_batch()
    flat = make_world_model(cls=JEPAWorldModel)
    hierarchical = make_world_model()

    with torch.no_grad():
        flat_output = flat.loss(batch.prefix(HORIZON))
        hierarchical_output = hierarchical.loss(batch)

    for tag in ("world_model/latent_loss", "world_model/reward_loss", "world_model/effective_rank"):
        torch.testing.assert_close(hierarchical_output.metrics[tag], flat_output.metrics[tag], msg=tag)
    torch.testing.assert_close(hierarchical_output.latents, flat_output.latents)


def test_chunk_encoder_shape():
    encoder = ActionChunkEncoder(K, 2, (16,), MACRO_DIM)

    assert encoder(torch.rand(7, K, 2)).shape == (7, MACRO_DIM)
    assert encoder(torch.rand(4, 7, K, 2)).shape == (4, 7, MACRO_DIM)


def test_chunk_encoder_distinguishes_chunks():
    torch.manual_seed(0)
    encoder = ActionChunkEncoder(K, 2, (16,), MACRO_DIM)
    chunk = torch.rand(1, K, 2) * 2 - 1
    reversed_chunk = chunk.flip(1)
    other_chunk = chunk.clone()
    other_chunk[0, 1, 0] += 0.5

    with torch.no_grad():
        macro, macro_reversed, macro_other = encoder(chunk), encoder(reversed_chunk), encoder(other_chunk)

    assert (macro - macro_reversed).abs().max() > 1e-3
    assert (macro - macro_other).abs().max() > 1e-3


def test_chunk_encoder_rejects_wrong_shape():
    encoder = ActionChunkEncoder(K, 2, (16,), MACRO_DIM)

    with pytest.raises(ValueError, match=r"expected \(\.\.\., chunk_length, action_dim\) = \(\.\.\., 3, 2\)"):
        encoder(torch.rand(5, K + 1, 2))


def test_level_loss_decreases_on_fixed_batch():
    world_model = make_world_model()
    batch = random_batch()
    optimizer = torch.optim.Adam(world_model.parameters(), lr=1e-3)
    initial = world_model.loss(batch).metrics

    # The EMA targets stay fixed here, so every step minimizes the same objective.
    for _ in range(200):
        output = world_model.loss(batch)
        optimizer.zero_grad()
        output.loss.backward()
        optimizer.step()
    final = world_model.loss(batch).metrics

    assert final["world_model/level_1/loss"] < 0.5 * initial["world_model/level_1/loss"]
    assert final["world_model/level_1/latent_loss"] < 0.5 * initial["world_model/level_1/latent_loss"]
    assert final["world_model/level_1/reward_loss"] < 0.75 * initial["world_model/level_1/reward_loss"]


def test_level_loss_ignores_chunks_after_episode_end():
    world_model = make_world_model()
    batch = random_batch()
    # The first 8 windows truncate at env step 1, inside the first chunk, so no level-1 step counts for them.
    batch.truncated[1, :8] = 1.0
    batch.mask[2:, :8] = 0.0
    changed = TrajectoryBatch(**vars(batch))
    changed.next_obs = batch.next_obs.clone()
    changed.rewards = batch.rewards.clone()
    changed.next_obs[:, :8] += 100.0
    changed.rewards[:, :8] += 100.0

    with torch.no_grad():
        original = world_model.loss(batch).metrics
        modified = world_model.loss(changed).metrics

    torch.testing.assert_close(modified["world_model/level_1/latent_loss"], original["world_model/level_1/latent_loss"])
    torch.testing.assert_close(modified["world_model/level_1/reward_loss"], original["world_model/level_1/reward_loss"])


def test_level_reward_counts_terminated_chunk():
    world_model = make_world_model()
    batch = random_batch()
    # The first 8 windows terminate at env step 1: the first chunk's reward sum still counts.
    batch.terminated[1, :8] = 1.0
    batch.mask[2:, :8] = 0.0
    changed = TrajectoryBatch(**vars(batch))
    changed.rewards = batch.rewards.clone()
    changed.rewards[0, :8] += 100.0

    with torch.no_grad():
        original = world_model.loss(batch).metrics
        modified = world_model.loss(changed).metrics

    assert modified["world_model/level_1/reward_loss"] > original["world_model/level_1/reward_loss"] + 1.0


@pytest.mark.parametrize("tau", [0.01, 0.5])
def test_level_ema_follows_rule(tau):
    world_model = make_world_model()
    world_model.config = WorldModelConfig(name="hjepa", hidden_dims=(32,), horizon=HORIZON, target_tau=tau, levels=(level_config(),))
    level = world_model.level(1)
    with torch.no_grad():
        for parameter in level.abstraction.parameters():
            parameter.add_(torch.randn_like(parameter))
    before = [p.detach().clone() for p in level.target_abstraction.parameters()]
    online = [p.detach().clone() for p in level.abstraction.parameters()]
    encoder_before = [p.detach().clone() for p in world_model.target_encoder.parameters()]

    world_model.update_targets()

    for old, new, source in zip(before, level.target_abstraction.parameters(), online):
        torch.testing.assert_close(new, (1 - tau) * old + tau * source)
    # The level-0 target moves by the same rule, so both levels keep their EMA targets.
    for old, new, source in zip(encoder_before, world_model.target_encoder.parameters(), world_model.encoder.parameters()):
        torch.testing.assert_close(new, (1 - tau) * old + tau * source.detach())
    assert all(not p.requires_grad for p in level.target_abstraction.parameters())


def test_level_targets_get_no_gradient():
    world_model = make_world_model()

    world_model.loss(random_batch()).loss.backward()

    level = world_model.level(1)
    assert all(p.grad is None for p in level.target_abstraction.parameters())
    assert all(p.grad is not None for p in level.abstraction.parameters())
    assert all(p.grad is not None for p in level.chunk_encoder.parameters())
