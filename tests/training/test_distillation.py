"""Distillation of the planner into the policy: the loss term, the replay's planned flag and real runs."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from ami.actor.distillation import distillation_loss
from ami.actor.policy import SquashedGaussianPolicy
from ami.build import build_modules
from ami.config import ConfigError, load_config
from ami.config.validate import validate_config
from ami.memory import TrajectoryReplay
from ami.memory.replay import PLANNING_FIELDS
from ami.training.learner import Learner
from ami.training.trainer import Trainer
from tests.tiny import DEBUG_CONFIG, LATENT_DIM, tiny_config, tiny_spec

OBS_DIM = 5
ACTION_DIM = 2
TARGET_ACTION = (0.6, -0.4)
"""Planned action of every planned step in the learner tests, inside the tiny spec's [-1, 1] bounds."""


def filled_replay(planned_every: int = 0, capacity: int = 64, num_steps: int = 40) -> TrajectoryReplay:
    """Replay of ``num_steps`` random steps, in which every ``planned_every``-th step is planned with ``TARGET_ACTION`` (0: none is)."""
    generator = torch.Generator().manual_seed(1)
    replay = TrajectoryReplay(capacity, OBS_DIM, ACTION_DIM, "cpu", seed=0)
    for step in range(num_steps):
        obs = torch.randn(1, OBS_DIM, generator=generator)
        action = torch.rand(1, ACTION_DIM, generator=generator) * 2 - 1
        planned = planned_every > 0 and step % planned_every == 0
        planned_actions = torch.tensor([TARGET_ACTION]) if planned else None
        replay.add(
            obs, action, torch.randn(1, generator=generator), obs + 0.1, torch.zeros(1), torch.zeros(1),
            planned_actions=planned_actions,
        )
    return replay


def tiny_learner(distill_coef: float, seed: int = 0) -> tuple[Learner, SquashedGaussianPolicy]:
    torch.manual_seed(seed)
    config = tiny_config("train.learning_rate=0.003")
    modules = build_modules(config, tiny_spec(obs_dim=OBS_DIM), torch.device("cpu"))
    policy = modules.actor.policy
    learner = Learner(modules.world_model, modules.cost, policy, config.train, config.world_model.rho, distill_coef=distill_coef)
    return learner, policy


def test_distillation_loss_zero_without_planned_steps():
    policy = SquashedGaussianPolicy(tiny_config().actor.policy, tiny_spec(), LATENT_DIM)
    latents = torch.randn(3, 4, LATENT_DIM)

    loss, metrics = distillation_loss(policy, latents, torch.ones(3, 4, ACTION_DIM), torch.zeros(3, 4))

    assert loss.item() == 0.0
    assert metrics["actor/planned_share"].item() == 0.0


def test_distillation_loss_averages_planned_steps():
    policy = SquashedGaussianPolicy(tiny_config().actor.policy, tiny_spec(), LATENT_DIM)
    latents = torch.randn(2, 3, LATENT_DIM)
    planned_actions = torch.rand(2, 3, ACTION_DIM) * 2 - 1
    weights = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])

    loss, metrics = distillation_loss(policy, latents, planned_actions, weights)

    actions, _ = policy(latents, deterministic=True)
    error = (actions - planned_actions).square().mean(dim=-1)
    expected = (error[0, 0] + error[0, 2] + error[1, 2]) / 3
    assert torch.allclose(loss, expected)
    assert metrics["actor/planned_share"].item() == pytest.approx(0.5)


def test_replay_samples_planned_flags():
    replay = filled_replay(planned_every=2)

    batch = replay.sample(64, 3)

    # Every other stored step is planned, so consecutive steps of a window alternate.
    assert torch.equal(batch.planned[1], 1 - batch.planned[0])
    planned_rows = batch.planned.bool()
    assert planned_rows.any()
    assert torch.equal(batch.planned_actions[planned_rows], torch.tensor(TARGET_ACTION).expand(int(planned_rows.sum()), ACTION_DIM))
    assert torch.equal(batch.planned_actions[~planned_rows], torch.zeros(int((~planned_rows).sum()), ACTION_DIM))


def test_replay_rejects_planned_action_shape():
    replay = TrajectoryReplay(8, OBS_DIM, ACTION_DIM, "cpu")
    obs = torch.zeros(1, OBS_DIM)

    with pytest.raises(ValueError, match="planned_actions has shape"):
        replay.add(obs, torch.zeros(1, ACTION_DIM), torch.zeros(1), obs, torch.zeros(1), torch.zeros(1), planned_actions=torch.zeros(1, 3))


def test_replay_state_round_trips_planned_flags():
    replay = filled_replay(planned_every=3)
    restored = TrajectoryReplay(64, OBS_DIM, ACTION_DIM, "cpu")

    restored.load_state_dict(replay.state_dict())

    assert torch.equal(restored.planned, replay.planned)
    assert torch.equal(restored.planned_actions, replay.planned_actions)


