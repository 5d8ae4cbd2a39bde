"""finetune-ner stage on a tiny, trivially learnable corpus."""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoConfig, AutoTokenizer, BertConfig, BertForMaskedLM, pipeline

from dapt.training.checkpoints import checkpoint_step
from dapt.training.model_card import read_card_meta
from dapt.training.ner_trainer import KeepBest
from tests.helpers import (
    TINY,
    kill_at_checkpoint,
    module_env,
    run_module,
    split_and_tokenize,
    write_brat,
    write_params,
)

ENV = {"OMP_NUM_THREADS": "1"}
WORDS = {"SYMPTOM": ["头痛", "咳嗽", "发热", "腹泻"], "PERSON_GROUP": ["孕妇", "儿童"]}
TEMPLATES = ["本品用于{SYMPTOM}。", "{PERSON_GROUP}慎用。", "服药后{SYMPTOM}减轻。",
             "{PERSON_GROUP}忌服，如有{SYMPTOM}请就医。", "每日三次，饭后服用。"]
# Fine-tuning long enough that the tiny model learns the fixed vocabulary.
FAST = {"finetune.epochs": 8, "finetune.batch_size": 8, "finetune.learning_rate": 0.005,
        "finetune.logging_steps": 5}


def leaflet(rng: random.Random) -> tuple[str, str]:
    """Text and brat annotations of one synthetic leaflet."""
    text, ann = "", []
    for template in rng.choices(TEMPLATES, k=6):
        parts = template.replace("}", "{").split("{")
        for i, part in enumerate(parts):
            if i % 2:  # an entity slot
                word = rng.choice(WORDS[part])
                ann.append(f"T{len(ann) + 1}\t{part} {len(text)} {len(text) + len(word)}\t{word}")
                text += word
            else:
                text += part
    return text, "\n".join(ann) + "\n"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """Split/tokenized leaflets plus a tiny saved BertForMaskedLM (stands in for a hub model)."""
    tmp = tmp_path_factory.mktemp("finetune_data")
    rng = random.Random(0)
    for i in range(60):
        write_brat(tmp / "labeled", str(i), *leaflet(rng))
    split_and_tokenize(tmp, tmp / "labeled", None, **TINY)
    tokenizer = AutoTokenizer.from_pretrained(tmp / "tokenizer")
    torch.manual_seed(0)
    bert = BertForMaskedLM(BertConfig(vocab_size=len(tokenizer), hidden_size=48,
                                      num_hidden_layers=1, num_attention_heads=2,
                                      intermediate_size=96, pad_token_id=tokenizer.pad_token_id))
    bert.save_pretrained(tmp / "tiny-bert")
    tokenizer.save_pretrained(tmp / "tiny-bert")
    return tmp


def finetune_args(data: Path, run: Path, **overrides) -> list[str]:
    """Stage flags for a run in ``run`` (resume root ``run/checkpoints``)."""
    params = write_params(run.parent / f"{run.name}.yaml", data / "params.yaml",
                          **{**FAST, **overrides})
    return ["--params", str(params), "--ner", str(data / "tokenized" / "ner.parquet"),
            "--dev", str(data / "split" / "dev.jsonl"),
            "--pretrained", str(data / "tiny-bert"), "--tokenizer", str(data / "tokenizer"),
            "--out", str(run / "ner"), "--metrics", str(run / "finetune.json"),
            "--live-dir", str(run / "dvclive"), "--checkpoints", str(run / "checkpoints")]


def finetune(data: Path, run: Path, **overrides):
    return run_module("stages.finetune_ner", *finetune_args(data, run, **overrides), env=ENV)


def test_best_epoch_model_is_saved_and_usable_by_the_pipeline(data, tmp_path):
    run = tmp_path / "run"
    finetune(data, run)
    metrics = json.loads((run / "finetune.json").read_text())
    assert set(metrics["dev"]) >= {"f1", "precision", "recall", "best_epoch"}
    assert 1 <= metrics["dev"]["best_epoch"] <= FAST["finetune.epochs"]
    assert metrics["dev"]["f1"] > 0.8
    # The reported dev F1 is the best of the per-epoch curve.
    rows = (run / "dvclive" / "plots" / "metrics" / "dev" / "f1.tsv").read_text().split()[2:]
    per_epoch = [float(v) for v in rows[1::2]]
    assert len(per_epoch) == FAST["finetune.epochs"]
    assert metrics["dev"]["f1"] == max(per_epoch)
    assert per_epoch.index(max(per_epoch)) + 1 == metrics["dev"]["best_epoch"]

    card = read_card_meta(run / "ner")
    assert card["pipeline_tag"] == "token-classification"
    scores = card["model-index"][0]["results"][0]["metrics"]
    assert {m["type"]: m["value"] for m in scores} == {
        k: metrics["dev"][k] for k in ("f1", "precision", "recall")}
    assert card["dapt"]["labels"][0] == "O" and card["dapt"]["finetune"]["epochs"] == 8
    assert card["dapt"]["pretraining"] is None  # the stand-in folder has no card of its own
    assert 'pipeline("token-classification"' in (run / "ner" / "README.md").read_text()

    config = AutoConfig.from_pretrained(run / "ner")
    assert config.id2label[0] == "O"
    assert {"B-SYMPTOM", "I-SYMPTOM", "B-PERSON_GROUP"} <= set(config.id2label.values())
    tagger = pipeline("token-classification", model=str(run / "ner"),
                      tokenizer=str(run / "ner"), aggregation_strategy="simple")
    found = tagger("孕妇忌服，如有头痛请就医。")
    assert {(e["entity_group"], e["word"].replace(" ", "")) for e in found} >= {
        ("PERSON_GROUP", "孕妇"), ("SYMPTOM", "头痛")}


