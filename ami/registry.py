"""Name -> class registries that make every AMI module swappable from a config.

Each module package owns one registry (``PLANNERS`` in ``ami.actor.base``, ...). A class a user
registers in their own code is usable from a config as soon as that code is imported, for
example through the config's top-level ``imports`` list::

    from ami.actor import PLANNERS, Planner

    @PLANNERS.register("random_shooting")
    class RandomShooting(Planner):
        ...
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T", bound=type)


class RegistryError(KeyError):
    """Unknown or duplicate name in a registry."""

    def __str__(self) -> str:
        # KeyError quotes its message; show it as plain text instead.
        return str(self.args[0])


class Registry(Generic[T]):
    """A mapping from names to subclasses of one abstract base class."""

    def __init__(self, kind: str, base: type) -> None:
        self.kind = kind
        self.base = base
        self._classes: dict[str, type] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Return a class decorator that registers the class under ``name``."""

        def decorator(cls: T) -> T:
            if not (isinstance(cls, type) and issubclass(cls, self.base)):
                raise TypeError(
                    f"cannot register {cls!r} as {self.kind} {name!r}: "
                    f"it must be a subclass of {self.base.__module__}.{self.base.__qualname__}"
                )
            existing = self._classes.get(name)
            if existing is not None and existing is not cls:
                raise RegistryError(
                    f"{self.kind} name {name!r} is already taken by "
                    f"{existing.__module__}.{existing.__qualname__}; choose another name"
                )
            self._classes[name] = cls
            return cls

        return decorator

    def get(self, name: str, key: str | None = None) -> T:
        """Return the class registered as ``name``; the error names the config ``key`` and lists the valid names."""
        try:
            return self._classes[name]  # type: ignore[return-value]
        except KeyError:
            raise RegistryError(self.unknown_name_message(name, key)) from None

    def unknown_name_message(self, name: str, key: str | None = None) -> str:
        close = difflib.get_close_matches(name, self.names(), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        source = f" for {key}" if key else ""
        return (
            f"unknown {self.kind} {name!r}{source}; valid choices: {', '.join(self.names())}.{hint} "
            "A class registered in your own module becomes available once that module is "
            "listed in the config's top-level `imports`."
        )

    def names(self) -> list[str]:
        return sorted(self._classes)

    def __contains__(self, name: object) -> bool:
        return name in self._classes


def import_plugins(module_names: Iterable[str]) -> None:
    """Import user modules so that the classes they register become available."""
    for module_name in module_names:
        if not module_name.strip():
            raise ImportError("`imports` contains an empty module name; list modules as dotted paths, e.g. \"my_lab.planners\"")
        try:
            importlib.import_module(module_name)
        except ImportError as error:
            raise ImportError(
                f"cannot import plugin module {module_name!r} listed in `imports`: {error}. "
                "Check the module path and that its folder is on PYTHONPATH."
            ) from error
