"""Run folders: one per run, never overwritten, holding the resolved config."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from ami.config.loader import dump_toml
from ami.config.schema import RunConfig


def create_run_dir(config: RunConfig) -> Path:
    """Create ``runs_dir/<task>/<name>-<YYYYmmdd-HHMMSS>-s<seed>`` (suffixed ``-2``, ``-3``... if taken).

    Writes ``config.toml`` (the resolved config, runnable with ``ami run``) and ``version.txt``.
    """
    stem = safe_name(config.name or "ami")
    parent = Path(config.runs_dir) / safe_name(config.env.task)
    parent.mkdir(parents=True, exist_ok=True)
    base = f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}-s{config.seed}"
    for attempt in range(1, 1000):
        run_dir = parent / (base if attempt == 1 else f"{base}-{attempt}")
        try:
            run_dir.mkdir()
        except FileExistsError:
            continue
        (run_dir / "config.toml").write_text(dump_toml(config))
        (run_dir / "version.txt").write_text(code_version() + "\n")
        return run_dir
    raise FileExistsError(f"could not create a new run folder under {parent}")


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def code_version() -> str:
    """Git commit of the source tree, with ``-dirty`` for uncommitted changes, or ``unknown``."""
    source = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=source, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")
