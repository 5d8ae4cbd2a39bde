"""GPU claiming for parallel queue workers, on CPU with a fake GPU count."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dapt.training import devices
from tests.helpers import REPO

WORKER = ("import os, sys; from dapt.training.devices import claim_gpu; "
          "index = claim_gpu(poll_s=0.05); "
          "print(index, os.environ.get('CUDA_VISIBLE_DEVICES'), flush=True); sys.stdin.read()")


def worker(lock_dir, count: int = 2) -> subprocess.Popen:
    """A stage-like process that claims a GPU and holds it until its stdin is closed."""
    env = {k: v for k, v in os.environ.items() if k not in ("CUDA_VISIBLE_DEVICES", "LOCAL_RANK")}
    env.update(PYTHONPATH=str(REPO), DAPT_GPU_COUNT=str(count), DAPT_GPU_LOCK_DIR=str(lock_dir))
    return subprocess.Popen([sys.executable, "-c", WORKER], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def test_workers_get_different_gpus_and_a_released_one_is_reused(tmp_path):
    first = worker(tmp_path)
    first_gpu = first.stdout.readline().split()
    second = worker(tmp_path)
    second_gpu = second.stdout.readline().split()
    assert first_gpu == ["0", "0"] and second_gpu == ["1", "1"]  # index == CUDA_VISIBLE_DEVICES
    third = worker(tmp_path)  # both GPUs held: it waits
    first.stdin.close()  # the first stage ends, its lock goes with it
    first.wait(timeout=30)
    assert third.stdout.readline().split() == ["0", "0"]
    for proc in (second, third):
        proc.stdin.close()
        proc.wait(timeout=30)


def test_lock_choice(tmp_path):
    a = devices.try_lock(tmp_path, 2)
    b = devices.try_lock(tmp_path, 2)
    assert (a[0], b[0]) == (0, 1)
    assert devices.try_lock(tmp_path, 2) is None
    b[1].close()
    again = devices.try_lock(tmp_path, 2)
    assert again[0] == 1
    for held in (a, again):
        held[1].close()


@pytest.mark.parametrize("env", [{"CUDA_VISIBLE_DEVICES": "3"}, {"DAPT_GPU_CLAIM": "0"},
                                 {"LOCAL_RANK": "0"}, {"DAPT_GPU_COUNT": "1"}])
def test_opt_outs_leave_the_environment_alone(env, monkeypatch, tmp_path):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.setenv("DAPT_GPU_COUNT", "2")
    monkeypatch.setenv("DAPT_GPU_LOCK_DIR", str(tmp_path))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert devices.claim_gpu() is None
    assert os.environ.get("CUDA_VISIBLE_DEVICES") == env.get("CUDA_VISIBLE_DEVICES")
    assert not list(tmp_path.iterdir())
