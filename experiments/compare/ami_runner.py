"""Train the AMI agent as one comparison run and record both acting modes."""

from __future__ import annotations

import time
from pathlib import Path

from ami.config.loader import load_config
from ami.training.evaluate import EvalResult
from ami.training.run_dir import write_run_config
from ami.training.trainer import Trainer
from experiments.compare.protocol import EvalRecorder, RunSpec

MODES = ("reactive", "deliberative")


def run_ami(spec: RunSpec) -> dict:
    """Train with ``ami run``'s loop, recording each evaluation as ``<agent>_reactive`` and ``<agent>_deliberative``.

    ``spec.options`` contains ``config`` (the ``ami run`` config file) and ``set`` (overrides).
    Both modes come from the same training run, so they differ only in how the agent acts.
    """
    train_dir = Path(spec.run_dir) / "train"
    overrides = [
        *spec.options.get("set", []),
        f"env.task={spec.task}",
        f"seed={spec.seed}",
        f"num_threads={spec.num_threads}",
        f"runs_dir={train_dir.parent}",
        f"train.total_steps={spec.total_steps}",
        f"train.eval_every={spec.eval_every}",
        f"train.eval_episodes={spec.eval_episodes}",
        'train.eval_modes=["reactive", "deliberative"]',
    ]
    config = load_config(spec.options["config"], overrides)
    trainer = Trainer(config, show_progress=False)
    train_dir.mkdir(parents=True, exist_ok=True)
    write_run_config(train_dir, config)

    recorders = {mode: EvalRecorder(spec, f"{spec.agent}_{mode}") for mode in MODES}
    start = time.perf_counter()

    def record(step: int, result: EvalResult) -> None:
        recorders[result.mode].record(step, result, time.perf_counter() - start)

    trainer.evaluation_hooks.append(record)
    try:
        summary = trainer.train(train_dir)
    finally:
        for recorder in recorders.values():
            recorder.close()
    if summary["interrupted"]:
        # Without done.json the comparison reruns this run next time instead of keeping a short one.
        raise KeyboardInterrupt
    return {"wall_seconds": summary["wall_seconds"], "env_steps": summary["env_steps"]}
