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
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: {str(parent)!r} is a file, not a folder; choose another path")
    if not os.access(parent, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: folder {str(parent)!r} is not writable; choose another path")
    return path


def write_record(record: dict[str, Any], path: Path) -> None:
    """Write ``record`` as JSON to ``path`` through a temporary file and a rename, so a failed write leaves the old file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(json.dumps(record, indent=2) + "\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
