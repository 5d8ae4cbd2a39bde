"""pretrain stage on a tiny profile: outputs, stale-checkpoint guard, DDP, resume key.

Kill and resume: tests/test_resume.py (under `dvc exp run`).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from transformers import AutoModelForMaskedLM, AutoTokenizer

from dapt.training.model_card import read_card_meta
from tests.helpers import REPO, TINY, demo_subset, run_module, split_and_tokenize, write_params

# One thread per process: tiny models gain nothing from more, and runs compared for
# equality must use the same thread count.
ENV = {"OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def masked(tmp_path_factory) -> Path:
    """Split, tokenize and mask-annotate 40 labeled + 10 unlabeled demo documents."""
    tmp = demo_subset(tmp_path_factory.mktemp("pretrain_data"))
    params = split_and_tokenize(tmp, tmp / "labeled", tmp / "unlabeled", **TINY)
    run_module("stages.mask_annotate", "--params", str(params),
               "--mlm", str(tmp / "tokenized" / "mlm.parquet"),
               "--tokenizer", str(tmp / "tokenizer"), "--units", "", "--dev", "",
               "--out", str(tmp / "masked"), "--metrics", str(tmp / "masking.json"))
    return tmp


def stage_args(data: Path, run: Path, params: Path) -> list[str]:
    return ["--params", str(params), "--masked-dir", str(data / "masked"),
            "--tokenizer", str(data / "tokenizer"), "--out", str(run / "pretrained"),
            "--checkpoints", str(run / "checkpoints"), "--metrics", str(run / "pretrain.json"),
            "--live-dir", str(run / "dvclive")]


def pretrain(data: Path, run: Path, **overrides) -> subprocess.CompletedProcess:
    params = write_params(run.parent / f"{run.name}.yaml", data / "params.yaml", **overrides)
    return run_module("stages.pretrain", *stage_args(data, run, params), env=ENV)


def test_saves_model_metrics_curves_and_guards_stale_checkpoints(masked, tmp_path):
    run = tmp_path / "run"
    first = pretrain(masked, run, **{"pretrain.save_steps": 2, "pretrain.logging_steps": 1})
    model = AutoModelForMaskedLM.from_pretrained(run / "pretrained")
    tokenizer = AutoTokenizer.from_pretrained(run / "pretrained")
    assert model.config.vocab_size == len(tokenizer)
    assert (run / "pretrained" / "model.safetensors").is_file()

    metrics = json.loads((run / "pretrain.json").read_text())
    assert set(metrics["eval"]) == {"loss", "perplexity", "accuracy", "entity_accuracy",
                                    "masked_tokens", "entity_masked_tokens"}
    assert metrics["eval"]["masked_tokens"] >= metrics["eval"]["entity_masked_tokens"] > 0
    assert 0 <= metrics["eval"]["accuracy"] <= 1 and metrics["train"]["steps"] > 0

    # The model card names the masking that made the model and the data it read.
    card = read_card_meta(run / "pretrained")
    masking = json.loads((masked / "masked" / "masking.json").read_text())
    assert card["pipeline_tag"] == "fill-mask" and card["language"] == ["zh"]
    assert card["dapt"]["masking"] == masking
    assert masking["strategy"] == "entity" and masking["mask_dupe"] == TINY["mask_dupe"]
    assert set(card["dapt"]["inputs_sha256"]) == {"train.parquet", "eval.parquet", "tokenizer"}
    assert card["dapt"]["pretrain"]["save_steps"] == 2 and "base_model" not in card
    assert str(tmp_path) not in (run / "pretrained" / "README.md").read_text()

    curves = run / "dvclive" / "plots" / "metrics"
    eval_loss = (curves / "eval" / "loss.tsv").read_text().splitlines()
    assert eval_loss[0] == "step\tloss" and len(eval_loss) > 2
    assert (curves / "train" / "loss.tsv").is_file()
    assert not (run / "dvclive" / "dvc.yaml").exists()
    logged = (run / "dvclive" / "params.yaml").read_text()
    assert "pretrain:" in logged and "finetune" not in logged and "output_dir" not in logged
    # A finished run leaves nothing in the resume root.
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["pretrain"]
    assert not any((run / "checkpoints" / "pretrain").iterdir())

    # A checkpoint of other params (another fingerprint) is neither resumed nor removed; an
    # incomplete one (no trainer_state.json) of this fingerprint is not resumed either.
    other = run / "checkpoints" / "pretrain" / ("0" * 64) / "checkpoint-2"
    shutil.copytree(run / "pretrained", other)
    (other / "trainer_state.json").write_text("{}")
    mine = Path(re.search(r"no checkpoint in (\S+):", first.stderr)[1]) / "checkpoint-2"
    shutil.copytree(run / "pretrained", mine)
    proc = pretrain(masked, run, **{"pretrain.save_steps": 2, "pretrain.logging_steps": 1})
    assert "training from step 0" in proc.stderr and "resuming" not in proc.stderr
    assert other.is_dir() and not mine.parent.exists()


def test_runs_under_torchrun_with_two_cpu_processes(masked, tmp_path):
    run = tmp_path / "ddp"
    params = write_params(tmp_path / "ddp.yaml", masked / "params.yaml")
    proc = run_module("torch.distributed.run", "--standalone", "--nproc_per_node=2",
                      "-m", "stages.pretrain", *stage_args(masked, run, params), env=ENV)
    assert "2 process(es)" in proc.stderr
    model = AutoModelForMaskedLM.from_pretrained(run / "pretrained")
    assert model.config.model_type == "bert"
    metrics = json.loads((run / "pretrain.json").read_text())
    # Each process takes its own batches: an epoch is half as many steps of 2 x batch_size.
    per_step = 2 * TINY["pretrain.batch_size"]
    assert metrics["train"]["steps"] == -(-metrics["train"]["sequences"] // per_step)
    assert metrics["eval"]["loss"] > 0


def test_resume_key_covers_exactly_the_stage_code_deps_of_dvc_yaml(tmp_path):
    import yaml

    from dapt.training.checkpoints import fingerprint, stage_code_files

    deps = yaml.safe_load((REPO / "dvc.yaml").read_text("utf-8"))["stages"]["pretrain"]["deps"]
    code = {(REPO / d).resolve() for d in deps if d.split("/")[0] in ("dapt", "stages")}
    files = stage_code_files("pretrain")
    assert {f.resolve() for f in files} == code
    assert REPO / "dapt" / "training" / "trainer.py" in files  # not only the stage script
    # An edit in any one of them is a new key.
    copies = []
    for f in files:
        copies.append(tmp_path / f.relative_to(REPO))
        copies[-1].parent.mkdir(parents=True, exist_ok=True)
        copies[-1].write_bytes(f.read_bytes())
    before = fingerprint({"seed": 1}, [], copies)
    for copy in copies:
        original = copy.read_bytes()
        copy.write_bytes(original + b"\n# edited\n")
        assert fingerprint({"seed": 1}, [], copies) != before, copy
        copy.write_bytes(original)
    assert fingerprint({"seed": 1}, [], copies) == before
