"""Registry errors: unknown names, classes of the wrong kind and duplicate names."""

from __future__ import annotations

import pytest

from ami.actor import PLANNERS, MPPIPlanner, Planner
from ami.registry import Registry, RegistryError, import_plugins


class Widget:
    pass


class Gear(Widget):
    pass


class Lever(Widget):
    pass


def widget_registry() -> Registry:
    registry = Registry("widget", Widget)
    registry.register("gear")(Gear)
    registry.register("lever")(Lever)
    return registry


def test_unknown_name_lists_choices():
    with pytest.raises(RegistryError) as raised:
        widget_registry().get("spring")

    message = str(raised.value)
    assert message.startswith("unknown widget 'spring'; valid choices: gear, lever.")
    assert "`imports`" in message


def test_unknown_name_suggests_close_match():
    with pytest.raises(RegistryError) as raised:
        PLANNERS.get("mpi")

    message = str(raised.value)
    assert "unknown planner 'mpi'" in message
    assert "cem" in message
    assert "mppi" in message
    assert "Did you mean 'mppi'?" in message


def test_registry_error_is_key_error():
    # Callers that catch KeyError keep working, and the message is not wrapped in quotes.
    with pytest.raises(KeyError) as raised:
        widget_registry().get("spring")

    assert str(raised.value).startswith("unknown widget")


def test_register_non_subclass_raises():
    registry = widget_registry()

    with pytest.raises(TypeError) as raised:
        registry.register("planner")(MPPIPlanner)

    assert "must be a subclass of tests.test_registry.Widget" in str(raised.value)
    assert "planner" not in registry


def test_register_non_class_raises():
    with pytest.raises(TypeError):
        widget_registry().register("function")(lambda: None)


def test_duplicate_name_raises():
    registry = widget_registry()

    class OtherGear(Widget):
        pass

    with pytest.raises(RegistryError) as raised:
        registry.register("gear")(OtherGear)

    assert "'gear' is already taken by tests.test_registry.Gear" in str(raised.value)
    assert registry.get("gear") is Gear


def test_duplicate_builtin_name_raises():
    class OtherPlanner(Planner):
        def plan(self, *args, **kwargs):
            raise NotImplementedError

    with pytest.raises(RegistryError):
        PLANNERS.register("mppi")(OtherPlanner)

    assert PLANNERS.get("mppi") is MPPIPlanner


def test_same_class_twice_is_allowed():
    # Re-registering the same class, as a re-imported module does, is not a conflict.
    registry = widget_registry()

    registry.register("gear")(Gear)

    assert registry.get("gear") is Gear


def test_import_plugins_unknown_module():
    with pytest.raises(ImportError) as raised:
        import_plugins(["tests.plugins.missing_module"])

    assert "'tests.plugins.missing_module'" in str(raised.value)
    assert "`imports`" in str(raised.value)