def test_replay_loads_state_without_planned_fields():
    replay = filled_replay(planned_every=3)
    old_state = {name: value for name, value in replay.state_dict().items() if name not in PLANNING_FIELDS}
    # The target buffer has stale planned steps, which loading must clear.
    restored = filled_replay(planned_every=1)

    restored.load_state_dict(old_state)

    assert len(restored) == 40
    assert torch.equal(restored.actions, replay.actions)
    assert restored.planned.sum().item() == 0.0
    assert restored.planned_actions.abs().sum().item() == 0.0
    assert restored.sample(8, 3).planned.sum().item() == 0.0


def test_learner_coef_zero_ignores_planned_steps():
    learner, policy = tiny_learner(distill_coef=0.0)
    batch = filled_replay(planned_every=1).sample(16, 3)

    metrics = learner.update(batch)

    assert "actor/distill_loss" not in metrics
    assert "actor/planned_share" not in metrics


def test_learner_without_planned_steps_matches_coef_zero():
    batch = filled_replay(planned_every=0).sample(16, 3)
    off, off_policy = tiny_learner(distill_coef=0.0)
    on, on_policy = tiny_learner(distill_coef=10.0)

    # Both updates draw the same policy noise.
    torch.manual_seed(2)
    off.update(copy.deepcopy(batch))
    torch.manual_seed(2)
    metrics = on.update(copy.deepcopy(batch))

    assert metrics["actor/distill_loss"].item() == 0.0
    assert metrics["actor/planned_share"].item() == 0.0
    for (name, off_value), on_value in zip(off_policy.state_dict().items(), on_policy.state_dict().values()):
        assert torch.equal(off_value, on_value), name


def test_learner_distillation_moves_policy_toward_plan():
    batch = filled_replay(planned_every=1).sample(32, 3)
    target = torch.tensor(TARGET_ACTION)

    def distance_after_updates(distill_coef: float) -> tuple[float, list[float]]:
        learner, policy = tiny_learner(distill_coef)
        losses = []
        for _ in range(30):
            metrics = learner.update(copy.deepcopy(batch))
            losses.append(metrics.get("actor/distill_loss", torch.tensor(math.nan)).item())
        with torch.no_grad():
            latents = learner.world_model.encode(batch.obs)
            actions, _ = policy(latents, deterministic=True)
        return (actions - target).square().mean().item(), losses

    distance_off, _ = distance_after_updates(0.0)
    distance_on, losses = distance_after_updates(10.0)

    assert distance_on < 0.1 * distance_off
    assert losses[-1] < 0.1 * losses[0]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["actor.policy.distill_coef=-0.5"], "invalid value -0.5 for 'actor.policy.distill_coef'"),
        (["actor.policy.distill_coef=nan"], "invalid value nan for 'actor.policy.distill_coef'"),
        (["actor.policy.distill_coef=1.0", "env.pixels=true", "perception.name=conv"], "frames \\(env.pixels = true\\)"),
        (["actor.policy.distill_coef=1.0", "memory.replay=frames"], "uses the 'frames' replay"),
    ],
)
def test_distill_coef_validation(overrides, expected):
    with pytest.raises(ConfigError, match=expected):
        validate_config(load_config(DEBUG_CONFIG, overrides))


def train_debug(tmp_path, *overrides: str) -> Trainer:
    """Train the debug config (300 steps, 100 of them seed steps) on InvertedPendulum-v5 with distillation and ``overrides``."""
    settings = ["actor.policy.distill_coef=1.0", "configurator.mode=deliberative", "num_threads=1", *overrides]
    trainer = Trainer(load_config(DEBUG_CONFIG, settings), show_progress=False)
    trainer.train(tmp_path)
    return trainer


def test_debug_run_logs_distillation(tmp_path):
    trainer = train_debug(tmp_path)
    replay = trainer.agent.modules.replay
    events = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0})
    events.Reload()

    # The 100 random seed steps come first, and the planner chose every later action.
    assert len(replay) == 300
    assert replay.planned[:100].sum().item() == 0.0
    assert replay.planned[100:300].sum().item() == 200.0
    assert bool((replay.planned_actions[100:300].abs() <= 1.0).all())
    assert replay.planned_actions[100:300].abs().sum().item() > 0.0
    distill_losses = [event.value for event in events.Scalars("actor/distill_loss")]
    assert distill_losses
    assert all(math.isfinite(value) for value in distill_losses)
    # The pretraining updates at step 100 sample only random steps. Later batches contain planned steps.
    planned_shares = [event.value for event in events.Scalars("actor/planned_share")]
    assert all(0.0 <= value <= 1.0 for value in planned_shares)
    assert planned_shares[-1] > 0.0


def test_vector_run_records_planned_steps(tmp_path):
    trainer = train_debug(tmp_path, "env.num_envs=2", "train.total_steps=200", "train.eval_every=200")
    replay = trainer.agent.modules.replay

    for env in range(2):
        rows = slice(env * replay.stream_capacity, env * replay.stream_capacity + replay.sizes[env])
        planned = replay.planned[rows]
        # The 100 seed steps (50 vector steps) come first, so each stream is random steps, then planned steps.
        assert torch.equal(planned, planned.sort().values), env
        assert planned[0].item() == 0.0, env
        assert 0 < planned.sum().item() <= 50, env
