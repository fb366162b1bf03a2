"""TensorBoard views of a pixel run without a decoder: latent retrieval grids and evaluation videos.

The world model predicts latents, never pixels, so its predictions are shown by retrieval: the
stored frames whose target-encoder latents are nearest to each predicted latent are placed
beside the real future frames. Videos are animated GIFs written into TensorBoard image
summaries, the format that ``SummaryWriter.add_video`` writes too. ``add_video`` itself needs
moviepy and imports ``moviepy.editor``, which moviepy 2.0 removed (checked with PyTorch 2.13),
so the GIF is encoded here with Pillow, which TensorBoard and Matplotlib already depend on.
"""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image
from tensorboard.compat.proto.summary_pb2 import Summary
from torch.utils.tensorboard import SummaryWriter

from ami.training.evaluate import EvalResult
from envs.pixels import find_pixel_wrapper

if TYPE_CHECKING:
    from ami.training.trainer import Trainer

logger = logging.getLogger(__name__)

RETRIEVAL_STATES = 4
"""Evaluation states per retrieval grid, spread evenly over the recorded episode."""
RETRIEVAL_POOL = 512
"""Stored observations sampled from replay as retrieval candidates."""
MAX_VIDEO_FRAMES = 300
"""Frames of the evaluation video: the start of the episode, to bound the event file's size."""
DEFAULT_FPS = 30
TILE_GAP = 2
"""White pixels between the tiles of a grid."""


class PixelDiagnostics:
    """Write a retrieval grid and a video of the last evaluation episode of each acting mode.

    Registered as an evaluation hook of a ``Trainer`` on a pixel task; it switches on frame
    recording in the evaluation env. Tags: ``eval/<mode>/video`` and ``world_model/retrieval/<mode>``.
    """

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        wrapper = find_pixel_wrapper(trainer.eval_env)
        if wrapper is None:
            raise ValueError("pixel diagnostics need an evaluation env wrapped in envs.pixels.PixelObservation")
        self.recorder = wrapper
        self.recorder.record = True
        self.fps = int(trainer.eval_env.unwrapped.metadata.get("render_fps", DEFAULT_FPS))

    def on_evaluation(self, step: int, result: EvalResult) -> None:
        frames = list(self.recorder.episode_frames)
        actions = list(self.recorder.episode_actions)
        if not frames:
            return
        writer = self.trainer.metrics.writer
        add_gif(writer, f"eval/{result.mode}/video", frames[:MAX_VIDEO_FRAMES], step, self.fps)
        grid = self.retrieval_grid(frames, actions)
        if grid is not None:
            writer.add_image(f"world_model/retrieval/{result.mode}", grid, global_step=step, dataformats="HWC")

    @torch.no_grad()
    def retrieval_grid(self, frames: list[np.ndarray], actions: list[np.ndarray]) -> np.ndarray | None:
        """Return a grid of two rows per evaluation state, or None when the episode or replay is too short.

        Top row: the frame at time t, then the real frames t+1 ... t+H. Bottom row: the frame at
        time t, then for each k the stored frame whose target latent is nearest to the latent
        predicted k steps ahead from the encoded observation at t and the actions taken.
        """
        agent = self.trainer.agent
        world_model = agent.modules.world_model
        horizon = min(self.trainer.config.world_model.horizon, len(actions))
        if horizon < 1:
            return None
        try:
            pool = agent.modules.replay.sample(RETRIEVAL_POOL, 1).next_obs[0]  # (pool, frames, H, W, 3)
        except ValueError as error:
            logger.debug("no retrieval grid: %s", error)
            return None
        pool_latents = world_model.encode_target(pool)  # (pool, latent_dim)

        frame_stack = self.recorder.frame_stack
        starts = np.linspace(0, len(actions) - horizon, num=min(RETRIEVAL_STATES, len(actions) - horizon + 1)).astype(int)
        device = agent.device
        observations = torch.as_tensor(np.stack([stack_at(frames, t, frame_stack) for t in starts]), device=device)
        action_sequences = torch.as_tensor(np.stack([actions[t : t + horizon] for t in starts]), device=device)  # (S, H, A)

        latent = world_model.encode(observations)
        retrieved = []
        for k in range(horizon):
            latent = world_model.predict(latent, action_sequences[:, k])
            nearest = torch.cdist(latent, pool_latents).argmin(dim=1)  # (S,)
            retrieved.append(pool[nearest, -1].cpu().numpy())  # newest frame of each nearest stack

        rows = []
        for i, t in enumerate(starts):
            rows.append([frames[t], *frames[t + 1 : t + 1 + horizon]])
            rows.append([frames[t], *(retrieved[k][i] for k in range(horizon))])
        return tile_grid(rows)


def stack_at(frames: list[np.ndarray], t: int, frame_stack: int) -> np.ndarray:
    """Return the observation ``(frame_stack, H, W, 3)`` at time ``t``, repeating the first frame as a reset does."""
    return np.stack([frames[max(0, t - back)] for back in range(frame_stack - 1, -1, -1)])


def tile_grid(rows: list[list[np.ndarray]]) -> np.ndarray:
    """Place equally sized ``(H, W, 3)`` uint8 tiles in a grid with white gaps; return ``(height, width, 3)``."""
    tile_height, tile_width, _ = rows[0][0].shape
    columns = max(len(row) for row in rows)
    height = len(rows) * (tile_height + TILE_GAP) - TILE_GAP
    width = columns * (tile_width + TILE_GAP) - TILE_GAP
    grid = np.full((height, width, 3), 255, dtype=np.uint8)
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            top, left = r * (tile_height + TILE_GAP), c * (tile_width + TILE_GAP)
            grid[top : top + tile_height, left : left + tile_width] = tile
    return grid


def encode_gif(frames: list[np.ndarray], fps: int) -> bytes:
    """Encode ``(H, W, 3)`` uint8 frames as an animated GIF that loops."""
    images = [Image.fromarray(frame) for frame in frames]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    return buffer.getvalue()


def add_gif(writer: SummaryWriter, tag: str, frames: list[np.ndarray], step: int, fps: int) -> None:
    """Write ``frames`` as an animated GIF image summary, which TensorBoard's Images tab plays."""
    height, width, colors = frames[0].shape
    image = Summary.Image(height=height, width=width, colorspace=colors, encoded_image_string=encode_gif(frames, fps))
    writer.file_writer.add_summary(Summary(value=[Summary.Value(tag=tag, image=image)]), global_step=step)
