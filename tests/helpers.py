"""Test helpers: repo paths, temp params files, running stages, DVC in copies."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from dapt.experiments.hub_standin import hub_checkpoint as hub_checkpoint  # re-exported
from dapt.experiments.profile import dvc as run_dvc
from dapt.experiments.profile import dvc_env as dvc_env  # re-exported for the tests
from dapt.experiments.profile import with_overrides

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO.parent / "shared" / "data" / "tcm_ner"
DEMO = REPO / "data" / "demo"


def write_params(path: Path, source: Path = REPO / "params.yaml", **overrides) -> Path:
    """Write ``source`` params with dotted-key overrides to ``path``; one torch thread
    unless ``threads`` is given (the suite runs two workers on two cores)."""
    overrides = {"threads": 1, **overrides}
    params = with_overrides(yaml.safe_load(source.read_text(encoding="utf-8")), overrides)
    path.write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    return path


def module_env(env: dict | None = None) -> dict[str, str]:
    """Environment for ``python -m`` of a project module (plus ``env``)."""
    return {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}


def run_module(module: str, *args: str, cwd: Path = REPO, check: bool = True,
               env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m module args`` and fail with its output when it fails."""
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=module_env(env),
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


def tiny_token_classifier(texts: list[str], labels: list[str],
                          max_position_embeddings: int = 64):
    """(model, tokenizer): a seeded one-layer ``BertForTokenClassification`` with BIO
    ``labels`` and a scratch character tokenizer fitted to ``texts``."""
    import torch
    from transformers import BertConfig, BertForTokenClassification

    from dapt.data.tokenizer_io import train_scratch_tokenizer

    tokenizer = train_scratch_tokenizer(texts, vocab_size=300, min_frequency=1)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=max_position_embeddings,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                        id2label=dict(enumerate(labels)),
                        label2id={label: i for i, label in enumerate(labels)})
    return BertForTokenClassification(config), tokenizer


def demo_subset(dest: Path, labeled: int = 40, unlabeled: int = 10) -> Path:
    """The first demo documents (brat ``.txt`` + ``.ann``) copied to ``dest/{labeled,
    unlabeled}``; skips the test when the demo data is absent."""
    if not (DEMO / "labeled").is_dir():
        pytest.skip(f"demo data not found at {DEMO}")
    for name, count in (("labeled", labeled), ("unlabeled", unlabeled)):
        (dest / name).mkdir(parents=True)
        for txt in sorted((DEMO / name).glob("*.txt"))[:count]:
            for src in (txt, txt.with_suffix(".ann")):
                if src.exists():
                    shutil.copy(src, dest / name / src.name)
    return dest


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


def unit_tagger(params: Path, work: Path) -> None:
    """Run the unit-tagger stage in-process on ``work/split`` into ``work/{unit_tagger,units}``."""
    from stages import unit_tagger as stage

    stage.main(["--params", str(params), "--split-dir", str(work / "split"),
                "--model", str(work / "unit_tagger"), "--out", str(work / "units"),
                "--metrics", str(work / "unit_tagger.json")])


def mask_annotate(params: Path, work: Path, name: str, dev: bool = True, **overrides) -> dict:
    """Run mask-annotate in-process on ``work``'s tokenize outputs into ``work/name``.

    ``params`` is a file from ``split_and_tokenize``; overrides use dotted keys. Tagger units
    come from ``work/units`` when ``unit_tagger`` made it; ``dev`` scores the unit sources
    against ``work/split/dev.jsonl``.
    """
    from stages.mask_annotate import Paths, run

    p = with_overrides(yaml.safe_load(params.read_text(encoding="utf-8")), overrides)
    units = work / "units"
    return run(p, Paths(mlm=str(work / "tokenized" / "mlm.parquet"),
                        tokenizer=str(work / "tokenizer"),
                        units=str(units) if units.is_dir() else None,
                        dev=str(work / "split" / "dev.jsonl") if dev else None,
                        out=str(work / name), metrics=str(work / name / "masking.json")))


# A profile small enough that the whole pipeline runs in well under a minute on 2 cores.
TINY = {
    "threads": 1,  # two pytest workers on two cores
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


def dvc(cwd: Path, *args: str, check: bool = True, env: dict | None = None) -> str:
    """Output (stdout, then stderr) of ``dapt.experiments.profile.dvc``; with ``check`` a
    failure fails the test."""
    proc = run_dvc(cwd, *args, env=env)
    if check and proc.returncode != 0:
        pytest.fail(f"dvc {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout + proc.stderr


def tiny_clone(dest: Path, **overrides) -> Path:
    """Working-tree copy with the tiny profile written into its params.yaml and committed."""
    copy_worktree(dest)
    write_params(dest / "params.yaml", dest / "params.yaml", **{**TINY, **overrides})
    git(dest, "commit", "-qam", "tiny profile")
    return dest


def run_at_once(runs: dict[str, tuple[list[str], Path, dict[str, str]]],
                timeout: float) -> dict[str, str]:
    """Start every ``label: (command, cwd, environment)`` at the same time, each in its own
    process group; their output (stdout, then stderr, interleaved) once all succeeded. One
    that fails or runs past ``timeout`` seconds (its whole group is killed, children such as
    torchrun's workers or dvc's stages included) fails the test, naming its label."""
    procs = {label: subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
             for label, (cmd, cwd, env) in runs.items()}
    outputs: dict[str, str] = {}
    try:
        deadline = time.monotonic() + timeout
        for label, proc in procs.items():
            remaining = max(deadline - time.monotonic(), 1)
            try:
                outputs[label] = proc.communicate(timeout=remaining)[0]
            except subprocess.TimeoutExpired:
                pytest.fail(f"{label} still running after {timeout} s")
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    for label, proc in procs.items():
        if proc.returncode != 0:
            pytest.fail(f"{label} failed ({proc.returncode}):\n{outputs[label][-6000:]}")
    return outputs


def kill_at_checkpoint(cmd: list[str], root: Path, env: dict[str, str], cwd: Path = REPO,
                       done: Callable[[Path], bool] = lambda path: True,
                       required: tuple[str, ...] = ()) -> Path:
    """Start ``cmd`` in its own process group and SIGKILL the group as soon as the resume
    root ``root`` (``<stage>/<fingerprint>/checkpoint-<step>``) holds a complete checkpoint
    (``trainer_state.json`` and the stage's ``required`` files written, as
    ``ResumableRun.complete`` counts them) for which ``done(path)`` holds; returns it."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        found = first_checkpoint(proc, root, lambda path: all(
            (path / name).is_file() for name in required) and done(path))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return found


def first_checkpoint(proc: subprocess.Popen, root: Path, done: Callable[[Path], bool],
                     timeout: float = 120) -> Path:
    """The first complete checkpoint under ``root`` for which ``done(path)`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for state in sorted(root.glob("*/*/checkpoint-*/trainer_state.json")):
            try:
                if done(state.parent):
                    return state.parent
            except FileNotFoundError:  # removed while looked at: a newer one exists
                continue
        if proc.poll() is not None:
            pytest.fail(f"{proc.args} ended (rc {proc.returncode}) before the checkpoint")
        time.sleep(0.02)
    pytest.fail(f"{proc.args}: no checkpoint within {timeout} s")
