"""Ring buffer of transitions in time order, sampled as sub-trajectories."""

from __future__ import annotations

import os

import torch

from ami.memory.base import REPLAY_BUFFERS, ReplayBuffer
from ami.memory.batch import TrajectoryBatch


@REPLAY_BUFFERS.register("trajectory")
class TrajectoryReplay(ReplayBuffer):
    """Transitions of one env in time order, on ``device``; the oldest are overwritten.

    A sub-trajectory may start at any stored step whose next ``horizon - 1`` steps were written
    after it. Steps after an episode end inside the window are returned with ``mask = 0``, so
    short episodes still contribute their last steps.
    """

    def __init__(self, capacity: int, obs_dim: int, action_dim: int, device: torch.device | str, seed: int = 0) -> None:
        if capacity < 1:
            raise ValueError(f"replay capacity must be positive, got {capacity}")
        self.capacity = capacity
        self.device = torch.device(device)
        check_fits_in_memory(self.estimate_bytes(capacity, obs_dim, action_dim), self.device)
        self.obs = torch.zeros(capacity, obs_dim, device=self.device)
        self.next_obs = torch.zeros(capacity, obs_dim, device=self.device)
        self.actions = torch.zeros(capacity, action_dim, device=self.device)
        self.rewards = torch.zeros(capacity, device=self.device)
        self.terminated = torch.zeros(capacity, device=self.device)
        self.truncated = torch.zeros(capacity, device=self.device)
        self.position = 0
        self.size = 0
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)

    def __len__(self) -> int:
        return self.size

    @staticmethod
    def estimate_bytes(capacity: int, obs_dim: int, action_dim: int) -> int:
        """Memory of the stored tensors: two observations, an action and three scalars per step, float32."""
        return 4 * capacity * (2 * obs_dim + action_dim + 3)

    def add(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        num_envs = obs.shape[0]
        if num_envs != 1:
            raise ValueError(f"{type(self).__name__} stores one env at a time, got a batch of {num_envs}")
        i = self.position
        self.obs[i] = obs[0]
        self.actions[i] = action[0]
        self.rewards[i] = reward[0]
        self.next_obs[i] = next_obs[0]
        self.terminated[i] = terminated[0]
        self.truncated[i] = truncated[0]
        self.position = (self.position + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, horizon: int) -> TrajectoryBatch:
        if self.size < horizon:
            raise ValueError(f"cannot sample sub-trajectories of {horizon} steps from {self.size} stored steps")
        starts = self._sample_starts(batch_size, horizon)
        steps = torch.arange(horizon, device=self.device)
        index = (starts[None, :] + steps[:, None]) % self.capacity  # (H, B)

        terminated = self.terminated[index]
        truncated = self.truncated[index]
        # A step is valid while no earlier step of the window ended its episode.
        ended = torch.clamp(terminated + truncated, max=1.0)
        ended_before = torch.cumsum(ended, dim=0) - ended
        mask = (ended_before == 0).float()

        return TrajectoryBatch(
            obs=self.obs[starts],
            actions=self.actions[index],
            rewards=self.rewards[index],
            next_obs=self.next_obs[index],
            terminated=terminated,
            truncated=truncated,
            mask=mask,
        )

    def _sample_starts(self, batch_size: int, horizon: int) -> torch.Tensor:
        """Start indices ``(batch_size,)`` whose windows do not run past the newest step."""
        num_starts = self.size - horizon + 1
        offsets = torch.randint(num_starts, (batch_size,), device=self.device, generator=self.generator)
        # Count from the oldest stored step, which sits at ``position`` once the buffer is full.
        oldest = self.position if self.size == self.capacity else 0
        return (oldest + offsets) % self.capacity


def check_fits_in_memory(num_bytes: int, device: torch.device) -> None:
    """Raise ValueError, with the figures, if ``num_bytes`` exceed the device's total memory."""
    if device.type == "cuda":
        available = torch.cuda.get_device_properties(device).total_memory
    else:
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if num_bytes > available:
        raise ValueError(
            f"the replay buffer needs {num_bytes / 2**30:.1f} GiB but {device} has {available / 2**30:.1f} GiB; "
            "lower memory.capacity (by default it equals train.total_steps)"
        )
