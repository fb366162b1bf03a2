"""Argument types shared by the command-line tools, so that a bad number is one usage error."""

from __future__ import annotations

import argparse
import math


def positive_int(text: str) -> int:
    value = parse_int(text)
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    value = parse_int(text)
    if value is None or value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return value


def non_negative_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite, non-negative number of seconds, got {text!r}")
    return value


def parse_int(text: str) -> int | None:
    """Return ``text`` as an integer, or None when it is not one (``2.5``, ``abc``)."""
    try:
        return int(text)
    except ValueError:
        return None
