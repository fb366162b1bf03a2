"""World model: a joint-embedding predictive architecture over latent states."""

from ami.world_model.base import WORLD_MODELS, WorldModel, WorldModelLoss
from ami.world_model.hjepa import HJEPAWorldModel
from ami.world_model.jepa import JEPAWorldModel

__all__ = ["HJEPAWorldModel", "JEPAWorldModel", "WORLD_MODELS", "WorldModel", "WorldModelLoss"]
