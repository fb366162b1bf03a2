"""Gymnasium tasks and the wrappers shared by every agent."""

from envs.make import UnknownTaskError, check_task, make_env
from envs.point_maze import register_point_maze_tasks

# Registering only stores the entry point, so importing envs does not build any maze.
register_point_maze_tasks()

__all__ = ["UnknownTaskError", "check_task", "make_env"]
