"""``ami.nn.ema_update``: target <- (1 - tau) * target + tau * online for parameters, copies for buffers."""

from __future__ import annotations

import copy

import pytest
import torch

from ami.config import CriticConfig, PerceptionConfig, WorldModelConfig
from ami.cost import EnsembleCritic
from ami.nn import ema_update
from ami.perception import MLPEncoder
from ami.world_model import JEPAWorldModel
from tests.tiny import tiny_spec

SPEC = tiny_spec()


def make_encoder(seed: int) -> MLPEncoder:
    """Encoder with a running normalizer, so that it has buffers as well as parameters."""
    torch.manual_seed(seed)
    return MLPEncoder(PerceptionConfig(latent_dim=4, hidden_dims=(8,)), SPEC)


def make_pair() -> tuple[MLPEncoder, MLPEncoder]:
    """Target and online encoders whose parameters and buffers all differ."""
    target, online = make_encoder(seed=0), make_encoder(seed=1)
    target.observe(torch.randn(16, SPEC.obs_dim))
    online.observe(3 + 2 * torch.randn(32, SPEC.obs_dim))
    return target, online


def expected_parameters(target, online, tau: float) -> list[torch.Tensor]:
    """The rule computed in float64, for comparison with the float32 update."""
    return [
        (1 - tau) * t.detach().double() + tau * o.detach().double()
        for t, o in zip(target.parameters(), online.parameters())
    ]


@pytest.mark.parametrize("tau", [0.01, 0.3, 0.9])
def test_ema_parameters_follow_rule(tau):
    target, online = make_pair()
    expected = expected_parameters(target, online, tau)

    ema_update(target, online, tau)

    for (name, updated), want in zip(target.named_parameters(), expected):
        torch.testing.assert_close(updated.double(), want, rtol=1e-6, atol=1e-7, msg=name)


def test_ema_tau_zero_keeps_target():
    target, online = make_pair()
    before = copy.deepcopy(target)

    ema_update(target, online, 0.0)

    for (name, updated), original in zip(target.named_parameters(), before.parameters()):
        assert torch.equal(updated, original), name


def test_ema_tau_one_copies_online():
    target, online = make_pair()

    ema_update(target, online, 1.0)

    for (name, updated), source in zip(target.named_parameters(), online.parameters()):
        assert torch.equal(updated, source), name


def test_ema_copies_buffers():
    target, online = make_pair()
    assert not torch.equal(target.normalizer.mean, online.normalizer.mean)

    ema_update(target, online, 0.01)

    assert torch.equal(target.normalizer.mean, online.normalizer.mean)
    assert torch.equal(target.normalizer.var, online.normalizer.var)
    assert torch.equal(target.normalizer.count, online.normalizer.count)


def test_ema_leaves_online_unchanged():
    target, online = make_pair()
    before = copy.deepcopy(online)

    ema_update(target, online, 0.3)

    for (name, value), original in zip(online.state_dict().items(), before.state_dict().values()):
        assert torch.equal(value, original), name


def test_jepa_update_targets_uses_config_tau():
    tau = 0.25
    world_model = JEPAWorldModel(WorldModelConfig(hidden_dims=(8,), target_tau=tau), SPEC, encoder=make_encoder(seed=0))
    with torch.no_grad():
        for parameter in world_model.encoder.parameters():
            parameter.add_(torch.randn_like(parameter))
    expected = expected_parameters(world_model.target_encoder, world_model.encoder, tau)

    world_model.update_targets()

    for (name, updated), want in zip(world_model.target_encoder.named_parameters(), expected):
        torch.testing.assert_close(updated.double(), want, rtol=1e-6, atol=1e-7, msg=name)


def test_critic_update_targets_uses_config_tau():
    tau = 0.25
    torch.manual_seed(0)
    critic = EnsembleCritic(CriticConfig(num_critics=2, hidden_dims=(8,), target_tau=tau), latent_dim=4, action_dim=2)
    with torch.no_grad():
        for parameter in critic.net.parameters():
            parameter.add_(torch.randn_like(parameter))
    expected = expected_parameters(critic.target_net, critic.net, tau)

    critic.update_targets()

    for (name, updated), want in zip(critic.target_net.named_parameters(), expected):
        torch.testing.assert_close(updated.double(), want, rtol=1e-6, atol=1e-7, msg=name)
