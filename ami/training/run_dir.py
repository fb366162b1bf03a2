"""Run folders: one per run, never overwritten, holding the resolved config."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from ami.config.loader import ConfigError, dump_toml, load_config
from ami.config.schema import RunConfig

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

RESUME_OVERRIDES = ("train.total_steps", "num_threads")
"""Config fields that ``ami run --resume`` may change: the rest shape the saved state.

``num_threads`` changes no saved state, but PyTorch's sums may then run in another order, so a
resume with another thread count can differ from an uninterrupted run in the last bits."""


RUN_FILES = ("checkpoint.pt", "config.toml", "version.txt", "summary.json", ".lock")
"""Files that ``ami run`` writes into a run folder, besides the TensorBoard event files."""


class RunDirError(ValueError):
    """A folder is not a run folder, or another process is using it."""


def create_run_dir(config: RunConfig) -> Path:
    """Create ``runs_dir/<task>/<name>-<YYYYmmdd-HHMMSS>-s<seed>`` (suffixed ``-2``, ``-3``... if taken).

    Writes ``config.toml`` (the resolved config, runnable with ``ami run``) and ``version.txt``.
    """
    stem = safe_name(config.name or "ami")
    parent = Path(config.runs_dir) / safe_name(config.env.task)
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunDirError(
            f"failed to create the run folder under runs_dir = {config.runs_dir!r}: {error.strerror} ({error.filename}); "
            "set runs_dir to a writable folder"
        ) from None
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


def read_run_config(run_dir: Path, overrides: Sequence[str] = ()) -> RunConfig:
    """Load the ``config.toml`` of ``run_dir``, with overrides limited to ``RESUME_OVERRIDES``."""
    if not run_dir.is_dir():
        raise RunDirError(f"run folder not found: {str(run_dir)!r}; pass a folder written by `ami run`")
    config_path = run_dir / "config.toml"
    if not config_path.is_file():
        raise RunDirError(f"{str(run_dir)!r} is not a run folder: config.toml is missing; pass a folder written by `ami run`")
    for override in overrides:
        key = override.split("=", 1)[0].strip()
        if key not in RESUME_OVERRIDES:
            raise ConfigError(
                f"cannot override {key!r} when resuming a run: only {', '.join(RESUME_OVERRIDES)} may change, "
                "because the other fields shape the saved state. Start a new run to change it"
            )
    return load_config(config_path, overrides)


def write_run_config(run_dir: Path, config: RunConfig) -> None:
    """Replace ``config.toml`` of ``run_dir`` atomically, e.g. after a resume extended the run."""
    temporary = run_dir / "config.toml.tmp"
    temporary.write_text(dump_toml(config))
    os.replace(temporary, run_dir / "config.toml")


class RunDirLock:
    """An exclusive lock on a run or comparison folder, held while one process writes to it.

    The operating system drops the lock when the process dies, even by SIGKILL, so a killed
    run never leaves its folder locked.
    """

    def __init__(self, run_dir: Path) -> None:
        try:
            self.file = open(run_dir / ".lock", "a")  # noqa: SIM115 - held open for the lifetime of the lock
        except OSError as error:
            raise RunDirError(
                f"failed to lock folder {str(run_dir)!r}: {error.strerror} ({error.filename}); "
                "the lock file .lock must be a writable file, so remove whatever has its name"
            ) from None
        if fcntl is None:
            # NOTE: without fcntl (Windows) two processes can train in one folder at once.
            return
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.close()
            raise RunDirError(
                f"folder {str(run_dir)!r} is in use by another ami process; wait for it to end or stop it first"
            ) from None

    def release(self) -> None:
        self.file.close()

    def __enter__(self) -> "RunDirLock":
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.release()


def lock_run_dir(run_dir: Path) -> RunDirLock:
    """Lock ``run_dir`` for this process; raise RunDirError if another process holds it."""
    return RunDirLock(run_dir)
