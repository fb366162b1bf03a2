"""``ami compare`` on tiny budgets: every agent runs, the files appear, a rerun skips finished runs."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ami.training.run_dir import lock_run_dir
from experiments.cli import main
from experiments.compare.config import load_compare_config
from experiments.compare.grid import DONE_NAME, build_specs
from tests.tiny import DEBUG_CONFIG, REPO_ROOT

TASK = "InvertedPendulum-v5"

TINY_COMPARISON = f"""
name = "tiny"
seeds = [0, 1]
eval_every = 100
eval_episodes = 1
budgets = [100]
workers = 2

[tasks]
"{TASK}" = 200

[[agents]]
name = "ami"
kind = "ami"
set = ["train.seed_steps=100", "train.pretrain_updates=10"]
[agents.configs]
"{TASK}" = "{DEBUG_CONFIG}"

[[agents]]
name = "random"
kind = "random"

[[agents]]
name = "sac"
kind = "sac"
options = {{ batch_size = 32, policy_kwargs = {{ net_arch = [32, 32] }} }}

[[agents]]
name = "td3"
kind = "td3"
options = {{ batch_size = 32, policy_kwargs = {{ net_arch = [32, 32] }} }}

[[agents]]
name = "ppo"
kind = "ppo"
options = {{ n_steps = 64, batch_size = 32, n_epochs = 2, policy_kwargs = {{ net_arch = [32, 32] }} }}

[[agents]]
name = "mpc_true"
kind = "mpc_true"
options = {{ num_samples = 16, horizon = 5, iterations = 1, num_elites = 4 }}
"""

AGENT_NAMES = ("ami", "random", "sac", "td3", "ppo", "mpc_true")
AGENT_LABELS = {"ami_reactive", "ami_deliberative", "random", "sac", "td3", "ppo", "mpc_true"}


def write_comparison(folder: Path, text: str = TINY_COMPARISON) -> Path:
    path = folder / "compare.toml"
    path.write_text(f'output_dir = "{folder / "out"}"\n' + text)
    return path


def compare(*arguments: str) -> tuple[int, str]:
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        exit_code = main(["compare", *arguments, "--quiet"])
    return exit_code, stdout.getvalue()


def read_results(output: Path) -> list[dict[str, str]]:
    with open(output / "results.csv", newline="") as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope="module")
def local_grid(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("compare")
    path = write_comparison(folder)
    exit_code, stdout = compare(str(path))
    return {"path": path, "output": folder / "out", "exit_code": exit_code, "stdout": stdout}


def test_compare_exit_code(local_grid):
    assert local_grid["exit_code"] == 0


def test_compare_every_run_finished(local_grid):
    runs = local_grid["output"] / "runs" / TASK
    for agent in AGENT_NAMES:
        for seed in (0, 1):
            assert (runs / agent / f"seed_{seed}" / DONE_NAME).is_file(), (agent, seed)


def test_compare_results_csv(local_grid):
    rows = read_results(local_grid["output"])

    assert {row["agent"] for row in rows} == AGENT_LABELS
    for label in AGENT_LABELS:
        for seed in ("0", "1"):
            steps = [row["env_steps"] for row in rows if row["agent"] == label and row["seed"] == seed]
            assert steps == ["100", "200"], (label, seed)


def test_compare_summary_and_plot(local_grid):
    summary = (local_grid["output"] / "summary.md").read_text()

    for label in AGENT_LABELS:
        assert f"| {label} | 2 |" in summary
    assert "return at 100" in summary
    assert summary in local_grid["stdout"]
    assert (local_grid["output"] / "plots" / f"{TASK}.png").is_file()


def test_compare_shared_tensorboard_tags(local_grid):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for label, run in (("random", "random"), ("ami_deliberative", "ami"), ("sac", "sac"), ("ppo", "ppo")):
        events = EventAccumulator(str(local_grid["output"] / "runs" / TASK / run / "seed_0" / "eval" / label))
        events.Reload()
        assert [event.step for event in events.Scalars("eval/mean_reward")] == [100, 200], label
        assert "eval/ms_per_action" in events.Tags()["scalars"]


def test_compare_rerun_skips_finished(local_grid):
    done = local_grid["output"] / "runs" / TASK / "ami" / "seed_0" / DONE_NAME
    before = done.stat().st_mtime_ns

    exit_code, _ = compare(str(local_grid["path"]))

    assert exit_code == 0
    assert done.stat().st_mtime_ns == before


def test_compare_reruns_interrupted_run(local_grid):
    run_dir = local_grid["output"] / "runs" / TASK / "random" / "seed_1"
    (run_dir / DONE_NAME).unlink()
    (run_dir / "left_by_a_killed_worker.txt").write_text("partial")
    untouched = local_grid["output"] / "runs" / TASK / "ami" / "seed_0" / DONE_NAME
    untouched_before = untouched.stat().st_mtime_ns

    exit_code, _ = compare(str(local_grid["path"]), "--workers", "1")

    assert exit_code == 0
    assert (run_dir / DONE_NAME).is_file()
    assert not (run_dir / "left_by_a_killed_worker.txt").exists()
    assert untouched.stat().st_mtime_ns == untouched_before
    assert len(read_results(local_grid["output"])) == len(AGENT_LABELS) * 2 * 2


RANDOM_ONLY = f"""
seeds = [0]
eval_every = 100
eval_episodes = 1

