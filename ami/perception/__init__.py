"""Perception: encoders from observations to latent states."""

from ami.perception.base import ENCODERS, Encoder
from ami.perception.conv import ConvEncoder
from ami.perception.mlp import MLPEncoder
from ami.perception.normalizer import RunningNormalizer

__all__ = ["ENCODERS", "ConvEncoder", "Encoder", "MLPEncoder", "RunningNormalizer"]
