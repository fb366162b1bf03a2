"""Write ``results.csv``, ``summary.md`` and learning-curve plots from a comparison's run folders."""

from __future__ import annotations

import csv
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ami.config.loader import ConfigError
from ami.training.run_dir import safe_name
from experiments.compare.config import CompareConfig
from experiments.compare.config import policy_labels as agent_labels
from experiments.compare.grid import read_done_record
from experiments.compare.protocol import EVALUATION_COLUMNS, EVALUATIONS_NAME, RunSpec
from experiments.compare.stats import bootstrap_interval, iqm, mean

logger = logging.getLogger(__name__)

RESULTS_NAME = "results.csv"
SUMMARY_NAME = "summary.md"
PLOTS_FOLDER = "plots"


@dataclass
class Curve:
    """The evaluations of one policy label on one task: ``returns[seed][env_steps]``."""

    returns: dict[int, dict[int, float]]
    ms_per_action: dict[int, dict[int, float]]
    wall_seconds: dict[int, float]


def policy_labels(config: CompareConfig, task: str) -> list[str]:
    """Labels of the agents that run on ``task``, in table order; the AMI agent appears once per acting mode."""
    return [label for agent in config.agents if agent.runs_on(task) for label in agent_labels(agent)]


def read_finished_runs(specs: list[RunSpec]) -> list[tuple[RunSpec, float, list[dict]]]:
    """Read each finished run: its spec, wall time and typed evaluation rows, in grid order."""
    runs = []
    for spec in specs:
        run_dir = Path(spec.run_dir)
        record = read_done_record(run_dir)
        if record is None:
            continue
        wall_seconds = record["wall_seconds"]
        with open(run_dir / EVALUATIONS_NAME, newline="") as file:
            rows = [typed_row(row) for row in csv.DictReader(file)]
        runs.append((spec, wall_seconds, rows))
    return runs


def typed_row(row: dict[str, str]) -> dict:
    typed: dict = dict(row)
    for key in ("seed", "env_steps"):
        typed[key] = int(row[key])
    for key in ("mean_return", "std_return", "mean_length", "ms_per_action", "wall_seconds"):
        typed[key] = float(row[key])
    return typed


def write_results_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=EVALUATION_COLUMNS)
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda row: (row["task"], row["agent"], row["seed"], row["env_steps"])))


def build_curves(runs: list[tuple[RunSpec, float, list[dict]]]) -> dict[tuple[str, str], Curve]:
    """Group evaluation rows by task and policy label; both AMI modes get their run's wall time."""
    curves: dict[tuple[str, str], Curve] = defaultdict(lambda: Curve(defaultdict(dict), defaultdict(dict), {}))
    for spec, wall_seconds, rows in runs:
        for row in rows:
            curve = curves[(row["task"], row["agent"])]
            curve.returns[row["seed"]][row["env_steps"]] = row["mean_return"]
            curve.ms_per_action[row["seed"]][row["env_steps"]] = row["ms_per_action"]
            curve.wall_seconds[row["seed"]] = wall_seconds
    return curves


def final_returns(curve: Curve) -> list[float]:
    """Each seed's return at its last evaluation."""
    return [steps[max(steps)] for steps in curve.returns.values()]


def returns_at(curve: Curve, budget: int) -> list[float]:
    """Each seed's return at exactly ``budget`` env steps; seeds without that point are left out."""
    return [steps[budget] for steps in curve.returns.values() if budget in steps]


def format_interval(values: list[float]) -> str:
    if not values:
        return "-"
    low, high = bootstrap_interval(values, iqm)
    return f"{iqm(values):.1f} [{low:.1f}, {high:.1f}]"


