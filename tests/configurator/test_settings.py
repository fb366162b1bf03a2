"""Settings that the configurator derives for config fields set to ``auto``."""

from __future__ import annotations

import dataclasses

import pytest

from ami.configurator import ModuleSettings, heuristic_discount, resolve_settings
from tests.tiny import tiny_config, tiny_spec

# Episode length -> discount whose horizon 1 / (1 - discount) is a fifth of the episode,
# clipped to [0.95, 0.99].
DISCOUNTS = {
    50: 0.95,  # 1 - 1/10 = 0.9, clipped up
    100: 0.95,  # 1 - 1/20, exactly the lower clip
    150: 29 / 30,
    200: 0.975,
    250: 0.98,
    500: 0.99,  # 1 - 1/100, exactly the upper clip
    1000: 0.99,  # 1 - 1/200 = 0.995, clipped down
}


@pytest.mark.parametrize(("episode_length", "expected"), DISCOUNTS.items(), ids=[str(n) for n in DISCOUNTS])
def test_heuristic_discount(episode_length, expected):
    assert heuristic_discount(episode_length) == pytest.approx(expected, abs=1e-12)


def test_auto_settings_from_task():
    config = tiny_config("memory.capacity=auto", "train.total_steps=5000", "train.seed_steps=300")
    spec = dataclasses.replace(tiny_spec(), max_episode_steps=200)

    settings = resolve_settings(config, spec)

    assert settings == ModuleSettings(discount=0.975, replay_capacity=5000, pretrain_updates=300)


def test_explicit_settings_kept():
    config = tiny_config("cost.discount=0.9", "memory.capacity=123", "train.pretrain_updates=7")

    settings = resolve_settings(config, tiny_spec())

    assert settings == ModuleSettings(discount=0.9, replay_capacity=123, pretrain_updates=7)
