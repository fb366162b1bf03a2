"""The rendering benchmark times real pixel and state envs and writes its record."""

from __future__ import annotations

import json
import os

import pytest

from experiments.benchmarks import render
from experiments.benchmarks.record import write_record


def test_render_benchmark_writes_cells(tmp_path, capsys):
    output = tmp_path / "render.json"

    exit_code = render.main(
        ["--tasks", "InvertedPendulum-v5", "--sizes", "32,48", "--steps", "5", "--scenes", "state,plain", "--output", str(output)]
    )

    record = json.loads(output.read_text())
    assert exit_code == 0
    assert [(cell["scene"], cell["image_size"]) for cell in record["cells"]] == [("state", None), ("plain", 32), ("plain", 48)]
    assert all(cell["steps_per_s"] > 0 for cell in record["cells"])
    assert record["gl_backend"] in ("egl", "osmesa", "glfw")
    assert json.loads(capsys.readouterr().out) == record


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--tasks", "NoSuchTask-v0"], "unknown task 'NoSuchTask-v0'"),
        (["--scenes", "plain,shiny"], "invalid scenes ['shiny']"),
        (["--steps", "0"], "invalid count '0'"),
        (["--output", "{tmp}"], "is a folder; give a file path for the JSON record"),
        (["--output", "{tmp}/a_file/record.json"], "/a_file' is a file, not a folder; choose another path"),
        (["--output", "{tmp}/a_pipe"], "/a_pipe' is not a regular file (a device, pipe or socket)"),
    ],
)
def test_render_benchmark_rejects_bad_arguments(args, fragment, capsys, tmp_path):
    (tmp_path / "a_file").write_text("")
    os.mkfifo(tmp_path / "a_pipe")

    with pytest.raises(SystemExit) as exit_info:
        render.main([arg.format(tmp=tmp_path) for arg in args])

    assert exit_info.value.code == 2
    assert fragment in capsys.readouterr().err


def test_write_record_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "record.json"
    write_record({"figure": 1}, path)

    with pytest.raises(TypeError):
        write_record({"figure": object()}, path)

    assert json.loads(path.read_text()) == {"figure": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_write_record_permissions_follow_umask(tmp_path):
    path = tmp_path / "record.json"
    umask = os.umask(0o022)
    try:
        write_record({"figure": 1}, path)
    finally:
        os.umask(umask)

    assert path.stat().st_mode & 0o777 == 0o644


def test_write_record_keeps_existing_permissions(tmp_path):
    path = tmp_path / "record.json"
    path.write_text("{}")
    path.chmod(0o640)

    write_record({"figure": 2}, path)

    assert path.stat().st_mode & 0o777 == 0o640
    assert json.loads(path.read_text()) == {"figure": 2}


def test_write_record_failure_is_one_line(tmp_path):
    (tmp_path / "a_file").write_text("")

    with pytest.raises(SystemExit) as exit_info:
        write_record({"figure": 1}, tmp_path / "a_file" / "record.json")

    assert str(exit_info.value).startswith("error: failed to write the record to ")
    assert str(exit_info.value).endswith("choose another --output")
