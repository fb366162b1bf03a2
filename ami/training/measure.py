"""Evaluation episodes that also measure what a cost targets: speed, safety limits, cost terms, modes.

``evaluate`` in ``ami.training.evaluate`` reports returns only. Under a new cost the return
of the training task measures little. So this loop records, per episode, the x velocity that
the environment reports and the error of each velocity target. It also records the safety
violations read from the real observations, the steps with the main body upside down, the mean
of each planned cost term, and the time per action of each mode.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from agents.ami_agent import AMIAgent
from ami.configurator.base import Configurator
from ami.cost.quantities import has_quantity, read_quantity
from ami.cost.safety import QuantityRange
from ami.cost.velocity import TargetVelocity

MODES = ("reactive", "deliberative")
BODY_ANGLES = ("tip_angle",)
"""Quantities that hold the pitch of a locomotion task's main body, in radians; the first the task has is used.

HalfCheetah (``tip_angle``) can turn over and run on. Hopper and Walker2d end their episodes
once the torso tilts past 0.2 or 1 rad, long before it turns over, so they are not listed."""


@dataclass
class EpisodeMeasures:
    """Measurements of one evaluation episode."""

    episode_return: float = 0.0
    length: int = 0
    x_velocities: list[float] = field(default_factory=list)
    violations: dict[str, int] = field(default_factory=dict)
    cost_terms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    upside_down_steps: list[int] = field(default_factory=list)
    """Steps (0-based) after which the main body was upside down."""
    has_body_angle: bool = False

    def record_step(self, task: str, reward: float, obs: np.ndarray, info: dict[str, Any], safety: dict[str, QuantityRange]) -> None:
        """Add one env step: its reward, the x velocity, and a violation for each limit that ``obs`` breaks.

        The x velocity is ``info["x_velocity"]`` where the task reports it (the MuJoCo
        locomotion tasks do), else the observation entry of the quantity table. Violations are
        counted on the real observation, not on predictions.
        """
        self.episode_return += reward
        self.length += 1
        if "x_velocity" in info:
            self.x_velocities.append(float(info["x_velocity"]))
        elif has_quantity(task, "x_velocity"):
            self.x_velocities.append(float(read_quantity(task, "x_velocity", torch.as_tensor(obs))))
        obs_tensor = torch.as_tensor(obs, dtype=torch.float32)
        for name, term in safety.items():
            self.violations[name] += int(term.observed_violation(obs_tensor))
        self._record_body_angle(task, obs_tensor)

    def _record_body_angle(self, task: str, obs: torch.Tensor) -> None:
        """Count the step as upside down when the body's pitch has a negative cosine.

        The pitch is a hinge angle that grows past 2 pi in a full turn, so the test reads its
        cosine, not its size.
        """
        quantity = next((name for name in BODY_ANGLES if has_quantity(task, name)), None)
        # Pixel observations are frames, without the pitch entry.
        if quantity is None or obs.dim() != 1:
            return
        self.has_body_angle = True
        if torch.cos(read_quantity(task, quantity, obs)) < 0:
            self.upside_down_steps.append(self.length - 1)

    def summary(self, speed_targets: dict[str, float]) -> dict[str, Any]:
        result: dict[str, Any] = {"return": self.episode_return, "length": self.length}
        if self.x_velocities:
            velocities = np.asarray(self.x_velocities)
            result["mean_x_velocity"] = float(velocities.mean())
            result["speed_error"] = {name: float(np.abs(velocities - target).mean()) for name, target in speed_targets.items()}
        if self.violations:
            result["safety_violations"] = dict(self.violations)
        if self.has_body_angle:
            result["upside_down_share"] = len(self.upside_down_steps) / max(self.length, 1)
            result["first_upside_down_step"] = self.upside_down_steps[0] if self.upside_down_steps else None
        return result


def measure_episodes(
    agent: AMIAgent,
    env: gym.Env,
    mode: str,
    episodes: int,
    seed: int,
    configurator: Configurator | None = None,
) -> dict[str, Any]:
    """Run ``episodes`` deterministic episodes from ``reset(seed=seed + i)`` and measure them.

    ``mode`` is ``reactive``, ``deliberative``, or ``adaptive``; ``adaptive`` takes
    the mode of every step from ``configurator``. The x velocity is ``info["x_velocity"]``
    where the task reports it (the MuJoCo locomotion tasks do), else the observation entry of
    the quantity table. Returns plain data for JSON: the per-episode measures and their means.
    """
    if mode == "adaptive" and configurator is None:
        raise ValueError("mode 'adaptive' needs a configurator that chooses the mode of each step")
    cost = agent.modules.cost
    task = agent.spec.task
    speed_targets = {name: term.target for name, term in cost.terms.items() if isinstance(term, TargetVelocity)}
    safety = {name: term for name, term in cost.safety.items() if isinstance(term, QuantityRange)}
    mode_counts = {name: 0 for name in MODES}
    mode_ms = {name: 0.0 for name in MODES}
    choice_ms = 0.0
    measured = []
    total_steps = 0

    devices = [agent.device] if agent.device.type == "cuda" else []
    with agent.separate_memory(), torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed + episode)
            agent.reset()
            measures = EpisodeMeasures(violations={name: 0 for name in safety})
            done = False
            while not done:
                step_mode = mode
                if mode == "adaptive":
                    start = time.perf_counter()
                    step_mode = configurator.select_mode(total_steps, obs)
                    choice_ms += 1000 * (time.perf_counter() - start)
                total_steps += 1
                start = time.perf_counter()
                action = agent.act(obs, deterministic=True, mode=step_mode)
                mode_ms[step_mode] += 1000 * (time.perf_counter() - start)
                mode_counts[step_mode] += 1
                for name, value in agent.last_cost_terms.items():
                    measures.cost_terms[name].append(float(value.mean()))

                obs, reward, terminated, truncated, info = env.step(action)
                measures.record_step(task, float(reward), obs, info, safety)
                done = terminated or truncated
            measured.append(measures)

    return summarize(measured, speed_targets, mode_counts, mode_ms, choice_ms)


def summarize(
    measured: list[EpisodeMeasures],
    speed_targets: dict[str, float],
    mode_counts: dict[str, int],
    mode_ms: dict[str, float],
    choice_ms: float = 0.0,
) -> dict[str, Any]:
    """Means over episodes, with the per-episode measures under ``episodes``.

    ``ms_per_action`` times ``agent.act`` per mode. ``ms_per_step`` is the mean over all steps
    of acting plus ``choice_ms``, the total time the configurator spent choosing the modes.
    """
    steps = sum(mode_counts.values())
    result = episode_means(measured, speed_targets)
    result["deliberative_share"] = mode_counts["deliberative"] / max(steps, 1)
    result["ms_per_action"] = {name: mode_ms[name] / mode_counts[name] for name in MODES if mode_counts[name]}
    result["ms_per_step"] = (sum(mode_ms.values()) + choice_ms) / max(steps, 1)
    cost_terms: dict[str, list[float]] = defaultdict(list)
    for measures in measured:
        for name, values in measures.cost_terms.items():
            cost_terms[name].extend(values)
    result["cost_terms"] = {name: float(np.mean(values)) for name, values in cost_terms.items()}
    return result


def episode_means(measured: list[EpisodeMeasures], speed_targets: dict[str, float]) -> dict[str, Any]:
    """Average return, length, x velocity and speed errors over episodes, sum the violations, and keep the per-episode measures."""
    episodes = [measures.summary(speed_targets) for measures in measured]
    returns = [episode["return"] for episode in episodes]
    result: dict[str, Any] = {
        "mean_return": float(np.mean(returns)),
        "std_return": float(np.std(returns)),
        "mean_length": float(np.mean([episode["length"] for episode in episodes])),
    }
    if all("mean_x_velocity" in episode for episode in episodes):
        result["mean_x_velocity"] = float(np.mean([episode["mean_x_velocity"] for episode in episodes]))
        result["speed_error"] = {
            name: float(np.mean([episode["speed_error"][name] for episode in episodes])) for name in speed_targets
        }
    if all("upside_down_share" in episode for episode in episodes):
        result["upside_down_share"] = float(np.mean([episode["upside_down_share"] for episode in episodes]))
    if episodes and "safety_violations" in episodes[0]:
        result["safety_violations"] = {
            name: int(sum(episode["safety_violations"][name] for episode in episodes)) for name in episodes[0]["safety_violations"]
        }
    result["episodes"] = episodes
    return result