[tasks]
"{TASK}" = 200

[[agents]]
name = "random"
kind = "random"
"""


def test_compare_reruns_changed_settings(tmp_path):
    path = write_comparison(tmp_path, RANDOM_ONLY)
    done = tmp_path / "out" / "runs" / TASK / "random" / "seed_0" / DONE_NAME
    assert compare(str(path))[0] == 0
    unchanged = done.stat().st_mtime_ns

    assert compare(str(path))[0] == 0
    assert done.stat().st_mtime_ns == unchanged

    assert compare(str(path), "--set", "eval_episodes=2")[0] == 0
    assert json.loads(done.read_text())["spec"]["eval_episodes"] == 2


def test_compare_damaged_done_record_reruns(tmp_path, caplog):
    path = write_comparison(tmp_path, RANDOM_ONLY)
    done = tmp_path / "out" / "runs" / TASK / "random" / "seed_0" / DONE_NAME
    assert compare(str(path))[0] == 0
    done.write_text("{bad")

    exit_code, _ = compare(str(path))

    assert exit_code == 0
    assert json.loads(done.read_text())["spec"]["agent"] == "random"
    assert "is damaged" in caplog.text


def test_compare_edited_ami_config_changes_spec(tmp_path):
    config = tmp_path / "debug.toml"
    config.write_text(DEBUG_CONFIG.read_text())
    path = write_comparison(tmp_path, TINY_COMPARISON.replace(str(DEBUG_CONFIG), str(config)))
    before = {spec.run_dir: spec for spec in build_specs(load_compare_config(path)) if spec.kind == "ami"}

    config.write_text(DEBUG_CONFIG.read_text().replace("latent_dim = 16", "latent_dim = 8"))
    after = {spec.run_dir: spec for spec in build_specs(load_compare_config(path)) if spec.kind == "ami"}

    assert before.keys() == after.keys()
    for run_dir, spec in before.items():
        assert spec.options["config_sha256"] != after[run_dir].options["config_sha256"]


def test_compare_maze_task_plot_name(tmp_path):
    path = write_comparison(tmp_path, RANDOM_ONLY.replace(f'"{TASK}" = 200', '"ami/PointMazeU-v0" = 200'))

    exit_code, _ = compare(str(path))

    assert exit_code == 0
    assert (tmp_path / "out" / "plots" / "ami_PointMazeU-v0.png").is_file()


def test_compare_empty_output_dir(tmp_path, capsys):
    path = write_comparison(tmp_path, RANDOM_ONLY)

    exit_code = main(["compare", str(path), "--set", 'output_dir=""', "--quiet"])

    assert exit_code == 2
    assert "'output_dir' is empty" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_compare_locked_output(local_grid, capsys):
    with lock_run_dir(local_grid["output"]):
        exit_code = main(["compare", str(local_grid["path"]), "--quiet"])

    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert exit_code == 2
    assert lines == [
        f"ami compare: error: folder {str(local_grid['output'])!r} is in use by another ami process; wait for it to end or stop it first"
    ]


def worker_pids(parent: int) -> list[int]:
    """Live worker processes that ``parent`` spawned for a comparison."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == parent and fields[0] != "Z" and b"spawn_main" in command:
            pids.append(int(stat.parent.name))
    return pids


