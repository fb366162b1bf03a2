"""``ami.memory.frame_replay.FrameReplay``: frames stored once, stacks rebuilt exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ami.memory import REPLAY_BUFFERS
from ami.memory.frame_replay import FrameMemoryError, FrameReplay

STACK, HEIGHT, WIDTH = 3, 4, 5
OBS_SHAPE = (STACK, HEIGHT, WIDTH, 3)
ACTION_DIM = 2


def frame(frame_id: int) -> torch.Tensor:
    """A frame whose pixels encode ``frame_id``, so a rebuilt stack can be checked frame by frame."""
    image = torch.empty(HEIGHT, WIDTH, 3, dtype=torch.uint8)
    image[..., 0], image[..., 1], image[..., 2] = frame_id % 256, frame_id // 256, 9
    return image


def frame_ids(stacks: torch.Tensor) -> torch.Tensor:
    return stacks[..., 0, 0, 0].long() + 256 * stacks[..., 0, 0, 1].long()


def fill(replay: FrameReplay, episode_lengths: list[int], terminate_last: bool = True) -> list[tuple[list[int], list[int]]]:
    """Store episodes as PixelObservation produces them; return each step's (obs ids, next_obs ids)."""
    steps, next_id = [], 0
    for length in episode_lengths:
        ids = [next_id] * STACK
        next_id += 1
        for t in range(length):
            next_ids = ids[1:] + [next_id]
            next_id += 1
            end = t == length - 1 and terminate_last
            replay.add(
                torch.stack([frame(i) for i in ids])[None], torch.full((1, ACTION_DIM), float(next_ids[-1])),
                torch.tensor([float(next_ids[-1])]), torch.stack([frame(i) for i in next_ids])[None],
                torch.tensor([float(end)]), torch.zeros(1),
            )
            steps.append((ids, next_ids))
            ids = next_ids
    return steps


def test_frame_replay_is_registered():
    assert REPLAY_BUFFERS.get("frames") is FrameReplay


def test_frames_stored_once_as_uint8():
    replay = FrameReplay(100, OBS_SHAPE, ACTION_DIM, "cpu")
    frame_bytes = HEIGHT * WIDTH * 3

    assert replay.frames.dtype == torch.uint8
    assert replay.frames.shape == (100, HEIGHT, WIDTH, 3)
    assert FrameReplay.bytes_per_slot(OBS_SHAPE, ACTION_DIM) == frame_bytes + 8 + 4 * (ACTION_DIM + 3)
    assert replay.stored_bytes() == 100 * FrameReplay.bytes_per_slot(OBS_SHAPE, ACTION_DIM)
    assert replay.stored_bytes() == FrameReplay.estimate_bytes(100, OBS_SHAPE, ACTION_DIM)


def test_bytes_per_step_at_64_pixels():
    # One 64x64 RGB frame per step instead of two float32 stacks of three frames.
    per_slot = FrameReplay.bytes_per_slot((3, 64, 64, 3), 6)
    float_stacks = 2 * 4 * 3 * 64 * 64 * 3

    assert per_slot == 64 * 64 * 3 + 8 + 4 * 9
    assert float_stacks / per_slot > 23


def test_each_episode_takes_one_extra_slot():
    replay = FrameReplay(100, OBS_SHAPE, ACTION_DIM, "cpu")
    fill(replay, [5, 7])

    assert len(replay) == 12
    assert replay.size == 14


def test_sampled_stacks_match_observations():
    replay = FrameReplay(200, OBS_SHAPE, ACTION_DIM, "cpu", seed=1)
    steps = fill(replay, [2, 6, 1, 9, 4])
    by_newest_next = {next_ids[-1]: (ids, next_ids) for ids, next_ids in steps}

    batch = replay.sample(64, 3)
    obs_ids, next_ids = frame_ids(batch.obs), frame_ids(batch.next_obs)  # (B, F), (H, B, F)

    assert batch.obs.dtype == torch.uint8
    assert batch.obs.shape == (64, *OBS_SHAPE)
    assert batch.next_obs.shape == (3, 64, *OBS_SHAPE)
    for b in range(64):
        expected_obs, expected_next = by_newest_next[int(next_ids[0, b, -1])]
        assert obs_ids[b].tolist() == expected_obs
        assert next_ids[0, b].tolist() == expected_next
        assert batch.rewards[0, b] == next_ids[0, b, -1]
        for t in range(1, 3):
            if batch.mask[t, b]:
                assert next_ids[t, b].tolist() == by_newest_next[int(next_ids[t, b, -1])][1]
                assert next_ids[t, b, :-1].tolist() == next_ids[t - 1, b, 1:].tolist()


