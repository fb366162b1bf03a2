"""JSON records of the benchmarks: the output path is checked before timing and written atomically."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def output_path(text: str) -> Path:
    """Check an ``--output`` path before any timing; an argparse type, so a bad path is one usage error.

    The path must not be a folder, and its nearest existing parent must be a writable folder.
    """
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; give a file path for the JSON record, e.g. {text.rstrip('/')}/record.json")
    if path.exists() and not path.is_file():
        # The record replaces its file by a rename, which would turn a device or pipe into a plain file.
        raise argparse.ArgumentTypeError(f"{text!r} is not a regular file (a device, pipe or socket); give a file path for the JSON record")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: {str(parent)!r} is a file, not a folder; choose another path")
    if not os.access(parent, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: folder {str(parent)!r} is not writable; choose another path")
    return path


def write_record(record: dict[str, Any], path: Path) -> None:
    """Write ``record`` as JSON to ``path`` through a temporary file and a rename, so a failed write leaves the old file.

    A new file gets the permissions that the umask allows, an existing one keeps its own. A
    failed write exits with one error line.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~current_umask()
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as error:
        raise SystemExit(write_error(path, error)) from None
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(json.dumps(record, indent=2) + "\n")
        # mkstemp creates the file readable by its owner only.
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise SystemExit(write_error(path, error)) from None
        raise


def write_error(path: Path, error: OSError) -> str:
    return f"error: failed to write the record to {str(path)!r} ({error.strerror or error}); choose another --output"


def current_umask() -> int:
    """Return the process's umask; reading it means setting it, so it is set back at once."""
    umask = os.umask(0o022)
    os.umask(umask)
    return umask
