"""The rendering benchmark times real pixel and state envs and writes its record."""

from __future__ import annotations

import json

import pytest

from experiments.benchmarks import render


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
    ],
)
def test_render_benchmark_rejects_bad_arguments(args, fragment, capsys):
    with pytest.raises(SystemExit) as exit_info:
        render.main(args)

    assert exit_info.value.code == 2
    assert fragment in capsys.readouterr().err
