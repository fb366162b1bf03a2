"""A configurator that acts in one configured mode."""

from __future__ import annotations

from ami.config.schema import Mode
from ami.configurator.base import CONFIGURATORS, Configurator


@CONFIGURATORS.register("fixed")
class FixedConfigurator(Configurator):
    """Always the mode of ``configurator.mode``."""

    def choose_mode(self, step: int) -> Mode:
        return self.config.configurator.mode
