"""Ring buffer of transitions in time order, sampled as sub-trajectories."""

from __future__ import annotations

import logging
import os

import torch

from ami.memory.base import REPLAY_BUFFERS, ReplayBuffer
from ami.memory.batch import TrajectoryBatch

logger = logging.getLogger(__name__)


STORED_FIELDS = ("obs", "next_obs", "actions", "rewards", "terminated", "truncated")
PLANNING_FIELDS = ("planned", "planned_actions")
"""Fields missing from replay states saved before the replay recorded planned steps. Loading such a state marks no step as planned."""


@REPLAY_BUFFERS.register("trajectory")
class TrajectoryReplay(ReplayBuffer):
    """Transitions in time order, one stream per env, on ``device``. The oldest are overwritten.

    Env ``e`` owns rows ``[e * stream_capacity, (e + 1) * stream_capacity)`` with
    ``stream_capacity = capacity // num_envs``, a ring buffer of its own steps, so a sampled
    sub-trajectory never mixes two envs. With one env the single stream is the whole buffer.

    A sub-trajectory may start at any stored step whose next ``horizon - 1`` steps of the same
    env were written after it, and every such start is equally likely. Steps after an episode
    end inside the window are returned with ``mask = 0``, so short episodes still contribute
    their last steps.

    Each step also records whether the planner chose its action (``planned``, 0/1) and the
    planner's noise-free action (``planned_actions``, zeros at other steps), the target of
    the policy's distillation term.
    """

    def __init__(
        self, capacity: int, obs_dim: int, action_dim: int, device: torch.device | str, seed: int = 0, num_envs: int = 1
    ) -> None:
        if capacity < 1:
            raise ValueError(f"replay capacity must be positive, got {capacity}")
        if not 1 <= num_envs <= capacity:
            raise ValueError(f"replay num_envs must be between 1 and the capacity {capacity}, got {num_envs}")
        self.num_envs = num_envs
        self.stream_capacity = capacity // num_envs
        # Up to num_envs - 1 rows of a capacity that does not split evenly stay unallocated.
        self.capacity = self.stream_capacity * num_envs
        self.device = torch.device(device)
        check_fits_in_memory(self.estimate_bytes(self.capacity, obs_dim, action_dim), self.device)
        self.obs = torch.zeros(self.capacity, obs_dim, device=self.device)
        self.next_obs = torch.zeros(self.capacity, obs_dim, device=self.device)
        self.actions = torch.zeros(self.capacity, action_dim, device=self.device)
        self.rewards = torch.zeros(self.capacity, device=self.device)
        self.terminated = torch.zeros(self.capacity, device=self.device)
        self.truncated = torch.zeros(self.capacity, device=self.device)
        self.planned = torch.zeros(self.capacity, device=self.device)
        self.planned_actions = torch.zeros(self.capacity, action_dim, device=self.device)
        self.positions = [0] * num_envs
        """Next row to write in each env's stream, relative to the stream's first row."""
        self.sizes = [0] * num_envs
        """Stored steps of each env."""
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)

    def __len__(self) -> int:
        return sum(self.sizes)

    def stored_rows(self) -> torch.Tensor:
        """Return the indices of the rows that contain a stored step, over every env's stream."""
        rows = [env * self.stream_capacity + torch.arange(size) for env, size in enumerate(self.sizes)]
        return torch.cat(rows) if rows else torch.zeros(0, dtype=torch.long)

    @staticmethod
    def estimate_bytes(capacity: int, obs_dim: int, action_dim: int) -> int:
        """Memory of the stored tensors: two observations, two actions and four scalars per step, float32."""
        return 4 * capacity * (2 * obs_dim + 2 * action_dim + 4)

    def add(self, obs, action, reward, next_obs, terminated, truncated, env_ids=None, planned_actions=None) -> None:
        """Append one step of some envs: ``obs (k, obs_dim)``, ``action (k, action_dim)``, the rest ``(k,)``.

        ``env_ids`` lists the env of each row; None means every env in order, so ``k`` must
        then equal ``num_envs``. Envs left out (e.g. on a Gymnasium autoreset step) store nothing.
        ``planned_actions (k, action_dim)``, given when the planner chose the actions, marks the
        rows as planned; None marks them as not planned (reactive or random actions).
        """
        env_list = self._env_list(env_ids, obs.shape[0])
        rows = [env * self.stream_capacity + self.positions[env] for env in env_list]
        index = torch.tensor(rows, device=self.device) if len(rows) > 1 else rows[0]
        if planned_actions is None:
            planned, planned_actions = reward.new_zeros(len(rows)), torch.zeros_like(action)
        else:
            if planned_actions.shape != action.shape:
                raise ValueError(f"planned_actions has shape {tuple(planned_actions.shape)}; expected the action shape {tuple(action.shape)}")
            planned = reward.new_ones(len(rows))
        values = {
            "obs": obs, "actions": action, "rewards": reward, "next_obs": next_obs, "terminated": terminated, "truncated": truncated,
            "planned": planned, "planned_actions": planned_actions,
        }
        for name, value in values.items():
            getattr(self, name)[index] = value if len(rows) > 1 else value[0]
        for env in env_list:
            self.positions[env] = (self.positions[env] + 1) % self.stream_capacity
            self.sizes[env] = min(self.sizes[env] + 1, self.stream_capacity)

    def _env_list(self, env_ids, num_rows: int) -> list[int]:
        """Check ``env_ids`` against ``num_rows`` rows and return them as distinct ints."""
        if env_ids is None:
            if num_rows != self.num_envs:
                raise ValueError(
                    f"{type(self).__name__} got a batch of {num_rows} rows without env_ids but stores {self.num_envs} env(s); "
                    "pass env_ids to store a subset of the envs"
                )
            return list(range(self.num_envs))
        env_list = [int(env) for env in env_ids]
        if len(env_list) != num_rows:
            raise ValueError(f"env_ids has {len(env_list)} entries but the batch has {num_rows} rows")
        if len(set(env_list)) != len(env_list) or not all(0 <= env < self.num_envs for env in env_list):
            raise ValueError(f"env_ids must be distinct envs in [0, {self.num_envs}), got {env_list}")
        if not env_list:
            raise ValueError("env_ids is empty; skip the call when no env has a transition to store")
        return env_list

    def mark_truncated(self, env_ids=None) -> None:
        """Mark the newest stored step of each env in ``env_ids`` (default: every env) as truncated."""
        envs = range(self.num_envs) if env_ids is None else [int(env) for env in env_ids]
        for env in envs:
            if self.sizes[env] > 0:
                newest = (self.positions[env] - 1) % self.stream_capacity
                self.truncated[env * self.stream_capacity + newest] = 1.0

    def state_dict(self) -> dict:
        # Each env's rows oldest first, env after env, so that a larger buffer can take them on resume.
        order = torch.cat([self._stream_rows(env, torch.arange(self.sizes[env], device=self.device)) for env in range(self.num_envs)])
        stored = {name: getattr(self, name)[order].clone() for name in STORED_FIELDS + PLANNING_FIELDS}
        return {**stored, "size": len(self), "stream_sizes": list(self.sizes), "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        """Restore rows saved by ``state_dict``; the capacity may have grown since, never shrunk."""
        size = state["size"]
        stream_sizes = state.get("stream_sizes", [size])
        if len(stream_sizes) != self.num_envs:
            raise ValueError(
                f"the saved replay buffer has streams of {len(stream_sizes)} envs but this one stores {self.num_envs}; "
                "env.num_envs must not change when a run resumes"
            )
        largest = max(stream_sizes)
        if largest > self.stream_capacity:
            per_env = "" if self.num_envs == 1 else " per env"
            raise ValueError(
                f"the saved replay buffer contains {largest} steps{per_env} but this one has room for {self.stream_capacity}; "
                "memory.capacity must not shrink when a run resumes"
            )
        saved_fields = STORED_FIELDS + tuple(name for name in PLANNING_FIELDS if name in state)
        for name in saved_fields:
            target, saved = getattr(self, name), state[name]
            if saved.shape != (size, *target.shape[1:]):
                raise ValueError(f"the saved replay field {name!r} has shape {tuple(saved.shape)}; expected {(size, *target.shape[1:])}")
        rows = torch.cat([env * self.stream_capacity + torch.arange(count, device=self.device) for env, count in enumerate(stream_sizes)])
        for name in PLANNING_FIELDS:
            getattr(self, name)[rows] = 0.0
        for name in saved_fields:
            getattr(self, name)[rows] = state[name].to(self.device)
        self.sizes = [int(count) for count in stream_sizes]
        self.positions = [count % self.stream_capacity for count in self.sizes]
        self.generator.set_state(state["generator"].cpu())

    def _oldest(self, env: int) -> int:
        """Stream offset of the oldest stored step of ``env``, which sits at its position once its stream is full."""
        return self.positions[env] if self.sizes[env] == self.stream_capacity else 0

    def _stream_rows(self, env: int | torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """Buffer rows of the steps ``offsets`` after the oldest step of ``env``."""
        if isinstance(env, int):
            return env * self.stream_capacity + (self._oldest(env) + offsets) % self.stream_capacity
        oldest = torch.tensor([self._oldest(e) for e in range(self.num_envs)], device=self.device)
        return env * self.stream_capacity + (oldest[env] + offsets) % self.stream_capacity

    def sample(self, batch_size: int, horizon: int) -> TrajectoryBatch:
        if max(self.sizes) < horizon:
            longest = "" if self.num_envs == 1 else f" (the longest of {self.num_envs} env streams)"
            raise ValueError(f"cannot sample sub-trajectories of {horizon} steps from {max(self.sizes)} stored steps{longest}")
        envs, offsets = self._sample_starts(batch_size, horizon)
        steps = torch.arange(horizon, device=self.device)
        index = self._stream_rows(envs[None, :], offsets[None, :] + steps[:, None])  # (H, B)
        starts = index[0]

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
            planned=self.planned[index],
            planned_actions=self.planned_actions[index],
        )

    def _sample_starts(self, batch_size: int, horizon: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Envs and start offsets ``(batch_size,)`` of windows that do not run past an env's newest step.

        One draw over the starts of all envs together makes every valid start equally likely.
        """
        counts = [max(size - horizon + 1, 0) for size in self.sizes]
        starts_per_env = torch.tensor(counts, device=self.device)
        first_start = torch.cumsum(starts_per_env, dim=0) - starts_per_env
        flat = torch.randint(sum(counts), (batch_size,), device=self.device, generator=self.generator)
        envs = torch.searchsorted(first_start + starts_per_env, flat, right=True)
        return envs, flat - first_start[envs]


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
