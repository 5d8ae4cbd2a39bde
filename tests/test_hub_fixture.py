"""A folder laid out like ``hfl/chinese-roberta-wwm-ext`` (config.json, pytorch_model.bin,
a 21,128-line vocab.txt, no tokenizer.json) as ``base_model``: the MLM head loads from the
file, and tokenize -> mask-annotate -> pretrain -> finetune-ner -> evaluate -> predict run on
the demo data with the tiny profile, also from a config.json without ``model_type``; the
first pretrains with NSP (the checkpoint's own NSP head and pooler), the second with dynamic
masks.

Stages run in-process (``run(params, paths)``, the code ``main()`` calls): importing the
training stack costs ~10 s of CPU per subprocess here.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
import torch

from dapt.data.chinese_vocab import HUB_SIZE
from dapt.data.tokenizer_io import load_tokenizer
from dapt.params import load_params
from dapt.training.models import BertForMaskedLMAtPositions, build_mlm_model
from tests.helpers import DEMO, TINY, hub_checkpoint, write_params

STAGE_MODULES = {"split": "split", "tokenize": "tokenization", "mask-annotate": "mask_annotate",
                 "pretrain": "pretrain", "finetune-ner": "finetune_ner", "evaluate": "evaluate"}


def run_stage(name: str, params: Path, **paths: str) -> dict:
    """Run one stage in-process with the given params file and paths."""
    stage = importlib.import_module(f"stages.{STAGE_MODULES[name]}")
    return stage.run(load_params(params), stage.Paths(**paths))


def split_tokenize(tmp: Path, labeled: Path, unlabeled: Path, **overrides) -> Path:
    params = write_params(tmp / "params.yaml", **{"data.labeled_dir": str(labeled),
                                                  "data.unlabeled_dir": str(unlabeled),
                                                  **overrides})
    run_stage("split", params, out=str(tmp / "split"), metrics=str(tmp / "data.json"))
    run_stage("tokenize", params, split_dir=str(tmp / "split"), out=str(tmp / "tokenized"),
              tokenizer_out=str(tmp / "tokenizer"), metrics=str(tmp / "tokenize.json"))
    return params


@pytest.fixture(scope="module", params=[True, False], ids=["model_type", "no_model_type"])
def hub(request, tmp_path_factory) -> Path:
    return hub_checkpoint(tmp_path_factory.mktemp("hub"), model_type=request.param)


def test_layout_and_every_mlm_weight_comes_from_the_file(hub):
    assert sorted(p.name for p in hub.iterdir()) == [
        "added_tokens.json", "config.json", "pytorch_model.bin", "special_tokens_map.json",
        "tokenizer_config.json", "vocab.txt"]
    lines = (hub / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
    assert len(lines) == HUB_SIZE and lines[100:104] == ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer = load_tokenizer(hub)
    assert tokenizer.is_fast and len(tokenizer) == HUB_SIZE
    assert tokenizer.tokenize("黄芪10ML") == ["黄", "芪", "1", "##0", "##m", "##l"]
    model = build_mlm_model(str(hub), {}, tokenizer)
    assert isinstance(model, BertForMaskedLMAtPositions)
    saved = torch.load(hub / "pytorch_model.bin", weights_only=True)
    state = model.state_dict()
    assert {k for k in saved if k.startswith("cls.predictions.")} <= set(state)
    for key, tensor in state.items():  # nothing freshly initialised: no resize, no new head
        assert torch.equal(tensor, saved[key]), key


@pytest.fixture(scope="module")
def pipeline(hub, tmp_path_factory) -> Path:
    """Every stage from the hub folder; without model_type, fine-tuning also starts from
    the folder itself (``finetune.init: base``), so both loaders meet that config."""
    tmp = tmp_path_factory.mktemp("pipeline")
    typed = "model_type" in json.loads((hub / "config.json").read_text())
    init = "pretrained" if typed else "base"
    # the other pretraining options on the hub shape: NSP with the checkpoint's own head,
    # and dynamic masks
    option = {"pretrain.pair_task": "nsp"} if typed else {"mask_mode": "dynamic"}
    params = split_tokenize(tmp, DEMO / "labeled", DEMO / "unlabeled",
                            **{**TINY, "base_model": str(hub), "finetune.init": init, **option})
    run_stage("mask-annotate", params, mlm=str(tmp / "tokenized" / "mlm.parquet"),
              tokenizer=str(tmp / "tokenizer"), units=None, dev=None, out=str(tmp / "masked"),
              metrics=str(tmp / "masking.json"))
    run_stage("pretrain", params, masked_dir=str(tmp / "masked"), tokenizer=str(tmp / "tokenizer"),
              out=str(tmp / "pretrained"), checkpoints=str(tmp / "checkpoints"),
              metrics=str(tmp / "pretrain.json"), live_dir=str(tmp / "live" / "pretrain"))
    run_stage("finetune-ner", params, ner=str(tmp / "tokenized" / "ner.parquet"),
              dev=str(tmp / "split" / "dev.jsonl"), pretrained=str(tmp / "pretrained"),
              tokenizer=str(tmp / "pretrained"), out=str(tmp / "ner"),
              metrics=str(tmp / "finetune.json"), live_dir=str(tmp / "live" / "finetune"))
    run_stage("evaluate", params, model=str(tmp / "ner"), test=str(tmp / "split" / "test.jsonl"),
              metrics=str(tmp / "eval.json"), plots=str(tmp / "plots"),
              predictions=str(tmp / "predictions"))
    importlib.import_module("dapt.predict").main(
        ["--params", str(params), "--model", str(tmp / "ner"),
         "--input", str(DEMO / "unlabeled"), "--output", str(tmp / "predicted")])
    return tmp


@pytest.mark.slow
def test_pipeline_runs_end_to_end_from_the_hub_folder(pipeline):
    tokenize = json.loads((pipeline / "tokenize.json").read_text())
    assert tokenize["vocab_size"] == HUB_SIZE
    pretrain = json.loads((pipeline / "pretrain.json").read_text())
    assert pretrain["eval"]["masked_tokens"] > 0 and 0 < pretrain["train"]["mask_rate"] < 1
    if (pipeline / "masked" / "units.parquet").is_file():  # dynamic masks
        assert not (pipeline / "masked" / "train.parquet").exists()
    else:  # NSP: scored on the held-out pairs
        assert 0 <= pretrain["eval"]["pair_accuracy"] <= 1 and pretrain["eval"]["pairs"] > 0
    for model in ("pretrained", "ner"):
        config = json.loads((pipeline / model / "config.json").read_text())
        assert config["model_type"] == "bert" and config["vocab_size"] == HUB_SIZE
        assert (pipeline / model / "model.safetensors").is_file()
    assert 0.0 <= json.loads((pipeline / "eval.json").read_text())["test"]["f1"] <= 1.0
    inputs = sorted(p.name for p in (DEMO / "unlabeled").glob("*.txt"))
    assert sorted(p.name for p in (pipeline / "predicted").glob("*.txt")) == inputs
    assert len(list((pipeline / "predicted").glob("*.ann"))) == len(inputs)


def test_real_data_unk_rate_under_the_hub_vocabulary(real_data, tmp_path):
    folder = hub_checkpoint(tmp_path)
    split_tokenize(tmp_path, real_data / "labeled", real_data / "unlabeled",
                   base_model=str(folder))
    stats = json.loads((tmp_path / "tokenize.json").read_text())
    assert stats["vocab_size"] == HUB_SIZE
    for part in ("ner", "mlm"):
        assert 0 < stats[part]["unk_rate"] < 1e-3, stats[part]
        assert stats[part]["unk_characters"]
