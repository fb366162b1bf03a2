"""The shared parts of a comparison: the run description and the recording of evaluations."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch.utils.tensorboard import SummaryWriter

from ami.training.evaluate import EVAL_SEED_OFFSET, EvalResult

EVALUATIONS_NAME = "evaluations.csv"
"""Per-run file with one row per evaluated policy and evaluation point."""

EVALUATION_COLUMNS = (
    "task", "agent", "seed", "env_steps", "mean_return", "std_return", "mean_length", "ms_per_action", "wall_seconds",
)


@dataclass(frozen=True)
class RunSpec:
    """One cell of a comparison grid: an agent trained on a task with a seed.

    ``kind`` selects the runner (``ami``, ``sac``, ``td3``, ``ppo``, ``random``, ``mpc_true``);
    ``agent`` is the label in tables and plots. ``options`` are the runner's settings, e.g.
    ``--set`` overrides for ``ami`` or constructor arguments for Stable-Baselines3.
    """

    task: str
    agent: str
    kind: str
    seed: int
    total_steps: int
    eval_every: int
    eval_episodes: int
    run_dir: str
    options: dict[str, Any] = field(default_factory=dict)
    num_threads: int = 1

    @property
    def eval_seed(self) -> int:
        """Seed of the first evaluation episode, the same rule as ``ami run`` uses."""
        return self.seed + EVAL_SEED_OFFSET


class EvalRecorder:
    """Records the evaluations of one policy of one run: TensorBoard tags and CSV rows.

    TensorBoard gets ``eval/mean_reward``, ``eval/std_reward``, ``eval/mean_ep_length`` and
    ``eval/ms_per_action`` at the env step, in ``run_dir/eval/<label>``, so the curves of every
    agent overlay under the same tags. Rows are appended to ``run_dir/evaluations.csv``.
    """

    def __init__(self, spec: RunSpec, label: str) -> None:
        self.spec = spec
        self.label = label
        run_dir = Path(spec.run_dir)
        self.writer = SummaryWriter(log_dir=str(run_dir / "eval" / label))
        self.csv_path = run_dir / EVALUATIONS_NAME

    def record(self, env_steps: int, result: EvalResult, wall_seconds: float) -> None:
        """Write one evaluation point, taken after ``env_steps`` env steps of training."""
        values = {
            "eval/mean_reward": result.mean_return,
            "eval/std_reward": result.std_return,
            "eval/mean_ep_length": result.mean_length,
            "eval/ms_per_action": result.ms_per_action,
        }
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, global_step=env_steps)
        self.writer.flush()

        row = {
            "task": self.spec.task,
            "agent": self.label,
            "seed": self.spec.seed,
            "env_steps": env_steps,
            "mean_return": result.mean_return,
            "std_return": result.std_return,
            "mean_length": result.mean_length,
            "ms_per_action": result.ms_per_action,
            "wall_seconds": wall_seconds,
        }
        append_row(self.csv_path, row)

    def close(self) -> None:
        self.writer.close()


def append_row(path: Path, row: dict[str, Any]) -> None:
    """Append ``row`` to a CSV file with ``EVALUATION_COLUMNS``, writing the header first if the file is new."""
    new_file = not path.exists()
    with open(path, "a", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=EVALUATION_COLUMNS)
        if new_file:
            writer.writeheader()
        writer.writerow(row)
