"""Checkpoints load safely: no code runs, devices map to the CPU, mismatches are named."""

from __future__ import annotations

import contextlib
import dataclasses
import io
from pathlib import Path

import pytest
import torch

from ami.config import load_config
from ami.training.checkpoint import (
    CHECKPOINT_NAME,
    CheckpointError,
    check_checkpoint_matches,
    check_resume_config,
    checkpoint_metadata,
    load_checkpoint,
)
from ami.training.run_dir import RESUME_OVERRIDES
from ami.training.trainer import Trainer
from experiments.cli import main
from tests.tiny import DEBUG_CONFIG


class FileCreatingPayload:
    """Unpickling this object creates ``path``, as a malicious checkpoint could."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def quiet_main(arguments: list[str]) -> int:
    with contextlib.redirect_stdout(io.StringIO()):
        return main(arguments)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    runs_dir = tmp_path_factory.mktemp("runs")
    assert quiet_main(["run", str(DEBUG_CONFIG), "--quiet", "--set", f"runs_dir={runs_dir}", "--set", "train.total_steps=110"]) == 0
    (run_dir,) = (runs_dir / "InvertedPendulum-v5").iterdir()
    return run_dir


def test_crafted_pickle_rejected(tmp_path):
    created = tmp_path / "created_by_checkpoint.txt"
    checkpoint = tmp_path / CHECKPOINT_NAME
    torch.save({"format_version": 2, "metadata": {}, "state": FileCreatingPayload(created)}, checkpoint)

    with pytest.raises(CheckpointError, match="it is corrupted, truncated or not a checkpoint"):
        load_checkpoint(checkpoint)

    assert not created.exists()


def test_crafted_pickle_rejected_by_eval(finished_run, tmp_path, capsys):
    created = tmp_path / "created_by_checkpoint.txt"
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.toml").write_text((finished_run / "config.toml").read_text())
    torch.save({"format_version": 2, "metadata": {}, "state": FileCreatingPayload(created)}, run_dir / CHECKPOINT_NAME)

    exit_code = main(["eval", str(run_dir), "--episodes", "1"])

    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert exit_code == 2
    assert len(lines) == 1
    assert "Unsupported global" in lines[0]
    assert not created.exists()
    # The same file does run code when loaded without weights_only, so the checks above can fail.
    torch.load(run_dir / CHECKPOINT_NAME, weights_only=False)
    assert created.exists()


@contextlib.contextmanager
def storages_tagged_as_cuda():
    """Make ``torch.save`` record every storage as living on ``cuda:0``, as a GPU run writes them."""
    entry = (0, lambda storage: "cuda:0", lambda storage, location: None)
    torch.serialization._package_registry.insert(0, entry)
    try:
        yield
    finally:
        torch.serialization._package_registry.remove(entry)


@pytest.fixture(scope="module")
def cuda_run(finished_run, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("cuda_run") / "run"
    run_dir.mkdir()
    (run_dir / "config.toml").write_text((finished_run / "config.toml").read_text())
    payload = torch.load(finished_run / CHECKPOINT_NAME, weights_only=True)
    with storages_tagged_as_cuda():
        torch.save(payload, run_dir / CHECKPOINT_NAME)
    return run_dir


@pytest.mark.skipif(torch.cuda.is_available(), reason="shows the CUDA tag only where CUDA is missing")
def test_cuda_checkpoint_tagged(cuda_run):
    with pytest.raises(RuntimeError, match="CUDA"):
        torch.load(cuda_run / CHECKPOINT_NAME, weights_only=True)


def test_cuda_checkpoint_evaluates_on_cpu(cuda_run):
    assert quiet_main(["eval", str(cuda_run), "--episodes", "1", "--device", "cpu"]) == 0


def test_cuda_checkpoint_resumes_on_cpu(cuda_run):
    exit_code = quiet_main(["run", "--resume", str(cuda_run), "--set", "train.total_steps=120", "--quiet"])

    assert exit_code == 0
    assert load_checkpoint(cuda_run / CHECKPOINT_NAME)["metadata"]["step"] == 120


@pytest.fixture(scope="module")
def debug_trainer() -> Trainer:
    return Trainer(load_config(DEBUG_CONFIG), show_progress=False)


def test_checkpoint_other_module_config(debug_trainer):
    other = load_config(DEBUG_CONFIG, ["world_model.hidden_dims=[64]"])
    metadata = checkpoint_metadata(other, debug_trainer.spec, step=0)

    with pytest.raises(CheckpointError, match=r"written with world_model.hidden_dims=\[64\] but the config gives \[32\]"):
        check_checkpoint_matches(metadata, debug_trainer.config, debug_trainer.spec, Path(CHECKPOINT_NAME))


def test_checkpoint_without_newer_default_field(debug_trainer):
    # A checkpoint written before env.num_envs existed has no such key; its run had one env.
    metadata = checkpoint_metadata(debug_trainer.config, debug_trainer.spec, step=0)
    del metadata["config"]["env"]["num_envs"]

    check_checkpoint_matches(metadata, debug_trainer.config, debug_trainer.spec, Path(CHECKPOINT_NAME))


def test_checkpoint_without_newer_field_other_value(debug_trainer):
    config = load_config(DEBUG_CONFIG, ["env.num_envs=2", "train.seed_steps=200"])
    metadata = checkpoint_metadata(config, debug_trainer.spec, step=0)
    del metadata["config"]["env"]["num_envs"]

    with pytest.raises(CheckpointError, match=r"written with env.num_envs='<missing>' but the config gives 2"):
        check_checkpoint_matches(metadata, config, debug_trainer.spec, Path(CHECKPOINT_NAME))


def test_resume_without_newer_default_field(debug_trainer):
    # A run saved before actor.planner.deterministic_action existed acted with its default.
    metadata = checkpoint_metadata(debug_trainer.config, debug_trainer.spec, step=0)
    del metadata["run_config"]["actor"]["planner"]["deterministic_action"]

    check_resume_config(metadata, debug_trainer.config, Path(CHECKPOINT_NAME), RESUME_OVERRIDES)


def test_resume_without_newer_field_other_value(debug_trainer):
    config = load_config(DEBUG_CONFIG, ["actor.planner.deterministic_action=elite"])
    metadata = checkpoint_metadata(config, debug_trainer.spec, step=0)
    del metadata["run_config"]["actor"]["planner"]["deterministic_action"]

    with pytest.raises(CheckpointError, match=r"written with actor.planner.deterministic_action='<missing>' but config.toml gives 'elite'"):
        check_resume_config(metadata, config, Path(CHECKPOINT_NAME), RESUME_OVERRIDES)


def test_checkpoint_other_action_bounds(debug_trainer):
    spec = debug_trainer.spec
    metadata = checkpoint_metadata(debug_trainer.config, dataclasses.replace(spec, action_high=(2.0,)), step=0)

    with pytest.raises(CheckpointError, match=r"written for action_high=\[2.0\] but this run has \[1.0\]"):
        check_checkpoint_matches(metadata, debug_trainer.config, spec, Path(CHECKPOINT_NAME))


def test_checkpoint_other_observation_size(debug_trainer):
    spec = debug_trainer.spec
    metadata = checkpoint_metadata(debug_trainer.config, dataclasses.replace(spec, obs_dim=11), step=0)

    with pytest.raises(CheckpointError, match="written for obs_dim=11 but this run has 4"):
        check_checkpoint_matches(metadata, debug_trainer.config, spec, Path(CHECKPOINT_NAME))


def test_resume_corrupted_checkpoint(finished_run, tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.toml").write_text((finished_run / "config.toml").read_text())
    (run_dir / CHECKPOINT_NAME).write_bytes((finished_run / CHECKPOINT_NAME).read_bytes()[:5000])

    exit_code = main(["run", "--resume", str(run_dir), "--set", "train.total_steps=200", "--quiet"])

    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert exit_code == 2
    assert len(lines) == 1
    assert lines[0].startswith(f"ami run: error: cannot read checkpoint {str(run_dir / CHECKPOINT_NAME)!r}: it is corrupted")


def damaged_payloads(payload: dict) -> dict[str, tuple[dict, str]]:
    """Checkpoints with the right format version but damaged contents, and the expected message part."""
    without_rng = {**payload["state"], "training": {k: v for k, v in payload["state"]["training"].items() if k != "rng"}}
    nan_state = torch.load(io.BytesIO(serialized(payload)), weights_only=True)["state"]
    nan_state["agent"]["world_model"]["encoder.normalizer.mean"].fill_(float("nan"))
    return {
        "no_metadata": ({k: v for k, v in payload.items() if k != "metadata"}, "its 'metadata' entry is missing"),
        "metadata_none": ({**payload, "metadata": None}, "its 'metadata' entry is missing"),
        "no_state": ({k: v for k, v in payload.items() if k != "state"}, "its 'state' entry is missing"),
        "no_rng": ({**payload, "state": without_rng}, "it has no entry 'rng'"),
        "nan_weights": ({**payload, "state": nan_state}, "world_model.encoder.normalizer.mean contains NaN"),
    }


def serialized(payload: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


DAMAGE_CASES = ["no_metadata", "metadata_none", "no_state", "no_rng", "nan_weights"]


@pytest.mark.parametrize("case", DAMAGE_CASES)
@pytest.mark.parametrize("command", ["eval", "resume"])
def test_damaged_checkpoint_one_line(finished_run, tmp_path, capsys, case, command):
    payload = torch.load(finished_run / CHECKPOINT_NAME, weights_only=True)
    damaged, fragment = damaged_payloads(payload)[case]
    if command == "eval" and case == "no_rng":
        fragment = None  # evaluation reads only the agent's weights, which are intact
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.toml").write_text((finished_run / "config.toml").read_text())
    torch.save(damaged, run_dir / CHECKPOINT_NAME)
    before = (run_dir / CHECKPOINT_NAME).read_bytes()

    if command == "eval":
        exit_code = main(["eval", str(run_dir), "--episodes", "1"])
    else:
        exit_code = main(["run", "--resume", str(run_dir), "--set", "train.total_steps=200", "--quiet"])

    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert (run_dir / CHECKPOINT_NAME).read_bytes() == before
    if fragment is None:
        assert exit_code == 0
        return
    assert exit_code == 2
    assert len(lines) == 1
    assert fragment in lines[0]
    assert not list(run_dir.glob("events.out.tfevents.*"))


def test_resume_without_checkpoint(finished_run, tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.toml").write_text((finished_run / "config.toml").read_text())

    exit_code = main(["run", "--resume", str(run_dir), "--quiet"])

    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert exit_code == 2
    assert lines == [
        f"ami run: error: run {str(run_dir)!r} has no checkpoint to resume from: it stopped before its first one "
        "(train.checkpoint_every); start it again with `ami run CONFIG`"
    ]