def test_base_model_from_a_local_folder_loads_like_a_hub_id(data, tmp_path):
    run = tmp_path / "base"
    proc = finetune(data, run, **{"finetune.init": "base",
                                  "base_model": str(data / "tiny-bert")})
    assert f"loading token classifier from {data / 'tiny-bert'}" in proc.stderr
    config = AutoConfig.from_pretrained(run / "ner")
    assert config.hidden_size == 48  # the folder's model, not the scratch params (32)
    assert config.num_labels == len(config.id2label) == 5


def test_scratch_baseline_reruns_identically(data, tmp_path):
    overrides = {"finetune.init": "base", "base_model": "scratch", "finetune.epochs": 2}
    first, second = tmp_path / "first", tmp_path / "second"
    finetune(data, first, **overrides)
    finetune(data, second, **overrides)
    assert AutoConfig.from_pretrained(first / "ner").hidden_size == TINY["scratch.hidden_size"]
    for name in ("finetune.json", "ner/model.safetensors",
                 "dvclive/plots/metrics/train/loss.tsv"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_bilstm_crf_head_with_early_stopping_is_saved_and_predicts(data, tmp_path):
    from dapt.data.documents import read_jsonl
    from dapt.ner.inference import NerPredictor
    from dapt.ner.scoring import doc_spans, score_spans

    run = tmp_path / "crf"
    finetune(data, run, **{"finetune.head": "bilstm_crf", "finetune.lstm_hidden_size": 16,
                           "finetune.head_learning_rate": 0.01, "finetune.patience": 2})
    metrics = json.loads((run / "finetune.json").read_text())
    assert metrics["dev"]["f1"] > 0.8
    rows = (run / "dvclive" / "plots" / "metrics" / "dev" / "f1.tsv").read_text().split()[2:]
    epochs_run = len(rows) // 2
    assert metrics["train"]["stopped_early"] == (epochs_run < FAST["finetune.epochs"])
    if metrics["train"]["stopped_early"]:  # patience 2: two epochs without a better dev F1
        assert epochs_run == metrics["dev"]["best_epoch"] + 2
    assert AutoConfig.from_pretrained(run / "ner").ner_head == "bilstm_crf"
    card = (run / "ner" / "README.md").read_text()
    assert "python -m dapt.predict" in card and "load_token_classifier" in card
    # The saved model, loaded by the project's predictor, reproduces the best dev F1.
    dev = read_jsonl(data / "split" / "dev.jsonl")
    predicted = NerPredictor.from_pretrained(run / "ner", TINY["tokenize.max_len"]).predict(dev)
    assert score_spans(doc_spans(dev), doc_spans(dev, predicted))["f1"] == metrics["dev"]["f1"]


@pytest.mark.slow  # a killed stage process and its rerun
def test_killed_run_resumes_with_its_best_epoch_and_patience(data, tmp_path):
    overrides = {"finetune.epochs": 12, "finetune.patience": 3}
    reference = tmp_path / "reference"
    finetune(data, reference, **overrides)
    metrics = json.loads((reference / "finetune.json").read_text())
    best = metrics["dev"]["best_epoch"]
    # Early stopping counts epochs from a best one that lies before the kill.
    assert metrics["train"]["stopped_early"] and best < overrides["finetune.epochs"] - 1

    run = tmp_path / "killed"
    # Killed after an epoch past the best one: the best weights are not the latest.
    after_best = kill_at_checkpoint(
        [sys.executable, "-m", "stages.finetune_ner", *finetune_args(data, run, **overrides)],
        run / "checkpoints", module_env(ENV),
        done=lambda path: json.loads((path / "trainer_state.json").read_text())["epoch"] > best,
        required=(KeepBest.FILE,))
    assert not (run / "finetune.json").exists()

    resumed = finetune(data, run, **overrides)
    step = int(re.search(r"resuming from \S+ \(step (\d+)\)", resumed.stderr)[1])
    assert step >= checkpoint_step(after_best)
    for name in ("finetune.json", "ner/model.safetensors", "dvclive/plots/metrics/dev/f1.tsv",
                 "dvclive/plots/metrics/train/loss.tsv", "dvclive/metrics.json"):
        assert (run / name).read_bytes() == (reference / name).read_bytes(), name
    assert not list((run / "checkpoints").rglob("checkpoint-*"))
