"""``TrajectoryReplay`` with several envs: one stream per env, never mixed in a sampled window.

Stored step ``k`` of env ``e`` carries the code ``1000 * e + k`` in its observation, action and
reward, and ``1000 * e + k + 1`` in its next observation, so a sampled window shows its env and steps.
"""

from __future__ import annotations

import pytest
import torch

from ami.memory import TrajectoryReplay
from ami.memory.replay import PLANNING_FIELDS, STORED_FIELDS

OBS_DIM, ACTION_DIM = 3, 2
ENV_CODE = 1000


def make_replay(capacity: int, num_envs: int, seed: int = 0) -> TrajectoryReplay:
    return TrajectoryReplay(capacity=capacity, obs_dim=OBS_DIM, action_dim=ACTION_DIM, device="cpu", seed=seed, num_envs=num_envs)


def add_vector_step(replay: TrajectoryReplay, steps: dict[int, int], terminated=(), truncated=()) -> None:
    """Store step ``steps[env]`` of each env in ``steps``; envs left out store nothing."""
    env_ids = sorted(steps)
    codes = torch.tensor([float(ENV_CODE * env + steps[env]) for env in env_ids])
    replay.add(
        codes[:, None].expand(-1, OBS_DIM),
        codes[:, None].expand(-1, ACTION_DIM),
        codes,
        (codes + 1)[:, None].expand(-1, OBS_DIM),
        torch.tensor([1.0 if env in terminated else 0.0 for env in env_ids]),
        torch.tensor([1.0 if env in truncated else 0.0 for env in env_ids]),
        env_ids=torch.tensor(env_ids),
    )


def window_codes(batch) -> torch.Tensor:
    """Code of each window entry, ``(horizon, batch)``, read from the actions."""
    return batch.actions[..., 0].long()


def test_windows_never_mix_envs():
    replay = make_replay(capacity=60, num_envs=3)
    for k in range(12):
        add_vector_step(replay, {0: k, 1: k, 2: k})

    codes = window_codes(replay.sample(batch_size=500, horizon=4))

    envs = codes // ENV_CODE
    assert torch.equal(envs, envs[0].expand_as(envs))
    assert torch.equal(codes - codes[0], torch.arange(4)[:, None].expand_as(codes))
    assert set(envs[0].tolist()) == {0, 1, 2}


def test_skipped_env_stream_has_no_gap():
    replay = make_replay(capacity=30, num_envs=2)
    # Env 1 skips the vector steps 3 and 4, as on a Gymnasium autoreset step; its own steps stay 0..7.
    env1_step = 0
    for k in range(10):
        steps = {0: k}
        if k not in (3, 4):
            steps[1] = env1_step
            env1_step += 1
        add_vector_step(replay, steps)

    codes = window_codes(replay.sample(batch_size=400, horizon=3))

    assert replay.sizes == [10, 8]
    assert len(replay) == 18
    env1 = codes[:, codes[0] >= ENV_CODE] - ENV_CODE
    assert set(env1[0].tolist()) == set(range(6))
    assert torch.equal(env1 - env1[0], torch.arange(3)[:, None].expand_as(env1))


def test_every_start_equally_likely():
    replay = make_replay(capacity=200, num_envs=2)
    for k in range(50):
        add_vector_step(replay, {0: k, 1: k} if k < 10 else {0: k})

    codes = window_codes(replay.sample(batch_size=20_000, horizon=2))

    # Env 0 has 49 starts and env 1 has 9, so env 1 gets 9 / 58 of the windows.
    share = (codes[0] >= ENV_CODE).float().mean().item()
    assert share == pytest.approx(9 / 58, abs=0.015)


def test_flags_stay_in_their_env():
    replay = make_replay(capacity=40, num_envs=2)
    for k in range(8):
        add_vector_step(replay, {0: k, 1: k}, terminated={0} if k == 2 else (), truncated={1} if k == 5 else ())

    batch = replay.sample(batch_size=400, horizon=1)

    codes = window_codes(batch)[0]
    assert torch.equal(batch.terminated[0], (codes == 2).float())
    assert torch.equal(batch.truncated[0], (codes == ENV_CODE + 5).float())


def test_mark_truncated_one_env():
    replay = make_replay(capacity=20, num_envs=2)
    for k in range(4):
        add_vector_step(replay, {0: k, 1: k})

    replay.mark_truncated(env_ids=torch.tensor([1]))

    batch = replay.sample(batch_size=400, horizon=1)
    codes = window_codes(batch)[0]
    assert torch.equal(batch.truncated[0], (codes == ENV_CODE + 3).float())


def test_wraparound_per_env():
    replay = make_replay(capacity=16, num_envs=2)
    for k in range(13):
        add_vector_step(replay, {0: k, 1: k})

    codes = window_codes(replay.sample(batch_size=500, horizon=3))

    # Each stream keeps 8 steps: 5..12.
    assert replay.sizes == [8, 8]
    assert set((codes[0] % ENV_CODE).tolist()) == set(range(5, 11))
    assert torch.equal(codes - codes[0], torch.arange(3)[:, None].expand_as(codes))


def test_uneven_capacity_allocates_whole_streams():
    replay = make_replay(capacity=10, num_envs=3)

    stored_bytes = sum(getattr(replay, name).nbytes for name in STORED_FIELDS + PLANNING_FIELDS)

    assert replay.stream_capacity == 3
    assert replay.obs.shape[0] == 9
    assert stored_bytes == TrajectoryReplay.estimate_bytes(9, OBS_DIM, ACTION_DIM)


def test_state_dict_restores_streams():
    replay = make_replay(capacity=20, num_envs=2)
    for k in range(13):
        add_vector_step(replay, {0: k, 1: k} if k % 4 else {0: k})
    restored = make_replay(capacity=20, num_envs=2, seed=99)

    restored.load_state_dict(replay.state_dict())
    add_vector_step(replay, {0: 13, 1: 13})
    add_vector_step(restored, {0: 13, 1: 13})

    first, second = replay.sample(batch_size=100, horizon=3), restored.sample(batch_size=100, horizon=3)
    assert restored.sizes == replay.sizes
    assert torch.equal(window_codes(first), window_codes(second))
    assert torch.equal(first.mask, second.mask)


def test_state_dict_other_num_envs():
    replay = make_replay(capacity=20, num_envs=2)
    add_vector_step(replay, {0: 0, 1: 0})

    with pytest.raises(ValueError, match="has streams of 2 envs but this one stores 3; env.num_envs must not change"):
        make_replay(capacity=30, num_envs=3).load_state_dict(replay.state_dict())


def test_add_without_env_ids_needs_every_env():
    replay = make_replay(capacity=20, num_envs=2)

    with pytest.raises(ValueError, match="got a batch of 1 rows without env_ids but stores 2 env"):
        replay.add(torch.zeros(1, OBS_DIM), torch.zeros(1, ACTION_DIM), torch.zeros(1), torch.zeros(1, OBS_DIM), torch.zeros(1), torch.zeros(1))


def test_add_repeated_env_id():
    replay = make_replay(capacity=20, num_envs=2)

    with pytest.raises(ValueError, match=r"env_ids must be distinct envs in \[0, 2\), got \[1, 1\]"):
        replay.add(
            torch.zeros(2, OBS_DIM), torch.zeros(2, ACTION_DIM), torch.zeros(2), torch.zeros(2, OBS_DIM), torch.zeros(2), torch.zeros(2),
            env_ids=torch.tensor([1, 1]),
        )
