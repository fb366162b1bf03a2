"""A configurator that signals its own process at a chosen step, as a user or the system would."""

from __future__ import annotations

import os
import signal

from ami.configurator import CONFIGURATORS
from ami.configurator.fixed import FixedConfigurator

KILL_STEP_VARIABLE = "AMI_TEST_SIGKILL_AT_STEP"
"""Environment variable with the env step at which the process signals itself; unset: never."""
SIGNAL_VARIABLE = "AMI_TEST_SIGNAL"
"""Environment variable with the signal's name, e.g. ``SIGINT``; unset: SIGKILL."""


@CONFIGURATORS.register("test_killable")
class KillableConfigurator(FixedConfigurator):
    """Acts like ``fixed``, and signals its process when asked for the mode of the kill step.

    The signal arrives in the middle of an env step, before the agent acts.
    """

    def choose_mode(self, step: int):
        if str(step) == os.environ.get(KILL_STEP_VARIABLE):
            os.kill(os.getpid(), getattr(signal, os.environ.get(SIGNAL_VARIABLE, "SIGKILL")))
        return super().choose_mode(step)
