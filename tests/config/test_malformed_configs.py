"""Property test: every malformed config gets one clean error line and leaves no run folder.

Each generated config is the debug config with one defect that no valid config has: an
unknown key, a value of the wrong type, an out-of-range number, an unregistered name, broken
TOML or a malformed ``--set``. Up to three valid changes come with it and must not hide the defect.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import string
import sys
import tempfile
import typing
from pathlib import Path
from typing import Any

import gymnasium as gym
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

from ami.config.schema import RunConfig
from experiments.cli import main
from tests.tiny import DEBUG_CONFIG

BASE = tomllib.loads(DEBUG_CONFIG.read_text())

NOT_MUTATED = {"runs_dir", "imports"}
"""``runs_dir`` is set by the test; ``imports`` of a real module would run its code."""

POSITIVE_FIELDS = [
    "train.total_steps", "train.eval_every", "train.eval_episodes", "train.log_every", "train.updates_per_step",
    "train.learning_rate", "train.grad_clip_norm", "train.max_nonfinite_updates", "memory.batch_size",
    "world_model.horizon", "perception.latent_dim", "cost.critic.num_critics",
]
NAMED_FIELDS = [
    "perception.name", "world_model.name", "actor.planner.name", "actor.policy.name",
    "configurator.name", "cost.critic.name", "memory.replay",
]
IDENTIFIER = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=12)


def schema_fields(cls: type = RunConfig, prefix: str = "") -> dict[str, Any]:
    """Every leaf field of the config schema by dotted key, with its type hint."""
    fields = {}
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        if dataclasses.is_dataclass(hint):
            fields.update(schema_fields(hint, f"{prefix}{field.name}."))
        else:
            fields[f"{prefix}{field.name}"] = hint
    return fields


FIELDS = {key: hint for key, hint in schema_fields().items() if key not in NOT_MUTATED}
SECTIONS = sorted({key.rsplit(".", 1)[0] for key in FIELDS if "." in key})


def wrong_type_values(hint: Any) -> st.SearchStrategy:
    """Values that no field of type ``hint`` accepts."""
    origin = typing.get_origin(hint)
    tables = st.dictionaries(IDENTIFIER, st.integers(), min_size=1, max_size=2)
    if origin is dict:
        return st.one_of(st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2))
    if origin is tuple:
        return st.one_of(st.integers(), tables, st.lists(tables, min_size=1, max_size=2))
    if hint is str or origin is typing.Literal:
        return st.one_of(st.lists(st.integers(), max_size=2), tables)
    if hint is bool:
        return st.one_of(st.integers(), st.text(max_size=5), tables)
    # int, float and unions of them with "auto".
    return st.one_of(st.lists(st.integers(), max_size=2), tables, st.text(alphabet="xyz", min_size=1, max_size=5))


def set_dotted(config: dict, key: str, value: Any) -> None:
    *parents, leaf = key.split(".")
    table = config
    for parent in parents:
        table = table.setdefault(parent, {})
    table[leaf] = value


@st.composite
def unknown_key(draw) -> tuple[dict, list[str], str]:
    section = draw(st.sampled_from(["", *SECTIONS]))
    key = draw(IDENTIFIER.filter(lambda name: f"{section}.{name}".lstrip(".") not in FIELDS and name not in SECTIONS))
    dotted = f"{section}.{key}".lstrip(".")
    return {dotted: 1}, [], dotted


@st.composite
def wrong_type(draw) -> tuple[dict, list[str], str]:
    key = draw(st.sampled_from(sorted(FIELDS)))
    return {key: draw(wrong_type_values(FIELDS[key]))}, [], key


@st.composite
def out_of_range(draw) -> tuple[dict, list[str], str]:
    key = draw(st.sampled_from(POSITIVE_FIELDS))
    if FIELDS[key] is int:
        value = draw(st.integers(max_value=0))
    else:
        value = draw(st.one_of(st.integers(max_value=0), st.floats(max_value=0.0), st.just(float("nan")), st.just(float("inf"))))
    return {key: value}, [], key


@st.composite
def unregistered_name(draw) -> tuple[dict, list[str], str]:
    key = draw(st.sampled_from(NAMED_FIELDS))
    name = draw(IDENTIFIER.map(lambda text: f"no_such_{text}"))
    return {key: name}, [], name


@st.composite
def unknown_task(draw) -> tuple[dict, list[str], str]:
    task = draw(st.text(alphabet=string.ascii_letters + "-", min_size=1, max_size=15).filter(lambda text: text not in gym.registry))
    return {"env.task": task}, [], task


@st.composite
def malformed_override(draw) -> tuple[dict, list[str], str]:
    key = draw(st.sampled_from(sorted(FIELDS)))
    override = draw(st.sampled_from([key, f"{key}=", f"={key}", f"{key}=[1, 2"]))
    return {}, [override], key


DEFECTS = st.one_of(unknown_key(), wrong_type(), out_of_range(), unregistered_name(), unknown_task(), malformed_override())

VALID_CHANGES = st.lists(
    st.one_of(
        st.tuples(st.just("seed"), st.integers(0, 1000)),
        st.tuples(st.just("train.learning_rate"), st.floats(1e-5, 1e-2)),
        st.tuples(st.just("actor.planner.num_samples"), st.integers(8, 64)),
        st.tuples(st.just("configurator.mode"), st.sampled_from(["reactive", "deliberative"])),
    ),
    max_size=3,
)


def run_config_text(text: str, overrides: list[str]) -> tuple[int, str, str, Path]:
    """Run ``ami run`` on a config file with ``text``; return exit code, stdout, stderr and runs_dir."""
    with tempfile.TemporaryDirectory() as folder:
        config_path = Path(folder) / "config.toml"
        config_path.write_text(text)
        runs_dir = Path(folder) / "runs"
        arguments = ["run", str(config_path), "--quiet", "--set", f"runs_dir={runs_dir}"]
        for override in overrides:
            arguments += ["--set", override]
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            exit_code = main(arguments)
        left_behind = sorted(str(path) for path in runs_dir.rglob("*")) if runs_dir.exists() else []
    return exit_code, stdout.getvalue(), stderr.getvalue(), left_behind


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(defect=DEFECTS, changes=VALID_CHANGES)
def test_malformed_config_clean_error(defect, changes):
    mutation, overrides, fragment = defect
    config = tomllib.loads(tomli_w.dumps(BASE))
    for key, value in changes:
        set_dotted(config, key, value)
    for key, value in mutation.items():
        set_dotted(config, key, value)

    exit_code, stdout, stderr, left_behind = run_config_text(tomli_w.dumps(config), overrides)

    lines = [line for line in stderr.splitlines() if line.strip()]
    assert exit_code == 2
    assert len(lines) == 1, stderr
    assert lines[0].startswith("ami run: error: ")
    assert fragment in lines[0]
    assert stdout == ""
    assert left_behind == []


@settings(max_examples=30, deadline=None)
@given(garbage=st.text(alphabet="[]=\"'{}.,#\n abc123", min_size=1, max_size=40))
def test_broken_toml_clean_error(garbage):
    text = tomli_w.dumps(BASE) + "\n" + garbage
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        pass
    else:
        # Only broken TOML is this test's input; valid additions are covered above.
        return

    exit_code, stdout, stderr, left_behind = run_config_text(text, [])

    lines = [line for line in stderr.splitlines() if line.strip()]
    assert exit_code == 2
    assert len(lines) == 1, stderr
    assert lines[0].startswith("ami run: error: ")
    assert stdout == ""
    assert left_behind == []
