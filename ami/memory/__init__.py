"""Memory: short-term context of the episode and the replay buffer of transitions."""

from ami.memory.base import REPLAY_BUFFERS, ReplayBuffer
from ami.memory.batch import TrajectoryBatch
from ami.memory.frame_replay import FrameReplay
from ami.memory.replay import TrajectoryReplay
from ami.memory.short_term import ShortTermMemory

__all__ = ["FrameReplay", "REPLAY_BUFFERS", "ReplayBuffer", "ShortTermMemory", "TrajectoryBatch", "TrajectoryReplay"]
