"""A JEPA world model whose loss turns NaN on chosen updates, to test the training guard."""

from __future__ import annotations

import dataclasses

from ami.world_model import WORLD_MODELS
from ami.world_model.jepa import JEPAWorldModel


@WORLD_MODELS.register("test_nan_jepa")
class NaNInjectingJEPA(JEPAWorldModel):
    """JEPA whose loss is NaN on the updates numbered in ``nan_updates``, counted from 1."""

    def __init__(self, config, spec, encoder, nan_updates=()) -> None:
        super().__init__(config, spec, encoder=encoder)
        self.nan_updates = set(nan_updates)
        self.num_losses = 0

    def loss(self, batch):
        result = super().loss(batch)
        self.num_losses += 1
        if self.num_losses not in self.nan_updates:
            return result
        return dataclasses.replace(result, loss=result.loss * float("nan"))
