"""Guards of the masking grid: what a grid reads and joins must be what its commit records.

* ``check_general_model``: ``general/model`` is the checkpoint the committed
  ``general/dvc.lock`` records, and that lock is committed.
* ``check_joined``: a saved ``dvc exp show --json`` joined to a grid holds only runs of the
  same profile (``other_profile``) from a commit with the same general checkpoint
  (``general_checkpoint``).

Each exits with a message naming what differs.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import yaml

from dapt.experiments.profile import REPO, checked, dvc
from dapt.report import Run, collect_runs

GENERAL_STAGE = "general/dvc.yaml:pretrain"
# The keys a dynamic-masking setting sets against the profile: k stored copies x e epochs
# become 1 copy x k * e epochs of fresh masks.
DYNAMIC_BUDGET = ("mask_dupe", "pretrain.epochs")


def other_profile(runs: list[Run], profile: dict[str, str],
                  ignore: tuple[str, ...] = ("base_model",)) -> dict[str, str]:
    """Run name -> the first profile param it ran with another value: a run of another
    profile (an earlier one), which must neither join this grid's report nor stand in for
    one of its experiments. ``base_model`` is each checkout's own path to general/model; a
    dynamic-masking run sets its own ``DYNAMIC_BUDGET`` keys (``dapt.experiments.grid``)."""
    found = {}
    for run in runs:
        skip = set(ignore) | (set(DYNAMIC_BUDGET) if run.params.get("mask_mode") == "dynamic"
                              else set())
        for key, value in profile.items():
            if key not in skip and run.params.get(key) != yaml.safe_load(value):
                found[run.name] = f"{key}={run.params.get(key)!r}, the profile has {value}"
                break
    return found


def general_checkpoint(rev: str) -> str | None:
    """What names the general checkpoint at commit ``rev`` (None where that commit's
    ``general/dvc.lock`` has no ``general/model``): the md5s of its files but the model card
    (``README.md``, which quotes params and may change with code that leaves the weights
    alone), read from the folder's ``.dir`` manifest in the DVC cache; the folder's md5 where
    the cache lacks that manifest. ``base_model`` names the folder, not its bytes, so this is
    what tells the general checkpoints of two grids apart."""
    proc = subprocess.run(["git", "show", f"{rev}:general/dvc.lock"], cwd=REPO,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    outs = yaml.safe_load(proc.stdout)["stages"]["pretrain"]["outs"]
    md5 = next((out["md5"] for out in outs if out["path"] == "general/model"), None)
    manifest = REPO / ".dvc" / "cache" / "files" / "md5" / str(md5)[:2] / str(md5)[2:]
    if md5 is None or not manifest.is_file():
        return md5
    files = json.loads(manifest.read_text(encoding="utf-8"))
    return " ".join(f"{f['relpath']}:{f['md5']}" for f in sorted(files, key=lambda f: f["relpath"])
                    if f["relpath"] != "README.md")


def general_model_change(status: dict) -> str | None:
    """How ``general/model`` differs from its entry in ``general/dvc.lock`` ("modified",
    "deleted", "not in cache"), read from ``dvc status GENERAL_STAGE --json``; None when it
    matches. Changed deps alone (code edited since the build) do not count: the lock still
    names the bytes the grid reads."""
    changes = [entry.get("changed outs", {}) for entry in status.get(GENERAL_STAGE, [])
               if isinstance(entry, dict)]
    return next((found for outs in changes if (found := outs.get("general/model"))), None)


def check_general_model() -> None:
    """Fail unless ``general/model`` is the checkpoint the committed ``general/dvc.lock``
    records: that lock is how a grid's commit names its general checkpoint (``check_joined``)."""
    status = json.loads(checked(dvc(REPO, "status", GENERAL_STAGE, "--json"),
                                "dvc status of the general checkpoint").stdout)
    if change := general_model_change(status):
        raise SystemExit(f"general/model is {change} against general/dvc.lock: build it with "
                         "`make general` (dvc repro general/dvc.yaml) and commit general/dvc.lock")
    if subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "general/dvc.lock"],
                      cwd=REPO).returncode != 0:
        raise SystemExit("general/dvc.lock has uncommitted changes: commit it, so that the "
                         "grid's commit records the general checkpoint it reads")


def check_joined(paths: list[Path], profile: dict[str, str],
                 checkpoint: Callable[[str], str | None] = general_checkpoint) -> None:
    """Fail, naming file, run and param, when a ``--exp-json`` file holds a run of another
    profile, or naming file and commit when its grid ran from another general checkpoint
    (``checkpoint(commit)`` differs from ``checkpoint("HEAD")``)."""
    head = checkpoint("HEAD")
    for path in paths:
        shown = json.loads(path.read_text(encoding="utf-8"))
        for name, why in other_profile(collect_runs(shown)[0], profile).items():
            raise SystemExit(f"{path}: {name} ran with another profile ({why}); join only "
                             "grids of the current params_real_cpu.yaml")
        for rev in {commit["rev"] for commit in shown if commit.get("experiments")}:
            if (theirs := checkpoint(rev)) != head:
                raise SystemExit(
                    f"{path}: its experiments ran at commit {rev[:7]}, whose general/dvc.lock "
                    f"has another general/model ({theirs}; HEAD: {head}); join only grids of "
                    "the current general checkpoint")
