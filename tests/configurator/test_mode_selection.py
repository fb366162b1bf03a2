"""Mode selection: the fixed configurator, and the logging and counting of mode switches."""

from __future__ import annotations

import logging

import pytest

from ami.config.schema import Mode
from ami.configurator import Configurator, FixedConfigurator
from tests.tiny import tiny_config, tiny_spec

LOGGER = "ami.configurator.base"


def switch_messages(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if "switches to" in record.getMessage()]


@pytest.mark.parametrize("mode", ["reactive", "deliberative"])
def test_fixed_configurator_mode(mode):
    configurator = FixedConfigurator(tiny_config(f"configurator.mode={mode}"), tiny_spec())

    modes = [configurator.select_mode(step) for step in range(5)]

    assert modes == [mode] * 5


def test_fixed_configurator_logs_one_switch(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    configurator = FixedConfigurator(tiny_config("configurator.mode=deliberative"), tiny_spec())

    for step in range(100, 105):
        configurator.select_mode(step)

    assert switch_messages(caplog) == ["step 100: configurator switches to deliberative mode"]


def test_fixed_configurator_counts_modes():
    configurator = FixedConfigurator(tiny_config("configurator.mode=reactive"), tiny_spec())

    for step in range(4):
        configurator.select_mode(step)

    assert configurator.mode_counts == {"reactive": 4, "deliberative": 0}
    assert configurator.deliberative_share() == 0.0


def test_deliberative_share_before_any_step():
    configurator = FixedConfigurator(tiny_config(), tiny_spec())

    assert configurator.deliberative_share() == 0.0


class AlternatingConfigurator(Configurator):
    """Two steps reactive, then two deliberative, and so on."""

    def choose_mode(self, step: int) -> Mode:
        return "reactive" if step % 4 < 2 else "deliberative"


def test_every_switch_logged(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    configurator = AlternatingConfigurator(tiny_config(), tiny_spec())

    for step in range(7):
        configurator.select_mode(step)

    assert switch_messages(caplog) == [
        "step 0: configurator switches to reactive mode",
        "step 2: configurator switches to deliberative mode",
        "step 4: configurator switches to reactive mode",
        "step 6: configurator switches to deliberative mode",
    ]
    assert configurator.mode_counts == {"reactive": 4, "deliberative": 3}
    assert configurator.deliberative_share() == pytest.approx(3 / 7)
