"""Checks of the pixel-observation settings and of the encoder that reads them."""

from __future__ import annotations

from ami.config.loader import ConfigError
from ami.config.schema import RunConfig


def validate_pixels(config: RunConfig) -> None:
    """Raise ConfigError for pixel settings out of range or an encoder that does not fit the observations."""
    env, perception = config.env, config.perception
    if env.image_size < 1:
        raise ConfigError(f"invalid value {env.image_size!r} for 'env.image_size'; it must be a positive number of pixels")
    if env.frame_stack < 1:
        raise ConfigError(f"invalid value {env.frame_stack!r} for 'env.frame_stack'; it must be at least 1")
    if not env.camera.strip():
        raise ConfigError("'env.camera' is empty; use \"auto\" for the task's default view or a camera name of the model")
    if perception.conv_channels < 1:
        raise ConfigError(f"invalid value {perception.conv_channels!r} for 'perception.conv_channels'; it must be at least 1")
    if perception.random_shift < 0:
        raise ConfigError(f"invalid value {perception.random_shift!r} for 'perception.random_shift'; it must be >= 0 (0 turns it off)")
    if env.pixels and perception.name == "mlp":
        raise ConfigError("perception.name = 'mlp' reads state vectors; pixel observations (env.pixels = true) need perception.name = 'conv'")
    if not env.pixels and perception.name == "conv":
        raise ConfigError("perception.name = 'conv' reads camera frames; set env.pixels = true, or use perception.name = 'mlp'")
    if not env.pixels:
        return

    if perception.random_shift >= env.image_size:
        raise ConfigError(
            f"invalid value {perception.random_shift!r} for 'perception.random_shift'; it shifts frames by up to that many "
            f"pixels, so it must be below env.image_size = {env.image_size}"
        )

    if config.configurator.goal.goal_indices:
        raise ConfigError(
            "'configurator.goal' names entries of the state observation, but env.pixels = true observes camera frames; "
            "remove configurator.goal and the goal_latent_distance term, or set env.pixels = false"
        )

    if config.train.seed_steps < env.frame_stack + config.world_model.horizon:
        raise ConfigError(
            f"invalid value {config.train.seed_steps!r} for 'train.seed_steps'; with pixel observations it must be at least "
            f"env.frame_stack + world_model.horizon = {env.frame_stack + config.world_model.horizon}, because the frame "
            "replay needs the frames of one observation before the first sub-trajectory"
        )
    if env.num_envs > 1:
        # NOTE: the frame replay stores the episodes of one env; several envs would interleave their frames.
        raise ConfigError(f"invalid value {env.num_envs!r} for 'env.num_envs'; pixel observations support one env, set env.num_envs = 1")
