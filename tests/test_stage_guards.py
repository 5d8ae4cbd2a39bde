"""Stage process guards (dapt.cli.stage_main): a stage dies with its parent, and a second
process writing the same outputs refuses to start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from dapt.cli import OutputBusy, lock_outputs, path_flag, stage_main
from tests.helpers import REPO, run_module

# A stage that holds its output until killed.
SLEEPER = """
import os, sys, time
from dataclasses import dataclass
from pathlib import Path
from dapt.cli import path_flag, stage_main

@dataclass
class Paths:
    out: str = path_flag(None, "output folder", output=True)

def run(params, paths):
    Path(paths.out).mkdir(parents=True, exist_ok=True)
    (Path(paths.out) / "pid").write_text(str(os.getpid()))
    time.sleep(120)

stage_main(None, Paths, run)
"""
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def sleeper_cmd(tmp_path: Path, out: Path) -> list[str]:
    script = tmp_path / "sleeper.py"
    script.write_text(SLEEPER)
    return [sys.executable, str(script), "--params", str(REPO / "params.yaml"), "--out", str(out)]


def wait_for(path: Path, timeout: float = 60) -> str:
    end = time.monotonic() + timeout
    while not path.is_file() or not path.read_text():
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.05)
    return path.read_text()


def running(pid: int) -> bool:
    """False once ``pid`` is gone or a zombie nobody has reaped yet."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux only")
def test_stage_dies_when_its_parent_is_killed(tmp_path):
    out = tmp_path / "out"
    parent = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys, time; "
         "subprocess.Popen(sys.argv[1:]); time.sleep(120)", *sleeper_cmd(tmp_path, out)],
        cwd=REPO, env=ENV)
    stage = None
    try:
        stage = int(wait_for(out / "pid"))
        parent.send_signal(signal.SIGKILL)  # as `kill -9` of dvc
        parent.wait()
        end = time.monotonic() + 5
        while running(stage) and time.monotonic() < end:
            time.sleep(0.05)
        assert not running(stage), "the stage outlived its killed parent"
    finally:
        kill(parent.pid)
        if stage:
            kill(stage)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux only")
def test_stage_exits_when_its_parent_died_before_the_guard():
    code = "import dapt.cli as c; c.PARENT_PID = -1; c.die_with_parent()"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=ENV, capture_output=True,
                          text=True)
    assert proc.returncode == 1
    assert "parent process -1 exited before the stage started" in proc.stderr


def test_second_instance_of_a_stage_fails_at_once_while_the_first_runs(tmp_path):
    out = tmp_path / "out"
    first = subprocess.Popen(sleeper_cmd(tmp_path, out), cwd=REPO, env=ENV)
    try:
        assert int(wait_for(out / "pid")) == first.pid
        second = subprocess.run(sleeper_cmd(tmp_path, out), cwd=REPO, env=ENV,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert (f"stage sleeper cannot start: {out} is in use by pid {first.pid} "
                f"(stage sleeper); lock file {tmp_path / '.out.lock'}") in second.stderr
        assert (out / "pid").read_text() == str(first.pid)
    finally:
        kill(first.pid)
        first.wait()
    # The lock went with the process that held it.
    with lock_outputs("test", [out]) as locks:
        assert locks == [tmp_path / ".out.lock"]


def test_real_stage_refuses_an_output_another_process_holds(tmp_path):
    split, metrics = tmp_path / "split", tmp_path / "data.json"
    with lock_outputs("test", [split]):
        proc = run_module("stages.split", "--params", str(REPO / "params.yaml"),
                          "--out", str(split), "--metrics", str(metrics), check=False)
    assert proc.returncode == 1
    assert (f"OutputBusy: stage split cannot start: {split} is in use by pid {os.getpid()} "
            f"(stage test); lock file {tmp_path / '.split.lock'}") in proc.stderr
    assert not split.exists() and not metrics.exists()


@dataclass
class Paths:
    source: str | None = path_flag(None, "an input: never locked")
    out: str | None = path_flag(None, "output folder", output=True)


def test_only_outputs_are_locked_and_only_by_the_main_process(tmp_path, monkeypatch):
    monkeypatch.setenv("DAPT_DIE_WITH_PARENT", "0")  # in-process: pytest must not get it
    monkeypatch.delenv("RANK", raising=False)
    out, source = tmp_path / "out", tmp_path / "in.txt"
    seen = []

    def run(params, paths):
        seen.append(paths.out)
        with pytest.raises(OutputBusy, match=r"in use by pid \d+ \(stage test_stage_guards\)"):
            with lock_outputs("again", [out]):
                pass

    argv = ["--params", str(REPO / "params.yaml"), "--source", str(source)]
    stage_main(None, Paths, run, [*argv, "--out", str(out)])
    stage_main(None, Paths, lambda params, paths: seen.append(paths.out), argv)  # out=None
    with lock_outputs("test", [out]):
        with pytest.raises(OutputBusy):
            stage_main(None, Paths, run, [*argv, "--out", str(out)])
        monkeypatch.setenv("RANK", "1")  # a torchrun worker: rank 0 holds the locks
        stage_main(None, Paths, lambda params, paths: seen.append(paths.out),
                   [*argv, "--out", str(out)])
    assert seen == [str(out), None, str(out)]
    assert names_in(tmp_path) == [".out.lock"]


def names_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())
