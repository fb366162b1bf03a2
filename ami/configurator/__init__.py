"""Configurator: derives module settings from the task and picks the acting mode."""

from ami.configurator.adaptive import AdaptiveConfigurator
from ami.configurator.base import CONFIGURATORS, Configurator
from ami.configurator.fixed import FixedConfigurator
from ami.configurator.settings import ModuleSettings, heuristic_discount, resolve_settings

__all__ = ["AdaptiveConfigurator", "CONFIGURATORS", "Configurator", "FixedConfigurator", "ModuleSettings", "heuristic_discount", "resolve_settings"]
