"""Print, per evaluation episode, the adaptive configurator's deliberative share and uncertainty.

The agent acts reactively on every step, so the trace shows how the configurator's choice
follows the critic disagreement without the plans changing the states.
Usage: python experiments/results/adaptive/share_trace.py RUN_DIR [BUDGET] [EPISODES]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ami.training.evaluate import EVAL_SEED_OFFSET
from experiments.cli import build_adaptive_configurator, load_run


def main(argv: list[str]) -> None:
    run_dir = argv[0]
    budget = float(argv[1]) if len(argv) > 1 else 0.1
    episodes = int(argv[2]) if len(argv) > 2 else 10
    args = argparse.Namespace(run_dir=run_dir, device=None)
    trainer, _ = load_run(args, [f"configurator.deliberation_budget={budget}", "num_threads=1"])
    configurator = build_adaptive_configurator(trainer)
    agent, env = trainer.agent, trainer.eval_env
    seed = trainer.config.seed + EVAL_SEED_OFFSET

    with agent.separate_memory():
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed + episode)
            agent.reset()
            uncertainties, deliberated = [], []
            done = False
            while not done:
                uncertainty, _ = configurator.measure(obs)
                deliberated.append(configurator.decide(uncertainty) == "deliberative")
                uncertainties.append(uncertainty)
                obs, _, terminated, truncated, _ = env.step(agent.act(obs, deterministic=True, mode="reactive"))
                done = terminated or truncated
            values = np.asarray(uncertainties)
            print(
                f"episode {episode}: share {np.mean(deliberated):.2f}, uncertainty first 5 steps {values[:5].mean():.3f}, "
                f"mean {values.mean():.3f}, last 10 steps {values[-10:].mean():.3f}, threshold {configurator.last_threshold:.3f}"
            )


if __name__ == "__main__":
    main(sys.argv[1:])
