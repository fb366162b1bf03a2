"""``TrajectoryReplay``: episode-end flags, the mask of sampled windows, ring-buffer wrap-around.

Each stored step ``k`` has observation ``k``, action ``k``, reward ``k`` and next observation
``k + 1`` in every component, so a sampled window shows which steps it holds.
"""

from __future__ import annotations

import pytest
import torch

from ami.memory import TrajectoryReplay

OBS_DIM, ACTION_DIM = 3, 2


def add_steps(replay: TrajectoryReplay, steps, terminated_at=(), truncated_at=()) -> None:
    for k in steps:
        replay.add(
            torch.full((1, OBS_DIM), float(k)),
            torch.full((1, ACTION_DIM), float(k)),
            torch.tensor([float(k)]),
            torch.full((1, OBS_DIM), float(k + 1)),
            torch.tensor([1.0 if k in terminated_at else 0.0]),
            torch.tensor([1.0 if k in truncated_at else 0.0]),
        )


def window_steps(batch) -> torch.Tensor:
    """Stored step of each window entry, ``(horizon, batch)``, read from the actions."""
    return batch.actions[..., 0].long()


def test_terminated_and_truncated_stored_apart():
    replay = TrajectoryReplay(capacity=10, obs_dim=OBS_DIM, action_dim=ACTION_DIM, device="cpu", seed=0)
    add_steps(replay, range(6), terminated_at={1}, truncated_at={4})

    batch = replay.sample(batch_size=200, horizon=1)

    steps = window_steps(batch)[0]
    assert torch.equal(batch.terminated[0], (steps == 1).float())
    assert torch.equal(batch.truncated[0], (steps == 4).float())


def test_mask_zeroes_steps_after_episode_end():
    replay = TrajectoryReplay(capacity=20, obs_dim=OBS_DIM, action_dim=ACTION_DIM, device="cpu", seed=0)
    add_steps(replay, range(12), terminated_at={3}, truncated_at={7})

    batch = replay.sample(batch_size=400, horizon=4)

    masks = {int(start): batch.mask[:, i].tolist() for i, start in enumerate(window_steps(batch)[0])}
    assert sorted(masks) == list(range(9))
    assert masks[0] == [1.0, 1.0, 1.0, 1.0]  # step 3 ends the episode, but it is the last step here
    assert masks[2] == [1.0, 1.0, 0.0, 0.0]  # terminated at step 3
    assert masks[3] == [1.0, 0.0, 0.0, 0.0]
    assert masks[4] == [1.0, 1.0, 1.0, 1.0]  # a new episode starts at step 4
    assert masks[5] == [1.0, 1.0, 1.0, 0.0]  # truncated at step 7
    assert masks[7] == [1.0, 0.0, 0.0, 0.0]
    assert masks[8] == [1.0, 1.0, 1.0, 1.0]


def test_mask_matches_flags_everywhere():
    replay = TrajectoryReplay(capacity=50, obs_dim=OBS_DIM, action_dim=ACTION_DIM, device="cpu", seed=1)
    add_steps(replay, range(40), terminated_at={5, 6, 20}, truncated_at={12, 33})

    batch = replay.sample(batch_size=300, horizon=5)

    ended = torch.clamp(batch.terminated + batch.truncated, max=1.0)
    for i in range(batch.batch_size):
        for t in range(batch.horizon):
            expected = 0.0 if ended[:t, i].any() else 1.0
            assert batch.mask[t, i].item() == expected, (window_steps(batch)[0, i].item(), t)


def test_wraparound_windows_stay_contiguous():
    capacity, horizon = 8, 3
    replay = TrajectoryReplay(capacity=capacity, obs_dim=OBS_DIM, action_dim=ACTION_DIM, device="cpu", seed=0)
    # Steps 5 to 12 remain, and step 12 sits just before step 5 in the ring.
    add_steps(replay, range(13))

    batch = replay.sample(batch_size=500, horizon=horizon)

    steps = window_steps(batch)
    starts = steps[0]
    assert len(replay) == capacity
    assert set(starts.tolist()) == set(range(5, 11))
    assert torch.equal(steps - starts, torch.arange(horizon)[:, None].expand_as(steps))
    assert torch.equal(batch.obs[:, 0].long(), starts)
    assert torch.equal(batch.next_obs[..., 0].long(), steps + 1)
    assert torch.equal(batch.rewards.long(), steps)


