"""Turn the goal in a goal-conditioned observation into the goal of the goal cost terms."""

from __future__ import annotations

import torch

from ami.config.loader import ConfigError
from ami.config.schema import GoalConfig
from ami.cost.goal import find_goal_terms
from ami.spec import TaskSpec
from ami.world_model.base import WorldModel
from ami.world_model.hjepa import HJEPAWorldModel


class GoalSetter:
    """Builds the goal observation from the current one and sets the goal latents of every level.

    The goal observation is the observation with ``position_indices`` replaced by the entries
    at ``goal_indices`` and ``zero_indices`` set to 0. The online encoder encodes it, as it
    encodes the states that planning starts from, so the goal and the predicted latents share
    one space. A hierarchical world model abstracts it to each of its levels.
    """

    def __init__(self, config: GoalConfig, spec: TaskSpec) -> None:
        for name in ("goal_indices", "position_indices", "zero_indices"):
            indices = getattr(config, name)
            outside = [index for index in indices if not 0 <= index < spec.obs_dim]
            if outside:
                raise ConfigError(
                    f"invalid value {list(indices)!r} for 'configurator.goal.{name}'; task {spec.task!r} has "
                    f"{spec.obs_dim} observation entries, so indices must be in [0, {spec.obs_dim - 1}]"
                )
        if len(config.goal_indices) != len(config.position_indices):
            raise ConfigError(
                "'configurator.goal.goal_indices' and 'configurator.goal.position_indices' must have the same length"
            )
        self.config = config
        self.goal_indices = list(config.goal_indices)
        self.position_indices = list(config.position_indices)
        self.zero_indices = list(config.zero_indices)

    @property
    def enabled(self) -> bool:
        """Whether the task's observation contains a goal."""
        return bool(self.goal_indices)

    def without_goal(self, obs: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
        """Return ``obs (..., obs_dim)`` with its goal entries set to ``fill``, ``(len(goal_indices),)`` or one row per observation.

        With one ``fill`` for all, states of episodes with different goals compare by the ball
        alone, as the landmarks of a planning graph must.
        """
        goal_free = obs.clone()
        goal_free[..., self.goal_indices] = fill.to(obs.dtype)
        return goal_free

    def place(self, obs: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
        """Return the place of ``obs (..., obs_dim)``: its goal entries set to ``fill`` and ``zero_indices`` set to 0.

        A place keeps what a goal observation keeps: the position. Nodes of a planning graph
        then differ by where the ball is, not by its speed or its goal.
        """
        place = self.without_goal(obs, fill)
        place[..., self.zero_indices] = 0.0
        return place

    def goal_observation(self, obs: torch.Tensor) -> torch.Tensor:
        """Goal observation ``(batch, obs_dim)`` of observations ``(batch, obs_dim)``."""
        goal_obs = obs.clone()
        goal_obs[..., self.position_indices] = obs[..., self.goal_indices]
        goal_obs[..., self.zero_indices] = 0.0
        return goal_obs

    @torch.no_grad()
    def set_goal(self, obs: torch.Tensor, world_model: WorldModel, cost: torch.nn.Module) -> None:
        """Set the goal of every goal term of ``cost`` from observations ``(num_envs, obs_dim)``.

        Does nothing when the cost module has no goal term. Raises ConfigError when it has one
        but ``configurator.goal`` does not say where the goal is.
        """
        terms = find_goal_terms(cost)
        if not terms:
            return
        if not self.enabled:
            raise ConfigError(
                "the cost module has a goal_latent_distance term but configurator.goal.goal_indices is empty; "
                "set configurator.goal.goal_indices and configurator.goal.position_indices"
            )
        goal_latents = latents_by_level(world_model, self.goal_observation(obs))
        for _, term in terms:
            term.set_goal(goal_latents)


def latents_by_level(world_model: WorldModel, obs: torch.Tensor) -> list[torch.Tensor]:
    """Encode observations ``(batch, obs_dim)`` and abstract them to every level: ``[(batch, latent_dim_l)]``, level 0 first."""
    latents = [world_model.encode(obs)]
    if isinstance(world_model, HJEPAWorldModel):
        for level in range(1, world_model.num_levels):
            latents.append(world_model.level(level).abstract(latents[-1]))
    return latents
