"""Resumable checkpoints keyed by a fingerprint of a stage's params, inputs and code.

A stage writes Trainer checkpoints (``checkpoint-<step>``) into a persisted folder together
with ``fingerprint.json``. A rerun resumes from the newest complete checkpoint (one whose
``trainer_state.json`` exists), but only when the fingerprint matches; otherwise the stale
checkpoints are removed and training starts fresh, so a checkpoint never leaks into a run
with other params, data or code. The code part is exactly the stage's code dependencies as
dvc.yaml lists them (``stage_code_files``): an edit anywhere in them is a new key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

import yaml

from dapt.data.atomic import write_text

log = logging.getLogger("checkpoints")

REPO = Path(__file__).resolve().parents[2]
STATE_FILE = "trainer_state.json"
FINGERPRINT = "fingerprint.json"
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
    """Hash of the stage params, the bytes of its input files/folders and of its code files."""
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


def checkpoint_step(path: Path) -> int:
    """Step number of a ``checkpoint-<step>`` folder."""
    return int(path.name.rsplit("-", 1)[1])


def checkpoints(directory: Path) -> list[Path]:
    """Trainer checkpoint folders (``checkpoint-<step>``), oldest first."""
    found = [p for p in directory.glob("checkpoint-*")
             if p.is_dir() and p.name.rsplit("-", 1)[1].isdigit()]
    return sorted(found, key=checkpoint_step)


def prepare_checkpoints(directory: Path, key: str, is_main: bool) -> Path | None:
    """Newest resumable checkpoint for this fingerprint; the main process clears stale ones."""
    marker = directory / FINGERPRINT
    found = checkpoints(directory)
    same = marker.is_file() and json.loads(marker.read_text())["fingerprint"] == key
    complete = [p for p in found if (p / STATE_FILE).is_file()] if same else []
    if is_main:
        stale = [p for p in found if p not in complete]
        if found and not same:
            log.info("checkpoints in %s come from other params or data: starting fresh",
                     directory)
        for p in stale:
            shutil.rmtree(p)
        directory.mkdir(parents=True, exist_ok=True)
        write_text(marker, json.dumps({"fingerprint": key}) + "\n")
    return complete[-1] if complete else None
