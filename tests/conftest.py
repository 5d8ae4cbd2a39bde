"""Shared test helpers: repo paths, temp params files, running stage modules."""

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


def write_params(path: Path, **overrides) -> Path:
    """Copy params.yaml with dotted-key overrides, e.g. ``**{"tokenize.max_len": 32}``."""
    params = copy.deepcopy(yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8")))
    for dotted, value in overrides.items():
        node = params
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value
    path.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
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
    """Run the split and tokenize stages into ``tmp``; returns the params file used."""
    params = write_params(
        tmp / "params.yaml",
        **{"data.labeled_dir": str(labeled),
           "data.unlabeled_dir": str(unlabeled) if unlabeled else None, **overrides},
    )
    run_module("stages.split", "--params", str(params), "--out", str(tmp / "split"),
               "--metrics", str(tmp / "data.json"))
    run_module("stages.tokenize", "--params", str(params), "--split-dir", str(tmp / "split"),
               "--out", str(tmp / "tokenized"), "--tokenizer-out", str(tmp / "tokenizer"),
               "--metrics", str(tmp / "tokenize.json"))
    return params


@pytest.fixture
def real_data() -> Path:
    if not (REAL_DATA / "labeled").is_dir():
        pytest.skip(f"real data not found at {REAL_DATA}")
    return REAL_DATA
