"""Test helpers: repo paths, temp params files, running stages, DVC in copies."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO.parent / "shared" / "data" / "tcm_ner"
DEMO = REPO / "data" / "demo"


def with_overrides(params: dict, overrides: dict) -> dict:
    """A copy of params with dotted-key overrides, e.g. ``{"tokenize.max_len": 32}``."""
    params = copy.deepcopy(params)
    for dotted, value in overrides.items():
        node = params
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value
    return params


def write_params(path: Path, source: Path = REPO / "params.yaml", **overrides) -> Path:
    """Write ``source`` params with dotted-key overrides to ``path``."""
    params = with_overrides(yaml.safe_load(source.read_text(encoding="utf-8")), overrides)
    path.write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    return path


def run_module(module: str, *args: str, cwd: Path = REPO, check: bool = True,
               env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m module args`` and fail with its output when it fails."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True)
    if check and proc.returncode != 0:
        pytest.fail(f"{module} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def write_brat(folder: Path, doc_id: str, text: str, ann: str | None = None) -> None:
    """Write ``doc_id.txt`` (and ``doc_id.ann`` when given) with exact bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{doc_id}.txt").write_bytes(text.encode("utf-8"))
    if ann is not None:
        (folder / f"{doc_id}.ann").write_bytes(ann.encode("utf-8"))


def split_and_tokenize(tmp: Path, labeled: Path, unlabeled: Path | None, **overrides) -> Path:
    """Run the split and tokenize stages into ``tmp``; returns the params file used.

    The stages' command lines run in-process: a fresh interpreter per stage costs ~4 s of
    imports, several times the work itself on the demo data.
    """
    from stages import split, tokenization

    tmp.mkdir(parents=True, exist_ok=True)
    params = write_params(
        tmp / "params.yaml",
        **{"data.labeled_dir": str(labeled),
           "data.unlabeled_dir": str(unlabeled) if unlabeled else None, **overrides},
    )
    split.main(["--params", str(params), "--out", str(tmp / "split"),
                "--metrics", str(tmp / "data.json")])
    tokenization.main(["--params", str(params), "--split-dir", str(tmp / "split"),
                       "--out", str(tmp / "tokenized"), "--tokenizer-out", str(tmp / "tokenizer"),
                       "--metrics", str(tmp / "tokenize.json")])
    return params


def mask_annotate(params: Path, work: Path, name: str, **overrides) -> dict:
    """Run mask-annotate in-process on ``work``'s tokenize outputs into ``work/name``.

    ``params`` is a file from ``split_and_tokenize``; overrides use dotted keys.
    """
    from stages.mask_annotate import Paths, run

    p = with_overrides(yaml.safe_load(params.read_text(encoding="utf-8")), overrides)
    return run(p, Paths(mlm=str(work / "tokenized" / "mlm.parquet"),
                        tokenizer=str(work / "tokenizer"), out=str(work / name),
                        metrics=str(work / name / "masking.json")))


# A profile small enough that the whole pipeline runs in well under a minute on 2 cores.
TINY = {
    "mask_dupe": 1,
    "tokenize.max_len": 64,
    "mask.eval_sequences": 16,
    "scratch.hidden_size": 32,
    "scratch.num_hidden_layers": 1,
    "scratch.num_attention_heads": 2,
    "scratch.intermediate_size": 64,
    "pretrain.epochs": 1,
    "pretrain.batch_size": 32,
    "finetune.epochs": 1,
    "finetune.batch_size": 32,
}


def copy_worktree(dest: Path) -> Path:
    """A fresh git repo holding the current working tree (tracked + untracked, not ignored)."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO, check=True, capture_output=True, text=True).stdout.split("\0")
    for name in filter(None, files):
        src = REPO / name
        if src.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(src.read_bytes())
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "snapshot")
    return dest


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout


def dvc(cwd: Path, *args: str, check: bool = True) -> str:
    """Run dvc with the test interpreter's environment first on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
           "DVC_NO_ANALYTICS": "1", "PYTHONPATH": ""}
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)
    if check and proc.returncode != 0:
        pytest.fail(f"dvc {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout + proc.stderr


def tiny_clone(dest: Path, **overrides) -> Path:
    """Working-tree copy with the tiny profile written into its params.yaml and committed."""
    copy_worktree(dest)
    write_params(dest / "params.yaml", dest / "params.yaml", **{**TINY, **overrides})
    git(dest, "commit", "-qam", "tiny profile")
    return dest
