"""A short training run on pixel observations of InvertedPendulum-v5, with its TensorBoard images."""

from __future__ import annotations

import json

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from ami.config import load_config
from ami.memory.frame_replay import FrameReplay
from ami.perception.conv import ConvEncoder
from ami.training.trainer import Trainer
from tests.tiny import REPO_ROOT

CONFIG = REPO_ROOT / "experiments" / "configs" / "pixels_inverted_pendulum.toml"
TINY = [
    "env.image_size=32",
    "perception.latent_dim=8",
    "perception.hidden_dims=[16]",
    "perception.conv_channels=4",
    "world_model.hidden_dims=[16]",
    "cost.critic.num_critics=2",
    "cost.critic.hidden_dims=[16]",
    "actor.policy.hidden_dims=[16]",
    "actor.planner.num_samples=16",
    "actor.planner.num_elites=4",
    "actor.planner.iterations=2",
    "memory.batch_size=8",
    "train.total_steps=200",
    "train.seed_steps=100",
    "train.pretrain_updates=5",
    "train.eval_every=200",
    "train.eval_episodes=1",
    "train.log_every=100",
    "num_threads=1",
    "device=\"cpu\"",
]


def test_pixel_run_writes_retrieval_and_video(tmp_path):
    config = load_config(CONFIG, TINY)
    trainer = Trainer(config, show_progress=False)
    summary = trainer.train(tmp_path)

    assert isinstance(trainer.agent.modules.replay, FrameReplay)
    assert isinstance(trainer.agent.modules.world_model.encoder, ConvEncoder)
    assert summary["env_steps"] == 200
    assert json.loads((tmp_path / "summary.json").read_text())["env_steps"] == 200

    events = EventAccumulator(str(tmp_path), size_guidance={"images": 0})
    events.Reload()
    image_tags = set(events.Tags()["images"])
    for mode in ("reactive", "deliberative"):
        assert f"world_model/retrieval/{mode}" in image_tags
        assert f"eval/{mode}/video" in image_tags
        video = events.Images(f"eval/{mode}/video")[-1]
        assert video.encoded_image_string.startswith(b"GIF89a")
        assert (video.width, video.height) == (32, 32)
        grid = events.Images(f"world_model/retrieval/{mode}")[-1]
        assert grid.step == 200
        # Columns: the frame at t, then 3 real or retrieved future frames, 32 pixels each with 2-pixel gaps.
        assert grid.width == 4 * 32 + 3 * 2
    assert "world_model/latent_loss" in events.Tags()["scalars"]