@pytest.mark.parametrize("num_steps", [8, 9, 15, 16, 17])
def test_wraparound_at_every_position(num_steps):
    capacity, horizon = 8, 4
    replay = TrajectoryReplay(capacity=capacity, obs_dim=OBS_DIM, action_dim=ACTION_DIM, device="cpu", seed=0)
    add_steps(replay, range(num_steps))

    steps = window_steps(replay.sample(batch_size=300, horizon=horizon))

    oldest = num_steps - capacity
    assert set(steps[0].tolist()) == set(range(oldest, num_steps - horizon + 1))
    assert torch.equal(steps - steps[0], torch.arange(horizon)[:, None].expand_as(steps))


def test_sample_before_enough_steps():
    replay = TrajectoryReplay(capacity=8, obs_dim=OBS_DIM, action_dim=ACTION_DIM, device="cpu", seed=0)
    add_steps(replay, range(2))

    with pytest.raises(ValueError) as raised:
        replay.sample(batch_size=4, horizon=3)

    assert str(raised.value) == "cannot sample sub-trajectories of 3 steps from 2 stored steps"


def test_sampling_is_seeded():
    first = TrajectoryReplay(capacity=16, obs_dim=OBS_DIM, action_dim=ACTION_DIM, device="cpu", seed=3)
    second = TrajectoryReplay(capacity=16, obs_dim=OBS_DIM, action_dim=ACTION_DIM, device="cpu", seed=3)
    add_steps(first, range(16))
    add_steps(second, range(16))

    assert torch.equal(first.sample(32, 3).actions, second.sample(32, 3).actions)


def make_replay(capacity: int, seed: int = 0) -> TrajectoryReplay:
    return TrajectoryReplay(capacity=capacity, obs_dim=OBS_DIM, action_dim=ACTION_DIM, device="cpu", seed=seed)


def test_state_dict_restores_wrapped_buffer():
    replay = make_replay(capacity=10)
    add_steps(replay, range(13))
    restored = make_replay(capacity=10, seed=99)

    restored.load_state_dict(replay.state_dict())
    add_steps(replay, range(13, 15))
    add_steps(restored, range(13, 15))

    first, second = replay.sample(batch_size=50, horizon=3), restored.sample(batch_size=50, horizon=3)
    assert len(restored) == 10
    assert torch.equal(window_steps(first), window_steps(second))
    assert torch.equal(first.mask, second.mask)


def test_state_dict_into_larger_buffer():
    replay = make_replay(capacity=10)
    add_steps(replay, range(13))
    larger = make_replay(capacity=20)

    larger.load_state_dict(replay.state_dict())
    add_steps(larger, range(13, 15))

    # Oldest first: steps 3..14 with no gap, so every window is consecutive.
    assert len(larger) == 12
    assert larger.actions[:12, 0].tolist() == [float(k) for k in range(3, 15)]
    steps = window_steps(larger.sample(batch_size=100, horizon=3))
    assert torch.equal(steps[1:] - steps[:-1], torch.ones_like(steps[1:]))


def test_state_dict_into_smaller_buffer():
    replay = make_replay(capacity=10)
    add_steps(replay, range(8))

    with pytest.raises(ValueError, match="contains 8 steps but this one has room for 5"):
        make_replay(capacity=5).load_state_dict(replay.state_dict())


def test_mark_truncated_cuts_windows():
    replay = make_replay(capacity=10)
    add_steps(replay, range(4))
    replay.mark_truncated()
    add_steps(replay, range(4, 8))

    batch = replay.sample(batch_size=200, horizon=2)

    steps = window_steps(batch)
    # A window starting at step 3 must not run into step 4, which began a new episode.
    assert bool((batch.mask[1][steps[0] == 3] == 0).all())
    assert bool((batch.truncated[0][steps[0] == 3] == 1).all())
