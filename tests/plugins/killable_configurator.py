"""A configurator that kills its own process at a chosen step, as an out-of-memory killer would."""

from __future__ import annotations

import os
import signal

from ami.configurator import CONFIGURATORS
from ami.configurator.fixed import FixedConfigurator

KILL_STEP_VARIABLE = "AMI_TEST_SIGKILL_AT_STEP"
"""Environment variable with the env step at which the process sends itself SIGKILL; unset: never."""


@CONFIGURATORS.register("test_killable")
class KillableConfigurator(FixedConfigurator):
    """Acts like ``fixed``, and sends its process SIGKILL when asked for the mode of the kill step."""

    def choose_mode(self, step: int):
        if str(step) == os.environ.get(KILL_STEP_VARIABLE):
            os.kill(os.getpid(), signal.SIGKILL)
        return super().choose_mode(step)
