"""Success rate of uniform random actions on the 50 held-out pairs of a maze (context for the planners' figures).

Usage: python experiments/results/maze/random_baseline.py [TASK], where TASK defaults to ami/PointMazeU-v0.
"""
import json
import sys
import gymnasium as gym
import numpy as np
import envs  # registers the maze tasks
from ami.training.maze_evaluation import held_out_reset_options

env = gym.make(sys.argv[1] if len(sys.argv) > 1 else "ami/PointMazeU-v0")
options = held_out_reset_options(env, 50)
rng = np.random.default_rng(0)
successes, distances = [], []
for index, option in enumerate(options):
    env.reset(seed=10_000 + index, options=option)
    done, success = False, False
    while not done:
        _, _, terminated, truncated, info = env.step(rng.uniform(-1, 1, size=2).astype(np.float32))
        success = success or info["success"]
        done = terminated or truncated
    successes.append(success)
    distances.append(info["distance_to_goal"])
print(json.dumps({"success_rate": float(np.mean(successes)), "mean_final_distance": float(np.mean(distances))}))
