"""Gymnasium tasks and the wrappers shared by every agent."""

from envs.make import UnknownTaskError, check_task, make_env

__all__ = ["UnknownTaskError", "check_task", "make_env"]