def is_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_compare_sigterm_stops_workers(tmp_path):
    path = write_comparison(tmp_path, TINY_COMPARISON.replace(f'"{TASK}" = 200', f'"{TASK}" = 3000'))
    process = subprocess.Popen(
        [sys.executable, "-m", "experiments.cli", "compare", str(path), "--quiet"],
        cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 120
    while not list((tmp_path / "out").rglob("train")) and time.monotonic() < deadline:
        time.sleep(0.5)
    workers = worker_pids(process.pid)

    process.send_signal(signal.SIGTERM)
    exit_code = process.wait(timeout=60)
    time.sleep(1)

    assert len(workers) == 2
    assert exit_code == 130
    assert "comparison interrupted" in process.stderr.read()
    assert [pid for pid in workers if is_alive(pid)] == []
    assert not list((tmp_path / "out" / "runs" / TASK / "ami").glob(f"seed_*/{DONE_NAME}"))


def test_compare_with_ray(local_grid, tmp_path):
    pytest.importorskip("ray")
    path = write_comparison(tmp_path)

    exit_code, _ = compare(str(path), "--ray")

    assert exit_code == 0
    local, distributed = read_results(local_grid["output"]), read_results(tmp_path / "out")
    assert [row.keys() for row in distributed] == [row.keys() for row in local]
    # Same seeds on the CPU: Ray workers train the same agents as local worker processes.
    ignored = ("ms_per_action", "wall_seconds")
    assert [{k: v for k, v in row.items() if k not in ignored} for row in distributed] == [
        {k: v for k, v in row.items() if k not in ignored} for row in local
    ]


BAD_COMPARISONS = {
    "unknown_kind": ('kind = "random"', 'kind = "dqn"', "invalid value 'dqn' for 'agents[1].kind'"),
    "missing_ami_config": (f'"{TASK}" = "{DEBUG_CONFIG}"', "", "agent 'ami' has no ami config for ['InvertedPendulum-v5']"),
    "budget_off_schedule": ("budgets = [100]", "budgets = [150]", "invalid budget 150 in 'budgets'"),
    "unknown_task": (f'"{TASK}" = 200', '"InvertedPendulum-v9" = 200', "unknown task 'InvertedPendulum-v9' for [tasks]"),
    "duplicate_agent": ('name = "random"', 'name = "ami"', "agent name 'ami' is used twice"),
    "unknown_sb3_option": ("batch_size = 32, policy", "batch_sise = 32, policy", "invalid option 'batch_sise' for SAC"),
    "sb3_option_type": ("batch_size = 32, policy", 'batch_size = "32", policy', "invalid value '32' for option 'batch_size' of SAC: expected int"),
    "unknown_mpc_option": ("num_samples = 16", "num_sample = 16", "unknown true-simulator MPC option(s) ['num_sample']"),
    "bad_ami_override": ('"train.seed_steps=100"', '"train.sed_steps=100"', "unknown config key 'train.sed_steps'"),
    "agent_on_unknown_task": ('name = "random"\nkind = "random"', 'name = "random"\nkind = "random"\ntasks = ["Hopper-v5"]', "lists tasks ['Hopper-v5']"),
    "unknown_key": ("workers = 2", "wrokers = 2", "unknown config key 'wrokers'"),
    "label_clash": ('name = "random"', 'name = "ami_reactive"', "clashes with the label 'ami_reactive' of agent 'ami'"),
    "duplicate_budget": ("budgets = [100]", "budgets = [100, 100]", "'budgets' lists a budget twice"),
    "budget_beyond_tasks": ("budgets = [100]", "budgets = [1000]", "it exceeds the env steps of every task"),
    "discrete_task": (f'"{TASK}" = 200', '"CartPole-v1" = 200', "the agents need a continuous Box action space"),
    "seed_beyond_range": ("seeds = [0, 1]", "seeds = [0, 99999999999]", "each seed must be between 0 and 2**32 - 1"),
    "agent_without_name": ('name = "random"\nkind = "random"', 'kind = "random"', "agents[1] is missing the required key(s) 'name'"),
}


@pytest.mark.parametrize("old, new, fragment", BAD_COMPARISONS.values(), ids=BAD_COMPARISONS.keys())
def test_compare_bad_input(tmp_path, capsys, old, new, fragment):
    assert old in TINY_COMPARISON
    path = write_comparison(tmp_path, TINY_COMPARISON.replace(old, new, 1))

    exit_code = main(["compare", str(path), "--quiet"])

    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert exit_code == 2
    assert len(lines) == 1
    assert lines[0].startswith("ami compare: error: ")
    assert fragment in lines[0]
    assert not (tmp_path / "out").exists()


def test_compare_rejects_eval_off_vector_steps(tmp_path, capsys):
    # 4 envs step 4 env steps at a time, so evaluations every 50 env steps would land on 52, 100, 152, ...
    text = TINY_COMPARISON.replace("eval_every = 100", "eval_every = 50", 1)
    text = text.replace('"train.seed_steps=100"', '"train.seed_steps=100", "env.num_envs=4"', 1)
    path = write_comparison(tmp_path, text)

    exit_code = main(["compare", str(path), "--quiet"])

    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert exit_code == 2
    assert lines == [
        "ami compare: error: agent 'ami' on 'InvertedPendulum-v5': eval_every=50 is not a multiple of env.num_envs=4, "
        "so its evaluations would land on other env steps than the other agents'; make eval_every a multiple of it"
    ]
    assert not (tmp_path / "out").exists()


def test_compare_missing_file(tmp_path, capsys):
    missing = tmp_path / "nothing.toml"

    exit_code = main(["compare", str(missing), "--quiet"])

    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert exit_code == 2
    assert len(lines) == 1
    assert str(missing) in lines[0]
    assert not os.path.exists(tmp_path / "out")


@pytest.mark.parametrize(
    ("blocked", "make", "fragment"),
    [
        ("summary.md", Path.mkdir, "report file '{path}' is a folder"),
        ("plots/InvertedPendulum-v5.png", Path.mkdir, "report file '{path}' is a folder"),
        ("plots", Path.touch, "plots folder '{path}' is a file or a broken link"),
        ("plots", lambda path: path.symlink_to(path.parent / "nowhere"), "plots folder '{path}' is a file or a broken link"),
    ],
    ids=["summary_folder", "plot_folder", "plots_file", "plots_broken_link"],
)
def test_compare_blocked_report_path(tmp_path, capsys, blocked, make, fragment):
    path = write_comparison(tmp_path)
    target = tmp_path / "out" / blocked
    target.parent.mkdir(parents=True)
    make(target)

    exit_code = main(["compare", str(path), "--quiet"])

    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert exit_code == 2
    assert len(lines) == 1
    assert fragment.format(path=target) in lines[0]
    assert not (tmp_path / "out" / "runs").exists()
