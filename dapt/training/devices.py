"""One GPU per stage process, so that ``dvc queue start -j N`` runs N experiments on N GPUs.

DVC's queue workers start every stage with the same environment, so on a machine with
several GPUs all experiments would share GPU 0. ``claim_gpu()``, called first in the
pretrain, finetune-ner and evaluate stages (before CUDA is initialised), picks a free GPU
instead: it takes an exclusive ``flock`` on ``<lock dir>/gpu<i>.lock`` for the first ``i``
not held by another process, keeps the file open for the life of the process (the kernel
drops the lock when the process ends, killed or not) and sets ``CUDA_VISIBLE_DEVICES=i``.
With every GPU held it waits until one is released.

Nothing is done (opt-out) when
  * ``CUDA_VISIBLE_DEVICES`` is set: the user or a scheduler chose the device;
  * the process is a rank of a multi-process launch (``torchrun`` sets ``LOCAL_RANK``);
  * fewer than two GPUs are present (counted with ``nvidia-smi -L``, which does not
    initialise CUDA);
  * ``DAPT_GPU_CLAIM=0``.
``DAPT_GPU_LOCK_DIR`` moves the lock files (default ``~/.cache/dapt/gpu-locks``; it must be
shared by all workers, so a local folder); ``DAPT_GPU_COUNT`` overrides the GPU count.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

log = logging.getLogger("devices")

LOCK_DIR = Path.home() / ".cache" / "dapt" / "gpu-locks"
_held: list[IO] = []  # claimed lock files, open until the process ends


def gpu_count() -> int:
    """GPUs on this machine (``DAPT_GPU_COUNT``, else ``nvidia-smi -L``; 0 without it)."""
    if os.environ.get("DAPT_GPU_COUNT"):
        return int(os.environ["DAPT_GPU_COUNT"])
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return 0
    out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=60).stdout
    return sum(line.startswith("GPU ") for line in out.splitlines())


def try_lock(lock_dir: Path, count: int) -> tuple[int, IO] | None:
    """The first GPU index whose lock file this call could lock exclusively, with the open
    file that holds the lock (close it to release); None when all are held."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        handle = (lock_dir / f"gpu{index}.lock").open("a+")  # held open while claimed
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")  # for people looking at who holds it
        handle.flush()
        return index, handle
    return None


def claim_gpu(poll_s: float = 5.0) -> int | None:
    """Claim a free GPU for this process (see the module docstring); returns its index, or
    None when nothing was done."""
    env = os.environ
    if env.get("DAPT_GPU_CLAIM", "1") == "0" or "CUDA_VISIBLE_DEVICES" in env \
            or "LOCAL_RANK" in env:
        return None
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        log.warning("CUDA already initialised: no GPU claimed")
        return None
    count = gpu_count()
    if count < 2:
        return None
    lock_dir = Path(env.get("DAPT_GPU_LOCK_DIR") or LOCK_DIR)
    waited = False
    while (claimed := try_lock(lock_dir, count)) is None:
        if not waited:
            log.info("all %d GPUs are claimed (%s): waiting for one", count, lock_dir)
            waited = True
        time.sleep(poll_s)
    index, handle = claimed
    _held.append(handle)
    env["CUDA_VISIBLE_DEVICES"] = str(index)
    log.info("claimed GPU %d of %d (lock %s)", index, count, handle.name)
    return index
