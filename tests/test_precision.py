"""The precision choice (``precision`` param) on every kind of machine."""

from __future__ import annotations

import pytest

from dapt.training.arguments import choose_precision


@pytest.mark.parametrize("requested, cuda, cuda_bf16, chosen", [
    ("auto", False, False, "fp32"),   # CPU
    ("auto", True, True, "bf16"),     # A100/H100
    ("auto", True, False, "fp16"),    # V100/T4: no bf16
    ("fp32", True, True, "fp32"),
    ("bf16", False, False, "bf16"),   # CPU autocast
    ("bf16", True, True, "bf16"),
    ("fp16", True, False, "fp16"),
])
def test_choice(requested, cuda, cuda_bf16, chosen):
    assert choose_precision(requested, cuda, cuda_bf16) == chosen


@pytest.mark.parametrize("requested, cuda, cuda_bf16, message", [
    ("fp16", False, False, "needs a CUDA GPU"),
    ("bf16", True, False, "no bf16 support"),
])
def test_impossible_choice_fails_with_a_clear_message(requested, cuda, cuda_bf16, message):
    with pytest.raises(ValueError, match=message):
        choose_precision(requested, cuda, cuda_bf16)


def test_fp16_on_cpu_fails_before_any_work(tmp_path):
    from tests.helpers import REPO, run_module, write_params

    params = write_params(tmp_path / "p.yaml", precision="fp16")
    proc = run_module("stages.pretrain", "--params", str(params), "--masked-dir",
                      str(tmp_path / "absent"), check=False, cwd=REPO)
    assert proc.returncode != 0 and "precision=fp16 needs a CUDA GPU" in proc.stderr
    assert "absent" not in proc.stderr  # failed on the param, not on the missing data
