"""Bad params through `dvc exp run -S ...` fail in the first stage that runs, in seconds,
naming file, key, value and rule; the README recipe then restores a clean workspace.

One tiny copy of the repo has run split, tokenize and mask-annotate, so each case starts
where a researcher would be: the first stage to run is the one the value reaches first
(pretrain, not finetune-ner, for ``finetune.init``).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from tests.helpers import dvc, git, tiny_clone

pytestmark = pytest.mark.slow
STAGES = ["split", "tokenize", "mask-annotate", "pretrain", "finetune-ner", "evaluate"]
HUB = "not a local folder, and hub look-ups are off"

CASES = [  # (-S values, first stage that runs, expected problem)
    (["finetune.init=foo"], "pretrain", "finetune.init='foo': must be 'pretrained' or 'base'"),
    (["mask_prob=abc"], "mask-annotate", "mask_prob='abc': must be a valid number"),
    (["mask_prob=0"], "mask-annotate", "mask_prob=0: must be greater than 0"),
    (["split.dev_size=0.9", "split.test_size=0.2"], "split",
     "split.dev_size=0.9, split.test_size=0.2: dev_size + test_size must be < 1"),
    (["base_model=/nonexistent"], "tokenize", "base_model='/nonexistent': no such folder"),
    (["base_model=some/typo-id"], "tokenize", f"base_model='some/typo-id': {HUB}"),
]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    repo = tiny_clone(tmp_path_factory.mktemp("prepared"))
    dvc(repo, "repro", "mask-annotate")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "through mask-annotate")
    return repo


@pytest.fixture(autouse=True)
def hub_unset(monkeypatch):
    for name in ("DAPT_ALLOW_HUB", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)


def exp_run(repo: Path, *args: str) -> tuple[str, float]:
    start = time.monotonic()
    out = dvc(repo, "exp", "run", *args, check=False)
    return out, time.monotonic() - start


@pytest.mark.parametrize("values, stage, problem", CASES, ids=[c[0][0] for c in CASES])
def test_bad_value_fails_fast_in_the_first_stage(prepared, tmp_path, values, stage, problem):
    repo = shutil.copytree(prepared, tmp_path / "repo", symlinks=True)
    out, seconds = exp_run(repo, *[a for v in values for a in ("-S", v)])
    assert f"params.yaml: {problem}" in out, out
    assert f"failed to reproduce '{stage}'" in out, out
    ran = [s for s in STAGES if f"Running stage '{s}'" in out]
    assert ran == [stage], out
    assert "Traceback" not in out
    # Measured 6-16 s on 2 cores, DVC included; pretrain spends ~10 s importing torch.
    assert seconds < 25, f"{seconds:.1f} s"


def test_recipe_restores_a_clean_workspace_after_a_failed_experiment(prepared, tmp_path):
    repo = shutil.copytree(prepared, tmp_path / "repo", symlinks=True)
    out, _ = exp_run(repo, "-S", "mask_prob=0")
    assert "failed to reproduce 'mask-annotate'" in out
    # What DVC leaves behind: the bad value in params.yaml, the failed stage's outputs
    # deleted, its git-tracked metrics included.
    assert sorted(git(repo, "status", "--porcelain").splitlines()) == [
        " D metrics/masking.json", " M params.yaml"]
    assert "mask_prob: 0" in (repo / "params.yaml").read_text(encoding="utf-8")
    assert not (repo / "data" / "masked").exists()

    # The README recipe. This copy never ran the training stages, so `dvc checkout` also
    # reports their outputs as missing from the cache (a real workspace has them).
    git(repo, "checkout", "--", "params.yaml", "dvc.lock", "metrics", "plots", "dvclive")
    out = dvc(repo, "checkout", "dvc.yaml", check=False)
    assert "data/masked" not in out.partition("Checkout failed")[2], out
    assert git(repo, "status", "--porcelain") == ""
    assert (repo / "data" / "masked" / "train.parquet").is_file()
    assert "up to date" in dvc(repo, "status", "mask-annotate")

    out, _ = exp_run(repo, "-S", "mask_prob=0.3", "mask-annotate")
    assert "Running stage 'mask-annotate'" in out and "failed" not in out, out
    metrics = json.loads((repo / "metrics" / "masking.json").read_text(encoding="utf-8"))
    assert metrics["mask_prob"] == 0.3
