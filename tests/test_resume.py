"""A `dvc exp run` killed mid-pretraining resumes when rerun, as if never interrupted.

`dvc exp run` checks the committed outputs out before running (a persisted checkpoint
output would be reset); resume state lives outside the repo, in ``$DAPT_CHECKPOINT_DIR``.
"""

from __future__ import annotations

import re
import sys

import pytest

from dapt.training.checkpoints import checkpoint_step
from tests.helpers import (
    DEMO,
    demo_subset,
    dvc,
    dvc_env,
    kill_at_checkpoint,
    run_module,
    tiny_clone,
)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (DEMO / "labeled").is_dir(), reason="data/demo is absent")]

# Long enough to kill between the first checkpoint and the end.
PRETRAIN = {"pretrain.epochs": 5, "pretrain.batch_size": 8, "pretrain.save_steps": 20}
# One thread: runs compared for equality must use the same thread count.
THREADS = {"OMP_NUM_THREADS": "1"}


@pytest.mark.parametrize("masks", [{}, {"mask_mode": "dynamic", "mask_dupe": 1}],
                         ids=["static", "dynamic"])
def test_killed_dvc_exp_run_resumes_pretraining(tmp_path, masks):
    """Dynamic masks too: the resumed epoch redraws the masks it had (seed, epoch, sequence)."""
    data = demo_subset(tmp_path / "demo")
    repo = tiny_clone(tmp_path / "repo", **PRETRAIN, **masks,
                      **{"data.labeled_dir": str(data / "labeled"),
                         "data.unlabeled_dir": str(data / "unlabeled")})
    state = tmp_path / "state"
    env = {"DAPT_CHECKPOINT_DIR": str(state), **THREADS}
    first = kill_at_checkpoint([sys.executable, "-m", "dvc", "exp", "run", "pretrain"],
                               state, dvc_env(**env), cwd=repo)

    out = dvc(repo, "exp", "run", "pretrain", env=env)
    assert "Stage 'mask-annotate' didn't change, skipping" in out
    step = int(re.search(r"resuming from \S+ \(step (\d+)\)", out)[1])
    assert step >= checkpoint_step(first)
    assert not list(state.rglob("checkpoint-*"))  # a finished run cleans up

    # Exact resume: the same outputs as an uninterrupted run of the stage.
    ref = tmp_path / "reference"
    run_module("stages.pretrain", "--out", str(ref / "model"), "--metrics", str(ref / "m.json"),
               "--live-dir", str(ref / "live"), "--checkpoints", str(ref / "state"),
               cwd=repo, env=THREADS)
    for ours, theirs in (("models/pretrained/model.safetensors", "model/model.safetensors"),
                         ("metrics/pretrain.json", "m.json"),
                         ("dvclive/pretrain/plots/metrics/train/loss.tsv",
                          "live/plots/metrics/train/loss.tsv"),
                         ("dvclive/pretrain/plots/metrics/eval/loss.tsv",
                          "live/plots/metrics/eval/loss.tsv"),
                         ("dvclive/pretrain/metrics.json", "live/metrics.json")):
        assert (repo / ours).read_bytes() == (ref / theirs).read_bytes(), ours
