"""Config loading: unknown keys, wrong types, invalid choices, ``--set`` overrides, TOML round trip."""

from __future__ import annotations

import pytest

from ami.config import ConfigError, RunConfig, apply_override, dump_toml, from_dict, load_config
from tests.tiny import DEBUG_CONFIG


def config_error(data: dict) -> str:
    with pytest.raises(ConfigError) as raised:
        from_dict(RunConfig, data)
    return str(raised.value)


# Unknown keys


def test_unknown_top_level_key():
    message = config_error({"sed": 1})

    assert "unknown config key 'sed'" in message
    assert "valid keys here: actor, configurator, cost, device, env, imports, memory, name" in message
    assert "Did you mean 'seed'?" in message


def test_unknown_nested_key():
    message = config_error({"train": {"total_step": 5000}})

    assert "unknown config key 'train.total_step'" in message
    assert "total_steps" in message
    assert "learning_rate" in message
    assert "Did you mean 'total_steps'?" in message


def test_unknown_deeply_nested_key():
    message = config_error({"cost": {"critic": {"num_critic": 3}}})

    assert "unknown config key 'cost.critic.num_critic'" in message
    assert "valid keys here: hidden_dims, name, num_critics, options, target_tau." in message


def test_section_given_as_value():
    message = config_error({"train": 5})

    assert message == "train must be a table of keys, got 5"


# Wrong types


def test_string_for_integer():
    message = config_error({"train": {"total_steps": "many"}})

    assert message == "invalid value 'many' for 'train.total_steps'; expected an integer"


def test_bool_for_integer():
    message = config_error({"seed": True})

    assert message == "invalid value True for 'seed'; expected an integer"


def test_number_for_string():
    message = config_error({"env": {"task": 5}})

    assert message == "invalid value 5 for 'env.task'; expected a string; quote it to pass it as text, e.g. task = \"5\""


def test_wrong_list_item_type():
    message = config_error({"perception": {"hidden_dims": [32, "wide"]}})

    assert message == "invalid value 'wide' for 'perception.hidden_dims[1]'; expected an integer"


def test_scalar_for_list():
    message = config_error({"perception": {"hidden_dims": 32}})

    assert message == "invalid value 32 for 'perception.hidden_dims'; expected a list"


def test_fractional_float_for_integer():
    message = config_error({"train": {"total_steps": 1.5}})

    assert message == "invalid value 1.5 for 'train.total_steps'; expected an integer"


def test_integer_accepted_for_float():
    config = from_dict(RunConfig, {"train": {"learning_rate": 1}})

    assert config.train.learning_rate == 1.0
    assert isinstance(config.train.learning_rate, float)


def test_whole_float_accepted_for_integer():
    config = from_dict(RunConfig, {"train": {"total_steps": 5000.0}})

    assert config.train.total_steps == 5000
    assert isinstance(config.train.total_steps, int)


# Literal choices


def test_invalid_literal_lists_choices():
    message = config_error({"configurator": {"mode": "planning"}})

    assert message == "invalid value 'planning' for 'configurator.mode'; valid choices: 'reactive', 'deliberative'"


def test_invalid_literal_in_list():
    message = config_error({"train": {"eval_modes": ["reactive", "planning"]}})

    assert "'train.eval_modes[1]'" in message
    assert "valid choices: 'reactive', 'deliberative'" in message


def test_invalid_number_or_auto():
    message = config_error({"cost": {"discount": "automatic"}})

    assert message == "invalid value 'automatic' for 'cost.discount'; expected one of: a number, 'auto'"


def test_number_or_auto_accepts_both():
    auto = from_dict(RunConfig, {"cost": {"discount": "auto"}})
    number = from_dict(RunConfig, {"cost": {"discount": 0.9}})

    assert auto.cost.discount == "auto"
    assert number.cost.discount == 0.9


# --set overrides


def test_override_integer():
    raw: dict = {}

    apply_override(raw, "train.total_steps=5000")

    assert raw == {"train": {"total_steps": 5000}}


def test_override_bare_string():
    raw: dict = {}

    apply_override(raw, "env.task=Hopper-v5")

    assert raw == {"env": {"task": "Hopper-v5"}}


def test_override_quoted_string():
    raw: dict = {}

    apply_override(raw, 'name="my run"')

    assert raw == {"name": "my run"}


def test_override_list():
    raw: dict = {}

    apply_override(raw, "actor.policy.hidden_dims=[64, 64]")

    assert raw == {"actor": {"policy": {"hidden_dims": [64, 64]}}}


def test_override_inline_table():
    raw: dict = {}

    apply_override(raw, "cost.intrinsic={action_energy = 0.5}")

    assert raw == {"cost": {"intrinsic": {"action_energy": 0.5}}}


