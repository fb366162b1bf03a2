"""Train the goal_temporal_distance heads on true (x, y, vx, vy) states of random-walk data of the large maze.

Prints the mean rank correlation of the learned distance with the path distance (as
``ami.training.goal_landscape`` computes it) at the given update counts. This separates the
distance learning from the world model: the heads read the true state instead of a latent.

Usage: python experiments/results/maze/true_state_distance.py STEPS UPDATES CHECKPOINTS
e.g. python experiments/results/maze/true_state_distance.py 100000 40000 1000,2000,4000,8000,16000
"""

import sys
import time

import gymnasium as gym
import numpy as np
import torch

import envs  # noqa: F401 (registers the maze tasks)
from ami.cost.goal_distance import GoalTemporalDistance
from ami.spec import TaskSpec
from ami.training.goal_landscape import spearman
from ami.training.maze_evaluation import maze_layout

TASK = "ami/PointMazeLarge-v0"
WINDOW, NUM_WINDOWS = 64, 64


def random_walk(env: gym.Env, steps: int, generator: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the states ``(n, 4)`` of uniform random actions and the episode index ``(n,)`` of each."""
    states, episodes = [], []
    obs, _ = env.reset(seed=0)
    episode = 0
    for _ in range(steps):
        states.append(obs[:4].copy())
        episodes.append(episode)
        obs, _, terminated, truncated, _ = env.step(generator.uniform(-1, 1, 2))
        if terminated or truncated:
            states.append(obs[:4].copy())
            episodes.append(episode)
            episode += 1
            obs, _ = env.reset()
    return torch.tensor(np.stack(states)).float(), torch.tensor(episodes)


def sample_windows(states: torch.Tensor, episodes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``WINDOW + 1`` states of ``NUM_WINDOWS`` windows ``(W + 1, B, 4)`` and the mask ``(W, B)`` of their first episode."""
    starts = torch.randint(0, len(states) - WINDOW - 1, (NUM_WINDOWS,))
    index = starts[None] + torch.arange(WINDOW + 1)[:, None]
    same_episode = (episodes[index] == episodes[index[0]][None]).float()
    mask = torch.cumprod(same_episode[1:] * same_episode[:-1], dim=0)
    return states[index], mask


def mean_rank_correlation(term: GoalTemporalDistance, layout, scale: torch.Tensor) -> float:
    """Return the Spearman correlation of the learned distance with the path distance, averaged over every free cell as the goal."""
    cells = layout.free_cells
    centres = torch.tensor([layout.cell_center(cell) for cell in cells], dtype=torch.float32)
    at_rest = torch.cat([centres, torch.zeros(len(cells), 2)], dim=1) / scale
    correlations = []
    with torch.no_grad():
        for goal, cell in enumerate(cells):
            lengths = layout.path_lengths_from(cell)
            path = np.array([lengths[other] for other in cells])
            others = path > 0
            distance = term.pair_distance(at_rest, at_rest[goal].expand_as(at_rest)).numpy()
            correlations.append(spearman(distance[others], path[others]))
    return float(np.nanmean(correlations))


def main() -> None:
    steps, updates = int(sys.argv[1]), int(sys.argv[2])
    checkpoints = {int(count) for count in sys.argv[3].split(",")}
    torch.manual_seed(0)
    torch.set_num_threads(1)
    env = gym.make(TASK)
    states, episodes = random_walk(env, steps, np.random.default_rng(0))
    scale = states.std(dim=0)
    states = states / scale

    term = GoalTemporalDistance(TaskSpec.from_env(env, TASK), latent_dims=(4,), hidden_dims=(256, 256), discount=0.99, num_pairs=512)
    optimizer = torch.optim.Adam(term.heads.parameters(), lr=3e-4)
    start = time.time()
    for update in range(1, updates + 1):
        loss, metrics = term.loss(*pack(states, episodes))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        term.update_targets()
        if update in checkpoints:
            correlation = mean_rank_correlation(term, maze_layout(env), scale)
            mean_distance = float(metrics["goal_distance/level_0/distance"])
            print(f"updates {update}: rank correlation {correlation:.3f}, mean distance {mean_distance:.1f}, {time.time() - start:.0f} s", flush=True)


def pack(states: torch.Tensor, episodes: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Sample windows and return them as ``term.loss`` takes them: one level's states and the mask."""
    window_states, mask = sample_windows(states, episodes)
    return [window_states], mask


if __name__ == "__main__":
    main()