def test_mask_ends_at_episode_boundary():
    replay = FrameReplay(200, OBS_SHAPE, ACTION_DIM, "cpu", seed=2)
    fill(replay, [2, 2, 2, 2, 2, 2])
    batch = replay.sample(128, 3)

    # Every episode has 2 steps, so the third step of a window is never in the same episode.
    assert batch.mask[2].sum() == 0
    assert torch.all(batch.mask[0] == 1)
    # The second step is valid exactly when the first did not terminate.
    assert torch.equal(batch.mask[1], 1 - batch.terminated[0])


def test_ring_overwrite_keeps_stacks_consistent():
    replay = FrameReplay(30, OBS_SHAPE, ACTION_DIM, "cpu", seed=3)
    steps = fill(replay, [7] * 12)
    by_newest_next = {next_ids[-1]: (ids, next_ids) for ids, next_ids in steps}
    batch = replay.sample(128, 2)

    assert replay.size == 30
    assert len(replay) == int((replay.frame_steps > 0).sum())
    for b in range(128):
        expected_obs, _ = by_newest_next[int(frame_ids(batch.next_obs)[0, b, -1])]
        assert frame_ids(batch.obs)[b].tolist() == expected_obs


def test_unstable_first_step_reuses_slot():
    replay = FrameReplay(50, OBS_SHAPE, ACTION_DIM, "cpu")
    fill(replay, [3])
    replay.mark_truncated()
    fill(replay, [3], terminate_last=False)

    assert len(replay) == 6
    assert replay.size == 8
    assert replay.truncated[3] == 1


def test_episode_start_with_mixed_frames_raises():
    replay = FrameReplay(50, OBS_SHAPE, ACTION_DIM, "cpu")
    mixed = torch.stack([frame(1), frame(2), frame(3)])[None]

    with pytest.raises(ValueError, match="repeating its frame"):
        replay.add(mixed, torch.zeros(1, ACTION_DIM), torch.zeros(1), mixed, torch.zeros(1), torch.zeros(1))


def test_too_few_frames_to_sample_raises():
    replay = FrameReplay(50, OBS_SHAPE, ACTION_DIM, "cpu")
    fill(replay, [3])

    with pytest.raises(ValueError, match=r"from 4 stored frames; the frame replay needs at least frame_stack \+ horizon \+ 1 = 7"):
        replay.sample(4, 3)


def test_memory_estimate_fails_early():
    with pytest.raises(FrameMemoryError, match=r"needs [\d,]+ bytes \(10,000,000,000,000 slots x 12,316 bytes.*bytes available"):
        FrameReplay(10**13, (3, 64, 64, 3), 2, "cpu")


def test_state_dict_round_trip_into_larger_buffer():
    replay = FrameReplay(40, OBS_SHAPE, ACTION_DIM, "cpu", seed=4)
    fill(replay, [6] * 8)
    restored = FrameReplay(60, OBS_SHAPE, ACTION_DIM, "cpu")
    restored.load_state_dict(replay.state_dict())

    assert len(restored) == len(replay)
    first, second = replay.sample(16, 2), restored.sample(16, 2)
    assert torch.equal(first.obs, second.obs)
    assert torch.equal(first.next_obs, second.next_obs)
    assert np.array_equal(first.mask.numpy(), second.mask.numpy())


def test_vector_observations_raise():
    with pytest.raises(ValueError, match="use memory.replay = 'trajectory'"):
        FrameReplay(10, 17, ACTION_DIM, "cpu")
