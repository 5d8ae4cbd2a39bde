"""Resumable Trainer checkpoints keyed by a fingerprint of a stage's params, inputs and code.

A run keeps its Trainer checkpoints (``checkpoint-<step>``) in
``<root>/<stage>/<fingerprint>/``, outside the repository: root is ``$DAPT_CHECKPOINT_DIR``,
by default ``~/.cache/dapt/checkpoints``. There ``dvc exp run`` cannot reset them (it checks
the committed outputs out before running, and a queued experiment runs in a fresh temporary
copy of the repo). A rerun with the same fingerprint resumes from the newest complete
checkpoint; any other params, data or code give another folder, so a checkpoint never leaks
into a different run. The code part is exactly the stage's code dependencies as dvc.yaml
lists them (``stage_code_files``): an edit anywhere in them is a new key. A finished run
removes its folder; folders of runs that were interrupted and never rerun stay until removed
by hand. Runs with the same fingerprint (identical results) train one after the other.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import IO

import yaml
from transformers import Trainer, TrainerCallback, TrainerState, TrainingArguments
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

log = logging.getLogger("checkpoints")

REPO = Path(__file__).resolve().parents[2]
STATE_FILE = "trainer_state.json"
ROOT_ENV = "DAPT_CHECKPOINT_DIR"
CODE_ROOTS = ("dapt", "stages")


def stage_code_files(stage: str, dvc_yaml: Path = REPO / "dvc.yaml") -> list[Path]:
    """The Python files among ``stage``'s dvc.yaml deps (folders expanded, sorted).

    Without a dvc.yaml (a stage run outside the repo) every module of the project counts.
    """
    if dvc_yaml.is_file():
        deps = yaml.safe_load(dvc_yaml.read_text(encoding="utf-8"))["stages"][stage]["deps"]
        roots = [dvc_yaml.parent / d for d in deps
                 if "${" not in d and d.split("/", 1)[0] in CODE_ROOTS]
    else:
        roots = [REPO / r for r in CODE_ROOTS]
    files = {f for root in roots
             for f in ([root] if root.is_file() else root.rglob("*.py"))
             if f.suffix == ".py"}
    return sorted(files)


def fingerprint(stage_params: dict, inputs: list[Path], code: list[Path]) -> str:
    """Hash of the stage params, the bytes of its input files/folders (a path that does not
    exist, such as a hub id, adds nothing) and of its code files."""
    digest = hashlib.sha256(json.dumps(stage_params, sort_keys=True).encode())
    for path in inputs:
        for f in sorted(p for p in (path.rglob("*") if path.is_dir() else [path]) if p.is_file()):
            digest.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
            digest.update(f.read_bytes())
    for f in code:
        f = f.resolve()
        digest.update(str(f.relative_to(REPO) if f.is_relative_to(REPO) else f).encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()


def checkpoint_root(root: str | Path | None = None) -> Path:
    """``root``, else ``$DAPT_CHECKPOINT_DIR``, else ``~/.cache/dapt/checkpoints``."""
    return Path(root or os.environ.get(ROOT_ENV) or "~/.cache/dapt/checkpoints").expanduser()


def checkpoint_step(path: Path) -> int:
    """Step number of a ``checkpoint-<step>`` folder."""
    return int(path.name.rsplit("-", 1)[1])


def checkpoints(directory: Path) -> list[Path]:
    """Trainer checkpoint folders (``checkpoint-<step>``), oldest first."""
    found = [p for p in directory.glob(f"{PREFIX_CHECKPOINT_DIR}-*")
             if p.is_dir() and p.name.rsplit("-", 1)[1].isdigit()]
    return sorted(found, key=checkpoint_step)


def saved_checkpoint(args: TrainingArguments, state: TrainerState) -> Path:
    """The folder the Trainer saves (``on_save``) or resumed (``on_train_begin``) at this step."""
    return Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"


class ResumableRun(TrainerCallback):
    """One stage's training run, resumable from ``<root>/<stage>/<fingerprint>/``.

    Points ``trainer.args.output_dir`` there, logs before each save and, after it, removes
    the checkpoints older than the newest complete one. A checkpoint is complete once
    ``trainer_state.json`` and every file in ``required`` (state that callbacks add in
    ``on_save``) exist.
    """

    def __init__(self, trainer: Trainer, stage: str, params: dict, inputs: list[Path],
                 root: str | Path | None = None, required: tuple[str, ...] = ()) -> None:
        args = trainer.args
        # Process count is part of the key: another world size has other steps per epoch.
        key = fingerprint({**params, "world_size": args.world_size}, inputs,
                          stage_code_files(stage))
        self.folder = checkpoint_root(root) / stage / key
        self.trainer = trainer
        self.required = (STATE_FILE, *required)
        self.lock: IO | None = None
        args.output_dir = str(self.folder)
        trainer.add_callback(self)

    def complete(self) -> list[Path]:
        """Complete checkpoints, oldest first."""
        return [p for p in checkpoints(self.folder)
                if all((p / name).is_file() for name in self.required)]

    def train(self) -> None:
        """Train, resuming from the newest complete checkpoint if there is one."""
        args = self.trainer.args
        with args.main_process_first(local=False, desc="checkpoint check"):
            if args.process_index == 0:
                self.hold_lock()
                for path in set(checkpoints(self.folder)) - set(self.complete()):
                    shutil.rmtree(path)  # cut short while being written
            found = self.complete()
        resume = found[-1] if found else None
        if resume is not None:
            log.info("resuming from %s (step %d)", resume, checkpoint_step(resume))
        else:
            log.info("no checkpoint in %s: training from step 0", self.folder)
        self.trainer.train(resume_from_checkpoint=str(resume) if resume else None)

    def hold_lock(self) -> None:
        """Wait until no other run with this fingerprint is training, then hold the lock."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.lock = open(self.folder.with_name(self.folder.name + ".lock"), "w")
        try:
            fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another run with this fingerprint is training in %s: waiting for it",
                     self.folder)
            fcntl.flock(self.lock, fcntl.LOCK_EX)

    def on_step_end(self, args, state, control, **kwargs):
        # Log the train loss gathered so far before each checkpoint: a resumed run starts a
        # new averaging window there, so its curve equals an uninterrupted run's.
        control.should_log = control.should_log or control.should_save

    on_epoch_end = on_step_end

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero or not (found := self.complete()):
            return
        for path in checkpoints(self.folder):
            if checkpoint_step(path) < checkpoint_step(found[-1]):
                shutil.rmtree(path)

    def finish(self) -> None:
        """Remove the run's folder and lock once its outputs are saved (main process)."""
        if self.lock is None:
            return
        shutil.rmtree(self.folder, ignore_errors=True)
        Path(self.lock.name).unlink(missing_ok=True)
        self.lock.close()
        self.lock = None
