"""OpenGL backend selection of ``envs.gl_backend``, each case in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from envs.gl_backend import probe_backend
from tests.tiny import REPO_ROOT

SELECT = "from envs.gl_backend import select_gl_backend; import os; print(select_gl_backend({candidates}), os.environ['MUJOCO_GL'])"


def run_python(code: str, **env_changes: str | None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in ("MUJOCO_GL", "PYOPENGL_PLATFORM")}
    env.update({key: value for key, value in env_changes.items() if value is not None})
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_no_working_backend_names_each_error():
    # PyOpenGL on the "glx" platform makes mujoco's EGL and OSMesa modules fail to import.
    completed = run_python(SELECT.format(candidates="('egl', 'osmesa', 'vulkan')"), PYOPENGL_PLATFORM="glx")
    message = completed.stderr.strip().splitlines()[-1]

    assert completed.returncode != 0
    assert "GLBackendError: no OpenGL backend can render pixel observations" in message
    assert "MUJOCO_GL is not set, so egl, osmesa, vulkan were tried in order" in message
    assert "egl: ImportError: " in message
    assert "Cannot use EGL rendering platform" in message
    assert "osmesa: " in message
    assert "vulkan: unknown backend; valid choices: egl, osmesa, glfw" in message
    assert "apt-get install libegl1 libegl-mesa0" in message
    assert "apt-get install libosmesa6" in message


def test_broken_user_backend_is_reported():
    completed = run_python(SELECT.format(candidates=""), MUJOCO_GL="egl", PYOPENGL_PLATFORM="glx")
    message = completed.stderr.strip().splitlines()[-1]

    assert completed.returncode != 0
    assert "MUJOCO_GL='egl' is set in the environment, so only it was tried" in message
    assert "Errors: egl: ImportError" in message


@pytest.mark.skipif(probe_backend("egl") is not None, reason="EGL cannot render on this machine")
def test_first_working_backend_is_selected():
    completed = run_python(SELECT.format(candidates="('vulkan', 'egl')"))

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["egl", "egl"]


@pytest.mark.skipif(probe_backend("egl") is not None, reason="EGL cannot render on this machine")
def test_user_backend_is_respected():
    # The candidate list does not contain egl, so only the user's setting can pick it.
    completed = run_python(SELECT.format(candidates="('osmesa',)"), MUJOCO_GL="EGL")

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["egl", "egl"]