def test_override_replaces_file_value():
    config = load_config(DEBUG_CONFIG, ["train.total_steps=5000", "env.task=Hopper-v5", "perception.hidden_dims=[8, 8]"])

    assert config.train.total_steps == 5000
    assert config.env.task == "Hopper-v5"
    assert config.perception.hidden_dims == (8, 8)
    assert config.train.seed_steps == 100


def test_override_keeps_sibling_keys():
    raw = {"train": {"seed_steps": 10}}

    apply_override(raw, "train.total_steps=50")

    assert raw == {"train": {"seed_steps": 10, "total_steps": 50}}


def test_override_without_equals():
    with pytest.raises(ConfigError) as raised:
        apply_override({}, "train.total_steps")

    assert "invalid override 'train.total_steps'; expected key=value" in str(raised.value)


def test_override_without_key():
    with pytest.raises(ConfigError) as raised:
        apply_override({}, "=5")

    assert "invalid override '=5'" in str(raised.value)


def test_override_without_value():
    raw = {"name": "run"}
    with pytest.raises(ConfigError) as raised:
        apply_override(raw, "name=")

    assert "invalid override 'name=': missing value after '='" in str(raised.value)
    assert 'name=""' in str(raised.value)
    assert raw == {"name": "run"}


def test_override_unclosed_list():
    raw = {"name": "run"}
    with pytest.raises(ConfigError) as raised:
        apply_override(raw, "name=[1, 2")

    assert "invalid override 'name=[1, 2': the value is not valid TOML" in str(raised.value)
    assert raw == {"name": "run"}


def test_override_unclosed_quote():
    with pytest.raises(ConfigError) as raised:
        apply_override({}, 'name="my run')

    assert "close the brackets or quotes" in str(raised.value)


def test_override_empty_string():
    raw = {"name": "run"}
    apply_override(raw, 'name=""')

    assert raw == {"name": ""}


def test_override_below_a_value():
    with pytest.raises(ConfigError) as raised:
        apply_override({"name": "run"}, "name.first=1")

    assert "'name' is a value, not a section" in str(raised.value)


def test_override_list_index_names_fix():
    with pytest.raises(ConfigError) as raised:
        apply_override({}, "world_model.levels[0].k=3")

    assert "'levels[0]' indexes a list, which overrides cannot do" in str(raised.value)
    assert "e.g. world_model.levels=[{k=3, horizon=2}]" in str(raised.value)


def test_override_unknown_key():
    with pytest.raises(ConfigError) as raised:
        load_config(None, ["train.totl_steps=5"])

    assert "unknown config key 'train.totl_steps'" in str(raised.value)


def test_override_wrong_type():
    with pytest.raises(ConfigError) as raised:
        load_config(None, ["train.total_steps=many"])

    assert "invalid value 'many' for 'train.total_steps'" in str(raised.value)


# Files


def test_missing_file(tmp_path):
    path = tmp_path / "absent.toml"

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    assert f"config file not found: {str(path)!r}" in str(raised.value)


def test_invalid_toml(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[train\ntotal_steps = 5\n")

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    assert f"config file {str(path)!r} is not valid TOML: " in str(raised.value)
    assert "(at line 1, column 7)" in str(raised.value)


def test_debug_config_values():
    config = load_config(DEBUG_CONFIG)

    assert config.name == "debug"
    assert config.perception.hidden_dims == (32,)
    assert config.cost.critic.num_critics == 2
    assert config.actor.planner.num_samples == 32
    assert config.train.total_steps == 300


# Round trip


ROUND_TRIP_OVERRIDES = {
    "defaults": [],
    "changed": [
        'name="round trip"',
        'imports=["tests.plugins.user_planner"]',
        "cost.discount=0.9",
        "cost.intrinsic={action_energy = 0.5}",
        "memory.capacity=123",
        "train.pretrain_updates=7",
        'train.eval_modes=["deliberative"]',
        "configurator.mode=reactive",
        'actor.planner.options={num_sequences = 8, label = "x", weights = [0.5, 1.5]}',
        "actor.policy.log_std_min=-5.5",
    ],
}


@pytest.mark.parametrize("overrides", ROUND_TRIP_OVERRIDES.values(), ids=ROUND_TRIP_OVERRIDES.keys())
def test_round_trip(tmp_path, overrides):
    config = load_config(None, overrides)
    path = tmp_path / "config.toml"

    path.write_text(dump_toml(config))

    assert load_config(path) == config


def test_round_trip_debug_config(tmp_path):
    config = load_config(DEBUG_CONFIG)
    path = tmp_path / "config.toml"

    path.write_text(dump_toml(config))

    assert load_config(path) == config


def test_byte_order_mark_accepted(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + DEBUG_CONFIG.read_bytes())

    config = load_config(path)

    assert config.name == "debug"


def test_device_file_rejected():
    with pytest.raises(ConfigError, match="config path '/dev/null' is not a regular file"):
        load_config("/dev/null")