def summary_markdown(config: CompareConfig, curves: dict[tuple[str, str], Curve]) -> str:
    """Per task, one row per policy: IQM and 95% CI of the final return and of the return at each budget."""
    lines = [
        f"# Comparison `{config.name}`",
        "",
        f"Seeds {list(config.seeds)}; every {config.eval_every} env steps, {config.eval_episodes} deterministic "
        "evaluation episodes from the same reset seeds for every agent. Returns are the interquartile mean "
        "(IQM) over seeds with a 95% percentile-bootstrap confidence interval. Wall time is per run, "
        "averaged over seeds; both AMI modes come from one run. Milliseconds per action are measured in "
        "the final evaluation.",
        "",
    ]
    for task, total_steps in config.tasks.items():
        budgets = [budget for budget in config.budgets if budget <= total_steps]
        header = ["agent", "seeds", f"final return ({total_steps} steps)", *[f"return at {b}" for b in budgets], "wall time (s)", "ms per action"]
        lines += [f"## {task}", "", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        for label in policy_labels(config, task):
            curve = curves.get((task, label))
            if curve is None:
                lines.append("| " + " | ".join([label, "0", *["-"] * (len(header) - 2)]) + " |")
                continue
            final_ms = [steps[max(steps)] for steps in curve.ms_per_action.values()]
            cells = [
                label,
                str(len(curve.returns)),
                format_interval(final_returns(curve)),
                *[format_interval(returns_at(curve, budget)) for budget in budgets],
                f"{mean(list(curve.wall_seconds.values())):.0f}",
                f"{mean(final_ms):.2f}",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def plot_task(task: str, labels: list[str], curves: dict[tuple[str, str], Curve], path: Path) -> None:
    """Learning curves of one task: the mean over seeds and a 95% bootstrap band of that mean."""
    figure = Figure(figsize=(7, 4.5), dpi=120)
    axes = figure.add_subplot()
    for label in labels:
        curve = curves.get((task, label))
        if curve is None:
            continue
        steps = sorted({step for seed_steps in curve.returns.values() for step in seed_steps})
        means, lows, highs = [], [], []
        for step in steps:
            values = [seed_steps[step] for seed_steps in curve.returns.values() if step in seed_steps]
            low, high = bootstrap_interval(values, mean)
            means.append(mean(values))
            lows.append(low)
            highs.append(high)
        line = axes.plot(steps, means, marker="o", markersize=3, label=label)[0]
        axes.fill_between(steps, lows, highs, color=line.get_color(), alpha=0.2, linewidth=0)
    axes.set_title(task)
    axes.set_xlabel("env steps")
    axes.set_ylabel("evaluation return")
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path)


def plot_path(output: Path, task: str) -> Path:
    return output / PLOTS_FOLDER / f"{safe_name(task)}.png"


def check_report_paths(config: CompareConfig) -> None:
    """Raise ConfigError when a report file's path is taken by a folder, or the plots folder's by a file.

    The report is written after all runs, so a blocked path would otherwise fail hours later.
    """
    output = Path(config.output_dir)
    files = [output / RESULTS_NAME, output / SUMMARY_NAME, *(plot_path(output, task) for task in config.tasks)]
    for path in files:
        if path.is_dir():
            raise ConfigError(f"report file {str(path)!r} is a folder; move or remove it, because the comparison writes its report there")
    plots = output / PLOTS_FOLDER
    # A dangling link does not exist for Path.exists, but mkdir still fails on it.
    if (plots.exists() or plots.is_symlink()) and not plots.is_dir():
        raise ConfigError(
            f"plots folder {str(plots)!r} is a file or a broken link; move or remove it, because the comparison writes its plots there"
        )


def write_report(config: CompareConfig, specs: list[RunSpec]) -> Path:
    """Write ``results.csv``, ``summary.md`` and ``plots/<task>.png``; return the summary's path.

    A task id's characters that cannot be in a file name (the ``/`` of ``ami/PointMazeU-v0``)
    become ``_`` in the plot's name.
    """
    output = Path(config.output_dir)
    runs = read_finished_runs(specs)
    write_results_csv([row for _, _, rows in runs for row in rows], output / RESULTS_NAME)
    curves = build_curves(runs)

    summary_path = output / SUMMARY_NAME
    summary_path.write_text(summary_markdown(config, curves))
    plots = output / PLOTS_FOLDER
    plots.mkdir(exist_ok=True)
    for task in config.tasks:
        plot_task(task, policy_labels(config, task), curves, plot_path(output, task))
    logger.info("wrote %s, %s and %d plots under %s", RESULTS_NAME, SUMMARY_NAME, len(config.tasks), output)
    return summary_path
