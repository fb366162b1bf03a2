"""Ring buffer of transitions in time order, sampled as sub-trajectories."""

from __future__ import annotations

import logging
import os

import torch

from ami.memory.base import REPLAY_BUFFERS, ReplayBuffer
from ami.memory.batch import TrajectoryBatch

logger = logging.getLogger(__name__)


STORED_FIELDS = ("obs", "next_obs", "actions", "rewards", "terminated", "truncated")


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

    def mark_truncated(self) -> None:
        if self.size > 0:
            self.truncated[(self.position - 1) % self.capacity] = 1.0

    def state_dict(self) -> dict:
        # The stored rows, oldest first, so that a larger buffer can take them on resume.
        order = (self._oldest() + torch.arange(self.size, device=self.device)) % self.capacity
        stored = {name: getattr(self, name)[order].clone() for name in STORED_FIELDS}
        return {**stored, "size": self.size, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        """Restore rows saved by ``state_dict``; the capacity may have grown since, never shrunk."""
        size = state["size"]
        if size > self.capacity:
            raise ValueError(
                f"the saved replay buffer contains {size} steps but this one has room for {self.capacity}; "
                "memory.capacity must not shrink when a run resumes"
            )
        for name in STORED_FIELDS:
            target, saved = getattr(self, name), state[name]
            if saved.shape != (size, *target.shape[1:]):
                raise ValueError(f"the saved replay field {name!r} has shape {tuple(saved.shape)}; expected {(size, *target.shape[1:])}")
        for name in STORED_FIELDS:
            getattr(self, name)[:size] = state[name].to(self.device)
        self.size = size
        self.position = size % self.capacity
        self.generator.set_state(state["generator"].cpu())

    def _oldest(self) -> int:
        """Index of the oldest stored step, which sits at ``position`` once the buffer is full."""
        return self.position if self.size == self.capacity else 0

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
        return (self._oldest() + offsets) % self.capacity


def check_fits_in_memory(num_bytes: int, device: torch.device) -> None:
    """Log the replay buffer's size; raise ValueError, with the figures, if it exceeds the free memory."""
    available = available_bytes(device)
    logger.info("replay buffer: %.1f MiB on %s, %.1f GiB available", num_bytes / 2**20, device, available / 2**30)
    if num_bytes > available:
        raise ValueError(
            f"the replay buffer needs {num_bytes / 2**30:.1f} GiB but {device} has {available / 2**30:.1f} GiB available; "
            "lower memory.capacity (by default it equals train.total_steps)"
        )


def available_bytes(device: torch.device) -> int:
    """Free memory of ``device``: the CUDA free memory, or the host's MemAvailable where Linux reports it."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    # Other systems: the total physical memory, an upper bound.
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
