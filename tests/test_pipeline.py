"""End-to-end acceptance on the tiny profile, in fresh temporary copies of the repo.

* the trained model's test F1 clears a floor that no untrained model reaches;
* determinism: two fresh copies give identical dvc.lock hashes and metrics files, the second
  run under a user environment that sets other thread counts and kernel levels;
* `dvc exp run -S mask_prob=0.2` reruns exactly the stages after tokenize, the masks and
  pretraining metrics follow the new mask_prob, and `dvc metrics diff` / `dvc exp show`
  show the change;
* `dvc push` to a local-folder remote, `dvc pull` into another copy, `dvc status` clean.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.helpers import dvc, git, tiny_clone

pytestmark = pytest.mark.slow
STAGES = ["split", "tokenize", "unit-tagger", "mask-annotate", "pretrain", "finetune-ner",
          "evaluate"]
METRICS = ["data", "tokenize", "unit_tagger", "masking", "pretrain", "finetune", "eval"]
# With 1 fine-tuning epoch the tiny profile predicts no entity at all (test F1 0.0), no
# better than an untrained model; with 5 epochs it reaches test F1 0.32 on the demo data
# (about 1 s per extra epoch). Untrained models stay far below the floor: random init
# 0.000-0.001, the tiny pretrained encoder with a random head 0.000-0.012 (5 seeds each).
PROFILE = {"finetune.epochs": 5}
F1_FLOOR = 0.1


def lock_hashes(repo: Path) -> dict[str, dict[str, str]]:
    """Hash of every dependency and output of every stage, from dvc.lock."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text(encoding="utf-8"))
    return {
        name: {entry["path"]: entry.get("md5") for key in ("deps", "outs")
               for entry in stage.get(key, [])}
        for name, stage in lock["stages"].items()
    }


def read_metrics(repo: Path, name: str) -> dict:
    return json.loads((repo / "metrics" / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def first(tmp_path_factory) -> Path:
    repo = tiny_clone(tmp_path_factory.mktemp("first"), **PROFILE)
    dvc(repo, "repro")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "tiny run")
    return repo


def test_all_stages_ran_and_status_is_clean(first):
    assert set(lock_hashes(first)) == set(STAGES)
    assert "up to date" in dvc(first, "status", "dvc.yaml")
    assert read_metrics(first, "eval")["test"]["f1"] > F1_FLOOR


# What a user's environment may say: another thread count, other kernel levels, dynamic
# OpenMP teams. dapt.numerics overrides all of it, so the bytes do not change.
USER_ENV = {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "ATEN_CPU_CAPABILITY": "default",
            "MKL_CBWR": "COMPATIBLE", "ONEDNN_MAX_CPU_ISA": "SSE41", "OMP_DYNAMIC": "true"}


def test_two_fresh_copies_are_identical_whatever_the_users_environment(first, tmp_path):
    second = tiny_clone(tmp_path / "second", **PROFILE)
    dvc(second, "repro", env=USER_ENV)
    assert lock_hashes(second) == lock_hashes(first)
    for name in METRICS:
        path = Path("metrics") / f"{name}.json"
        assert (second / path).read_bytes() == (first / path).read_bytes(), path


def test_mask_prob_change_reruns_only_later_stages(first, tmp_path):
    repo = tmp_path / "exp"
    shutil.copytree(first, repo)
    out = dvc(repo, "exp", "run", "-S", "mask_prob=0.2")
    for stage in ("split", "tokenize", "unit-tagger"):
        assert f"Stage '{stage}' didn't change, skipping" in out
    for stage in ("mask-annotate", "pretrain", "finetune-ner", "evaluate"):
        assert f"Running stage '{stage}'" in out
    diff = json.loads(dvc(repo, "metrics", "diff", "--json"))
    assert {"metrics/masking.json", "metrics/pretrain.json", "metrics/eval.json"} <= set(diff)
    # the masks follow mask_prob: each entity unit masked with p 0.5, then 0.2
    before, after = read_metrics(first, "masking"), read_metrics(repo, "masking")
    assert abs(before["entity_masked_share"] - 0.5) < 0.05
    assert abs(after["entity_masked_share"] - 0.2) < 0.05
    assert after["mask_rate"] < 0.6 * before["mask_rate"]
    # and pretraining saw them: fewer predicted tokens in its held-out evaluation
    pre_before, pre_after = read_metrics(first, "pretrain"), read_metrics(repo, "pretrain")
    assert pre_after["eval"]["masked_tokens"] == after["eval"]["masked_tokens"]
    assert pre_after["eval"]["masked_tokens"] < pre_before["eval"]["masked_tokens"]
    assert pre_after["train"]["loss"] != pre_before["train"]["loss"]
    shown = dvc(repo, "exp", "show", "--json")
    assert '"mask_prob": 0.2' in shown and '"f1"' in shown


def test_push_and_pull_through_a_local_remote(first, tmp_path):
    repo = tmp_path / "pusher"
    shutil.copytree(first, repo)
    remote = tmp_path / "remote"
    dvc(repo, "remote", "add", "-d", "local", str(remote))
    git(repo, "commit", "-qam", "add remote")
    dvc(repo, "push")
    clone = tmp_path / "puller"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    dvc(clone, "pull", check=False)  # push: false intermediates are reported missing
    assert (clone / "models" / "ner" / "config.json").is_file()
    assert not (clone / "data" / "masked").exists()
    out = dvc(clone, "repro")  # rebuilds only the cheap push: false intermediates
    for stage in ("pretrain", "finetune-ner"):
        assert f"Stage '{stage}' didn't change, skipping" in out
    assert "up to date" in dvc(clone, "status", "dvc.yaml")


def test_unknown_param_fails_loudly(first):
    out = dvc(first, "exp", "run", "-S", "mask_porb=0.3", check=False)
    assert "Key 'mask_porb' is not in struct" in out
