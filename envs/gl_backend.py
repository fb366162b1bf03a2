"""Choose the OpenGL backend that renders pixel observations, before any GL context exists.

MuJoCo picks its GL backend from the ``MUJOCO_GL`` environment variable once, when
``import mujoco`` loads ``mujoco.rendering.classic.gl_context``. This project imports mujoco
before it reads a config, so setting ``MUJOCO_GL`` afterwards does not change
``mujoco.GLContext`` or ``mujoco.Renderer`` in this process. Hence:

- each candidate backend is tried in a fresh Python subprocess, whose ``import mujoco`` reads
  the candidate from ``MUJOCO_GL``, because a failed backend cannot be unloaded from this one;
- the chosen backend is written to ``os.environ["MUJOCO_GL"]`` for subprocesses and for
  Gymnasium's ``render()``, which read it when they create a context;
- ``envs.pixels`` creates its context from the backend's own module (``mujoco.egl``,
  ``mujoco.osmesa`` or ``mujoco.glfw``), which does not depend on the variable.

Only pixel tasks call ``select_gl_backend``: a run on state observations never creates a GL
context and never sets ``MUJOCO_GL``.
"""

from __future__ import annotations

import importlib
import logging
import os
import subprocess
import sys
from collections.abc import Sequence

logger = logging.getLogger(__name__)

GL_ENV_VAR = "MUJOCO_GL"

CANDIDATE_BACKENDS = ("egl", "osmesa")
"""Headless backends tried in order when ``MUJOCO_GL`` is not set: EGL first, because it uses a
GPU where there is one and Mesa's software renderer otherwise; OSMesa is software only."""

CONTEXT_MODULES = {"egl": "mujoco.egl", "osmesa": "mujoco.osmesa", "glfw": "mujoco.glfw"}
"""Backend name -> the mujoco module whose ``GLContext`` creates a context of that kind."""

GLFW_ALIASES = ("enable", "enabled", "on", "true", "1")
"""Values of ``MUJOCO_GL`` that mujoco (3.x, 4.0) reads as ``glfw``."""

INSTALL_HINT = (
    "Install one backend: on Debian or Ubuntu `apt-get install libegl1 libegl-mesa0` for EGL, or "
    "`apt-get install libosmesa6` for OSMesa; then run again, or set MUJOCO_GL to a backend that works "
    "on this machine (egl, osmesa or glfw)."
)

PROBE_TIMEOUT_SECONDS = 60.0
"""Time limit of one backend probe; a probe took about 5 s here, most of it importing mujoco and PyOpenGL."""

SYSTEM_LIBRARIES = {"egl": "EGL", "osmesa": "OSMesa"}
"""Backend -> the shared library it loads, by the name that ``ctypes.util.find_library`` takes."""

PROBE_SCRIPT = """
import ctypes.util, os, sys
library = sys.argv[1]
if library and ctypes.util.find_library(library) is None:
    sys.exit(f"shared library lib{library} not found")
import mujoco
context = mujoco.GLContext(16, 16)
context.make_current()
model = mujoco.MjModel.from_xml_string("<mujoco><worldbody><geom size='0.1'/></worldbody></mujoco>")
mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_100).free()
context.free()
"""
"""Check the backend's shared library, then create a context and a MuJoCo render context on it.

PyOpenGL reports a missing library as an AttributeError on ``None``, hence the explicit check."""

_selected: str | None = None


class GLBackendError(OSError):
    """No OpenGL backend can render on this machine: its GL libraries are missing or broken."""


def probe_backend(backend: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> str | None:
    """Try to render with ``backend`` in a subprocess; return None when it works, else its error.

    The error is the last line of the subprocess's stderr, which for a Python exception is the
    exception type and message.
    """
    env = {**os.environ, GL_ENV_VAR: backend}
    try:
        completed = subprocess.run(
            [sys.executable, "-c", PROBE_SCRIPT, SYSTEM_LIBRARIES.get(backend, "")], env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:.0f} s"
    if completed.returncode == 0:
        return None
    lines = [line.strip() for line in completed.stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {completed.returncode} without a message"


def select_gl_backend(candidates: Sequence[str] = CANDIDATE_BACKENDS) -> str:
    """Return a backend that renders, and set ``MUJOCO_GL`` to it; raise GLBackendError if none does.

    A ``MUJOCO_GL`` that the user set is the only candidate, so their choice is respected and a
    broken one fails here with its error. The first call probes; later calls return its result.
    """
    global _selected
    if _selected is not None:
        return _selected

    user_choice = os.environ.get(GL_ENV_VAR, "").strip().lower()
    if user_choice:
        candidates = ("glfw",) if user_choice in GLFW_ALIASES else (user_choice,)
    errors = {}
    for backend in candidates:
        if backend not in CONTEXT_MODULES:
            errors[backend] = f"unknown backend; valid choices: {', '.join(CONTEXT_MODULES)}"
            continue
        error = probe_backend(backend)
        if error is None:
            os.environ[GL_ENV_VAR] = backend
            _selected = backend
            logger.info("rendering pixel observations with the %s OpenGL backend (MUJOCO_GL=%s)", backend, backend)
            return backend
        errors[backend] = error

    errors_text = "; ".join(f"{backend}: {error}" for backend, error in errors.items())
    if user_choice:
        source = f"MUJOCO_GL={user_choice!r} is set in the environment, so only it was tried"
    else:
        source = f"MUJOCO_GL is not set, so {', '.join(candidates)} were tried in order"
    raise GLBackendError(f"no OpenGL backend can render pixel observations ({source}). Errors: {errors_text}. {INSTALL_HINT}")


def gl_context_class(backend: str) -> type:
    """Return the ``GLContext`` class of ``backend`` from its mujoco module."""
    if backend not in CONTEXT_MODULES:
        raise GLBackendError(f"unknown OpenGL backend {backend!r}; valid choices: {', '.join(CONTEXT_MODULES)}")
    return importlib.import_module(CONTEXT_MODULES[backend]).GLContext
