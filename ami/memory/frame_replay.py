"""Replay of pixel observations that stores every camera frame once, as uint8."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch

from ami.memory.base import REPLAY_BUFFERS, ReplayBuffer
from ami.memory.batch import TrajectoryBatch
from ami.memory.replay import available_bytes

logger = logging.getLogger(__name__)

STORED_FIELDS = ("frames", "frame_steps", "actions", "rewards", "terminated", "truncated")

REJECTION_ROUNDS = 8
"""Redraws of a sampled start that fell on an episode's first frame. With episodes of at least
5 steps a start is still on one after 8 redraws with probability below (1/6)**9 = 1e-7, and is
then moved to the next slot."""


class FrameMemoryError(MemoryError):
    """The frame replay would not fit in the device's free memory."""


@REPLAY_BUFFERS.register("frames")
class FrameReplay(ReplayBuffer):
    """Single camera frames of one env in time order, on ``device``; stacks are rebuilt when sampled.

    Observations are stacks ``(frames, height, width, 3)`` uint8 whose newest frame is last. A
    step's ``next_obs`` shares all but its newest frame with ``obs``, and ``obs`` is the previous
    step's ``next_obs``, so each slot of the ring stores one frame:

    - an episode's first slot stores its reset frame (``frame_steps == 0``) and no transition;
    - every later slot stores the newest frame of ``next_obs`` with the step's action, reward and
      flags, and ``frame_steps`` counts the frames since the episode's first.

    A stack is rebuilt from the ``frames - 1`` slots before a slot, repeating the episode's first
    frame where the episode is younger than the stack, as ``envs.pixels.PixelObservation`` does.
    Each episode therefore takes one slot more than its steps. Sampling returns the same
    ``TrajectoryBatch`` as ``TrajectoryReplay``, with ``obs (batch, frames, height, width, 3)``
    and ``next_obs (horizon, batch, frames, height, width, 3)``, both uint8.
    """

    def __init__(
        self,
        capacity: int,
        obs_shape: Sequence[int],
        action_dim: int,
        device: torch.device | str,
        seed: int = 0,
        num_envs: int = 1,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"replay capacity must be positive, got {capacity}")
        if num_envs != 1:
            raise ValueError(f"the frame replay stores one env, got num_envs={num_envs}; set env.num_envs = 1 for pixel observations")
        if isinstance(obs_shape, int) or len(obs_shape) != 4 or obs_shape[-1] != 3:
            raise ValueError(
                f"the frame replay stores stacked RGB frames (frames, height, width, 3), got observation shape {obs_shape!r}; "
                "use memory.replay = 'trajectory' for vector observations"
            )
        self.capacity = capacity
        self.obs_shape = tuple(int(n) for n in obs_shape)
        self.frame_stack = self.obs_shape[0]
        self.device = torch.device(device)
        check_frames_fit_in_memory(capacity, self.obs_shape, action_dim, self.device)

        frame_shape = self.obs_shape[1:]
        self.frames = torch.zeros(capacity, *frame_shape, dtype=torch.uint8, device=self.device)
        self.frame_steps = torch.zeros(capacity, dtype=torch.int64, device=self.device)
        self.actions = torch.zeros(capacity, action_dim, device=self.device)
        self.rewards = torch.zeros(capacity, device=self.device)
        self.terminated = torch.zeros(capacity, device=self.device)
        self.truncated = torch.zeros(capacity, device=self.device)
        # Host copies of the frame counters and episode ends, which ``add`` reads at every step.
        self._frame_steps_host = np.zeros(capacity, dtype=np.int64)
        self._ended_host = np.zeros(capacity, dtype=bool)
        self.position = 0
        self.size = 0
        """Stored slots: transitions plus one first-frame slot per episode."""
        self.num_transitions = 0
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)

    def __len__(self) -> int:
        return self.num_transitions

    @staticmethod
    def bytes_per_slot(obs_shape: Sequence[int], action_dim: int) -> int:
        """Device memory of one slot: a uint8 frame, the frame counter (int64), the action and three float32 scalars."""
        _, height, width, colors = obs_shape
        return height * width * colors + 8 + 4 * (action_dim + 3)

    @classmethod
    def estimate_bytes(cls, capacity: int, obs_shape: Sequence[int], action_dim: int) -> int:
        """Device memory of the stored tensors of ``capacity`` slots."""
        return capacity * cls.bytes_per_slot(obs_shape, action_dim)

    def stored_bytes(self) -> int:
        """Device memory that the stored tensors take."""
        return sum(getattr(self, name).nbytes for name in STORED_FIELDS)

    def add(self, obs, action, reward, next_obs, terminated, truncated, env_ids=None, planned_actions=None) -> None:
        """Store one step: ``obs`` and ``next_obs (1, frames, height, width, 3)`` uint8, ``action (1, action_dim)``, the rest ``(1,)``.

        A step that does not continue the newest stored step (the buffer is empty, the previous
        step ended its episode, or the newest frame differs from ``obs``'s) starts an episode, so
        ``obs`` must then repeat one frame, as after ``PixelObservation.reset``.

        NOTE: ``planned_actions`` is accepted for the common call and not stored, so sampled
        batches carry ``planned = None``; validation rejects the distillation term with this replay.
        """
        if obs.shape[0] != 1 or (env_ids is not None and list(env_ids) != [0]):
            raise ValueError(f"{type(self).__name__} stores one env at a time, got a batch of {obs.shape[0]}")
        for name, value in (("obs", obs), ("next_obs", next_obs)):
            if tuple(value.shape[1:]) != self.obs_shape or value.dtype != torch.uint8:
                raise ValueError(
                    f"{name} must be uint8 frames of shape (1, {', '.join(map(str, self.obs_shape))}), "
                    f"got {value.dtype} of shape {tuple(value.shape)}"
                )
        obs, next_obs = obs.to(self.device), next_obs.to(self.device)
        if not self._continues_newest(obs[0]):
            self._start_episode(obs[0])

        newest = (self.position - 1) % self.capacity
        frame_step = int(self._frame_steps_host[newest]) + 1
        self._write(next_obs[0, -1], frame_step, action[0], reward[0], terminated[0], truncated[0])

    def _continues_newest(self, obs: torch.Tensor) -> bool:
        if self.size == 0:
            return False
        newest = (self.position - 1) % self.capacity
        return not self._ended_host[newest] and torch.equal(obs[-1], self.frames[newest])

    def _start_episode(self, obs: torch.Tensor) -> None:
        """Write the first-frame slot of a new episode whose first observation is ``obs``."""
        first_frame = obs[-1]
        if not torch.equal(obs, first_frame.expand_as(obs)):
            raise ValueError(
                "this step starts an episode for the frame replay, but its observation stacks different frames; "
                "the replay rebuilds a first observation by repeating its frame, as envs.pixels.PixelObservation does, "
                "and an episode in progress must continue from the newest stored step"
            )
        newest = (self.position - 1) % self.capacity
        if self.size > 0 and self._frame_steps_host[newest] == 0:
            # The previous episode stored no step (its first step was unstable): reuse its slot.
            self.position = newest
            self.size -= 1
        zero = self.rewards.new_zeros(())
        self._write(first_frame, 0, self.actions.new_zeros(self.actions.shape[1]), zero, zero, zero)

    def _write(self, frame, frame_step, action, reward, terminated, truncated) -> None:
        i = self.position
        if self.size == self.capacity and self._frame_steps_host[i] > 0:
            self.num_transitions -= 1
        self.frames[i] = frame
        self.frame_steps[i] = frame_step
        self.actions[i] = action
        self.rewards[i] = reward
        self.terminated[i] = terminated
        self.truncated[i] = truncated
        self._frame_steps_host[i] = frame_step
        self._ended_host[i] = bool(terminated) or bool(truncated)
        self.num_transitions += frame_step > 0
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def mark_truncated(self, env_ids=None) -> None:
        newest = (self.position - 1) % self.capacity
        if self.size > 0 and self._frame_steps_host[newest] > 0:
            self.truncated[newest] = 1.0
            self._ended_host[newest] = True

    def sample(self, batch_size: int, horizon: int) -> TrajectoryBatch:
        # A start needs frame_stack older slots for its first observation and a next slot for the
        # rare start moved off an episode's first frame.
        lowest, highest = self.frame_stack, self.size - horizon - 1
        if highest < lowest:
            raise ValueError(
                f"cannot sample sub-trajectories of {horizon} steps from {self.size} stored frames; the frame replay needs "
                f"at least frame_stack + horizon + 1 = {self.frame_stack + horizon + 1}"
            )
        starts = self._sample_starts(batch_size, lowest, highest)  # (B,) offsets from the oldest slot
        steps = torch.arange(horizon, device=self.device)
        window = starts[None, :] + steps[:, None]  # (H, B) offsets of the transitions
        index = self._slots(window)

        terminated = self.terminated[index]
        truncated = self.truncated[index]
        # A step is valid while no earlier step ended the episode and no later episode began.
        ended = torch.clamp(terminated + truncated, max=1.0)
        ended_before = torch.cumsum(ended, dim=0) - ended
        episode_starts = torch.cumsum((self.frame_steps[index] == 0).float(), dim=0)
        mask = ((ended_before + episode_starts) == 0).float()

        return TrajectoryBatch(
            obs=self._stacks(starts - 1),
            actions=self.actions[index],
            rewards=self.rewards[index],
            next_obs=self._stacks(window),
            terminated=terminated,
            truncated=truncated,
            mask=mask,
        )

    def _slots(self, offsets: torch.Tensor) -> torch.Tensor:
        """Ring slots of ``offsets`` counted from the oldest stored slot."""
        oldest = self.position if self.size == self.capacity else 0
        return (oldest + offsets) % self.capacity

    def _sample_starts(self, batch_size: int, lowest: int, highest: int) -> torch.Tensor:
        """Draw offsets ``(batch_size,)`` in ``[lowest, highest]`` of transition slots, uniformly but for the rare moved start."""

        def draw() -> torch.Tensor:
            return torch.randint(lowest, highest + 1, (batch_size,), device=self.device, generator=self.generator)

        def is_transition(offsets: torch.Tensor) -> torch.Tensor:
            return self.frame_steps[self._slots(offsets)] > 0

        starts = draw()
        for _ in range(REJECTION_ROUNDS):
            starts = torch.where(is_transition(starts), starts, draw())
        # The slot after a first frame always contains a transition, because episodes without one
        # give their slot to the next episode and the newest slot is never a start.
        return torch.where(is_transition(starts), starts, starts + 1)

    def _stacks(self, offsets: torch.Tensor) -> torch.Tensor:
        """Observations ``(*offsets.shape, frames, height, width, 3)`` whose newest frame is at ``offsets``."""
        frame_steps = self.frame_steps[self._slots(offsets)]
        # Stack position k is the frame (frame_stack - 1 - k) steps back, or the episode's first frame.
        back = torch.arange(self.frame_stack - 1, -1, -1, device=self.device)
        back = torch.minimum(back, frame_steps[..., None])  # (*offsets.shape, frames)
        return self.frames[self._slots(offsets[..., None] - back)]

    def state_dict(self) -> dict:
        # The stored slots, oldest first, so that a larger buffer can take them on resume.
        order = self._slots(torch.arange(self.size, device=self.device))
        stored = {name: getattr(self, name)[order].clone() for name in STORED_FIELDS}
        return {**stored, "size": self.size, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        """Restore slots saved by ``state_dict``; the capacity may have grown since, never shrunk."""
        size = state["size"]
        if size > self.capacity:
            raise ValueError(
                f"the saved frame replay contains {size} slots but this one has room for {self.capacity}; "
                "memory.capacity must not shrink when a run resumes"
            )
        for name in STORED_FIELDS:
            target, saved = getattr(self, name), state[name]
            if tuple(saved.shape) != (size, *target.shape[1:]):
                raise ValueError(f"the saved replay field {name!r} has shape {tuple(saved.shape)}; expected {(size, *target.shape[1:])}")
        for name in STORED_FIELDS:
            getattr(self, name)[:size] = state[name].to(self.device)
        self.size = size
        self.position = size % self.capacity
        self._frame_steps_host[:] = 0
        self._ended_host[:] = False
        self._frame_steps_host[:size] = state["frame_steps"].cpu().numpy()
        self._ended_host[:size] = ((state["terminated"] + state["truncated"]) > 0).cpu().numpy()
        self.num_transitions = int((self._frame_steps_host[:size] > 0).sum())
        self.generator.set_state(state["generator"].cpu())


def check_frames_fit_in_memory(capacity: int, obs_shape: Sequence[int], action_dim: int, device: torch.device) -> None:
    """Log the frame replay's size; raise FrameMemoryError, with the bytes needed and available, if it does not fit."""
    needed = FrameReplay.estimate_bytes(capacity, obs_shape, action_dim)
    available = available_bytes(device)
    per_slot = FrameReplay.bytes_per_slot(obs_shape, action_dim)
    logger.info(
        "frame replay: %d slots x %d bytes = %.1f MiB on %s, %.1f GiB available",
        capacity, per_slot, needed / 2**20, device, available / 2**30,
    )
    if needed > available:
        raise FrameMemoryError(
            f"the frame replay needs {needed:,} bytes ({capacity:,} slots x {per_slot:,} bytes: one "
            f"{obs_shape[1]}x{obs_shape[2]} RGB frame and the step's action, reward and flags) but {device} has "
            f"{available:,} bytes available; lower memory.capacity (by default train.total_steps) or env.image_size"
        )
