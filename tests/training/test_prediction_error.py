"""The evaluation-time prediction error leaves the replay's stream of random draws alone."""

from __future__ import annotations

import torch

from ami.build import build_modules
from ami.training.prediction_error import prediction_errors
from tests.tiny import tiny_config, tiny_spec


def test_prediction_errors_keep_replay_draws():
    spec = tiny_spec()
    config = tiny_config()
    modules = build_modules(config, spec, torch.device("cpu"))
    replay = modules.replay
    for _ in range(20):
        obs = torch.randn(1, spec.obs_dim)
        replay.add(obs, torch.zeros(1, spec.action_dim), torch.ones(1), obs + 1, torch.zeros(1), torch.zeros(1))
    length = modules.world_model.required_sequence_length
    state = replay.generator.get_state()
    expected = replay.sample(4, length)
    replay.generator.set_state(state)

    errors = prediction_errors(modules.world_model, replay, 4)
    after = replay.sample(4, length)

    assert list(errors) == [0]
    assert len(errors[0]) == config.world_model.horizon
    assert torch.equal(after.obs, expected.obs)
    assert torch.equal(after.actions, expected.actions)
