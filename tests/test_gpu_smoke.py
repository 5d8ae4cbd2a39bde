"""bench/gpu_smoke.sh keeps working: run on CPU with a tiny shape on a few demo documents."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import REPO, TINY, demo_subset


@pytest.mark.slow
def test_gpu_smoke_prints_speed_and_memory_on_cpu(tmp_path):
    data = demo_subset(tmp_path / "data")
    out = tmp_path / "smoke.json"
    tiny = [f"{key}={value}" for key, value in TINY.items()]
    env = {**os.environ, "PYTHON": sys.executable, "DATA": str(data)}
    proc = subprocess.run(["bash", "bench/gpu_smoke.sh", "--out", str(out), *tiny], cwd=REPO,
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads(out.read_text())
    assert json.loads(proc.stdout.splitlines()[-1]) == summary
    assert summary["device"] == "cpu"
    assert list(summary["stage_seconds"]) == ["split", "tokenization", "mask_annotate",
                                              "pretrain", "finetune_ner", "evaluate"]
    for name in ("pretrain", "finetune"):
        assert summary[name]["tokens_per_second"] > 0 and summary[name]["tokens"] > 0
        assert summary[name]["peak_gpu_memory_gib"] is None  # no GPU here
        assert f"{name}: {summary[name]['tokens_per_second']} tokens/s" in proc.stdout
    # the smoke shape, with the tiny overrides on top
    assert summary["overrides"]["scratch.num_hidden_layers"] == "1"
    assert summary["overrides"]["tokenize.max_len"] == "64"
