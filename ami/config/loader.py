"""Load TOML configs into the typed dataclasses of ``ami.config.schema``.

Unknown keys, wrong types and invalid choices raise ``ConfigError`` with the dotted key, the
value found and the valid choices. ``--set key=value`` overrides are applied to the raw mapping
before validation, so they are checked exactly like the file.
"""

from __future__ import annotations

import dataclasses
import difflib
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

import tomli_w

from ami.config.schema import RunConfig

C = TypeVar("C")


class ConfigError(ValueError):
    """Invalid configuration: the message names the key, the value and the fix."""


def load_config(path: str | Path | None = None, overrides: typing.Sequence[str] = ()) -> RunConfig:
    """Read a TOML file (or the defaults when ``path`` is None), apply overrides, validate."""
    raw = read_toml(path) if path is not None else {}
    for override in overrides:
        apply_override(raw, override)
    return from_dict(RunConfig, raw)


def read_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"config path {str(path)!r} is a folder; pass the path of a TOML file")
    if path.exists() and not path.is_file():
        raise ConfigError(f"config path {str(path)!r} is not a regular file; pass the path of a TOML file")
    if not path.is_file():
        raise ConfigError(f"config file not found: {str(path)!r}; pass the path of a TOML file")
    try:
        # utf-8-sig also reads files that editors saved with a byte order mark.
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(f"config file {str(path)!r} is not UTF-8 text ({error}); save it as UTF-8 TOML") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {error}; fix the syntax at that line") from None


def apply_override(raw: dict[str, Any], override: str) -> None:
    """Set ``a.b.c=value`` in the nested mapping; ``value`` is read as a TOML value.

    A value that is not valid TOML, like ``Hopper-v5``, is taken as a string, unless it opens a
    list, table or quoted string.
    """
    key, separator, text = override.partition("=")
    key = key.strip()
    if not separator or not key:
        raise ConfigError(f"invalid override {override!r}; expected key=value, e.g. train.total_steps=5000")
    if not text.strip():
        # A shell variable that expanded to nothing looks the same, so the empty string must be quoted.
        raise ConfigError(f"invalid override {override!r}: missing value after '='; give a value, or {key}=\"\" for the empty string")
    try:
        value = tomllib.loads(f"value = {text.strip()}")["value"]
    except tomllib.TOMLDecodeError as error:
        if text.strip()[0] in "[{\"'":
            # The value opens a TOML list, table or quoted string, so it is broken TOML, not a bare word.
            raise ConfigError(f"invalid override {override!r}: the value is not valid TOML ({error}); close the brackets or quotes") from None
        value = text.strip()

    parts = key.split(".")
    indexed = next((part for part in parts if "[" in part), None)
    if indexed is not None:
        raise ConfigError(
            f"invalid override {override!r}: {indexed!r} indexes a list, which overrides cannot do; "
            "set the whole list instead, e.g. world_model.levels=[{k=3, horizon=2}]"
        )
    node = raw
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            dotted = ".".join(parts[: depth + 1])
            raise ConfigError(f"invalid override {override!r}: {dotted!r} is a value, not a section")
        node = child
    node[parts[-1]] = value


def from_dict(cls: type[C], data: Any, path: str = "") -> C:
    """Build the dataclass ``cls`` from a mapping, validating every key and value."""
    if not isinstance(data, dict):
        # Nested paths arrive with a trailing dot ("train."); the message names the key itself.
        raise ConfigError(f"{path.rstrip('.') or 'config'} must be a table of keys, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    for key in data:
        if key not in fields:
            raise ConfigError(unknown_key_message(f"{path}{key}", key, sorted(fields)))

    missing = [
        name for name, f in fields.items()
        if name not in data and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{path.rstrip('.') or 'config'} is missing the required key(s) {', '.join(map(repr, missing))}; add them")

    values = {key: convert(value, hints[key], f"{path}{key}") for key, value in data.items()}
    return cls(**values)


def unknown_key_message(dotted: str, key: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown config key {dotted!r}; valid keys here: {', '.join(valid)}.{hint}"


def convert(value: Any, hint: Any, path: str) -> Any:
    """Check ``value`` against the type hint ``hint`` and convert TOML forms (list -> tuple)."""
    origin = typing.get_origin(hint)

    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, f"{path}.")
    if origin in (Union, types.UnionType):
        return convert_union(value, typing.get_args(hint), path)
    if origin is Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            raise ConfigError(f"invalid value {value!r} for {path!r}; valid choices: {', '.join(map(repr, choices))}")
        return value
    if origin is tuple:
        return convert_tuple(value, typing.get_args(hint), path)
    if origin is dict:
        return convert_dict(value, typing.get_args(hint), path)
    if hint is Any:
        return value
    return convert_scalar(value, hint, path)


def convert_union(value: Any, options: tuple[Any, ...], path: str) -> Any:
    for option in options:
        try:
            return convert(value, option, path)
        except ConfigError:
            continue
    raise ConfigError(f"invalid value {value!r} for {path!r}; expected one of: {describe(options)}")


def convert_tuple(value: Any, args: tuple[Any, ...], path: str) -> tuple[Any, ...]:
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"invalid value {value!r} for {path!r}; expected a list")
    item_hint = args[0]
    return tuple(convert(item, item_hint, f"{path}[{index}]") for index, item in enumerate(value))


def convert_dict(value: Any, args: tuple[Any, ...], path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"invalid value {value!r} for {path!r}; expected a table")
    value_hint = args[1]
    return {str(key): convert(item, value_hint, f"{path}.{key}") for key, item in value.items()}


def convert_scalar(value: Any, hint: type, path: str) -> Any:
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if hint is int and isinstance(value, bool):
        raise ConfigError(f"invalid value {value!r} for {path!r}; expected an integer")
    if not isinstance(value, hint):
        hint_text = ""
        if hint is str:
            # TOML reads 123, true or 2024-01-01 as non-strings; quoting keeps them as text.
            hint_text = f"; quote it to pass it as text, e.g. {path.split('.')[-1]} = \"{value}\""
        raise ConfigError(f"invalid value {value!r} for {path!r}; expected {describe((hint,))}{hint_text}")
    return value


def describe(hints: typing.Iterable[Any]) -> str:
    names = []
    for hint in hints:
        if typing.get_origin(hint) is Literal:
            names.extend(repr(choice) for choice in typing.get_args(hint))
        else:
            names.append({int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(hint, str(hint)))
    return ", ".join(names)


def to_dict(config: Any) -> dict[str, Any]:
    """Return the config as plain TOML-ready data (tuples become lists)."""
    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (tuple, list)):
            return [plain(item) for item in value]
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        return value

    return plain(config)


def dump_toml(config: Any) -> str:
    return tomli_w.dumps(to_dict(config))
