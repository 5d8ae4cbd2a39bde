"""finetune-ner stage: token classification on the NER windows, best epoch by dev span F1.

Inputs
  data/tokenized/ner.parquet   NER windows (train split used for training)
  data/split/dev.jsonl         dev documents with gold entities
  models/pretrained/           the domain-pretrained model (``finetune.init: pretrained``)
  base_model                   with ``finetune.init: base``: the no-domain-pretraining
                               baseline (hub id / local folder, or ``scratch``: a fresh
                               BertConfig model from the ``scratch`` params)
  tokenizer                    the copy of models/tokenizer saved in models/pretrained/
                               (its vocabulary also sizes a scratch model)
Outputs
  models/ner/                  safetensors + tokenizer, ``id2label`` in the config, and a
                               model card README.md (``dapt.training.model_card``)
  metrics/finetune.json        {"dev": {f1, precision, recall, best_epoch, ...}, "train": {...}}
  dvclive/finetune/            curves: train loss/lr, dev f1/precision/recall per epoch

Labels are ``O`` plus ``B-``/``I-`` of every entity type seen in the train windows. After
each epoch the model tags the whole dev documents and is scored with strict span F1; the
weights of the best epoch (earliest on ties) are saved (``dapt.training.ner_trainer``).

Resume
  A checkpoint is written after each epoch to
  ``$DAPT_CHECKPOINT_DIR/finetune-ner/<fingerprint>/`` (default root
  ``~/.cache/dapt/checkpoints``, outside the repo) with the best epoch so far (its weights,
  dev scores and number) beside the Trainer state, and removed once the run has saved its
  outputs. A rerun with the same fingerprint (stage params, input files, world size, the
  stage's code deps) resumes from the newest complete one (``dapt.training.checkpoints``).

Determinism and devices: see ``dapt.training.models``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from dapt.cli import path_flag, stage_main
from dapt.data.contracts import TRAIN, read_ner_windows, write_json
from dapt.data.documents import read_jsonl
from dapt.data.tokenizer_io import load_tokenizer
from dapt.ner.bio import label_list, tag_types
from dapt.numerics import describe
from dapt.params import Params, as_params
from dapt.training.arguments import report_speed, run_precision, speed_start
from dapt.training.checkpoints import ResumableRun
from dapt.training.devices import claim_gpu
from dapt.training.live import LiveCallback
from dapt.training.model_card import digest, ner_card, read_card_meta, write_card
from dapt.training.models import save_model, seed_for_init
from dapt.training.ner_trainer import (
    KeepBest,
    build_ner_trainer,
    build_token_classifier,
    encode_windows,
)

log = logging.getLogger("finetune-ner")


@dataclass
class Paths:
    ner: str = path_flag("data/tokenized/ner.parquet", "NER windows")
    dev: str = path_flag("data/split/dev.jsonl", "dev documents")
    pretrained: str = path_flag("models/pretrained", "domain-pretrained model")
    tokenizer: str = path_flag("models/pretrained", "tokenizer folder (the copy of "
                               "models/tokenizer that pretrain saved with its model)")
    out: str = path_flag("models/ner", "NER model folder", output=True)
    metrics: str = path_flag("metrics/finetune.json", "dev metrics", output=True)
    live_dir: str = path_flag("dvclive/finetune", "dvclive folder", output=True)
    checkpoints: str | None = path_flag(None, "resume-state root (default: "
                                              "$DAPT_CHECKPOINT_DIR or ~/.cache/dapt/checkpoints)")
    speed: str | None = path_flag(None, "optional JSON: tokens/s (dev evaluation included) "
                                        "and peak GPU memory (wall clock, so not a DVC metric)")


def model_source(params: Params, pretrained: str) -> str:
    """The checkpoint fine-tuning starts from, by ``finetune.init``."""
    return pretrained if params["finetune"]["init"] == "pretrained" else params["base_model"]


def run(params: Params, paths: Paths) -> dict | None:
    """Fine-tune, keep the best dev epoch; returns the metrics (None on non-main processes)."""
    params = as_params(params)
    cfg = params["finetune"]
    precision = run_precision(params["precision"])  # fails before any work if impossible
    # The params this stage reads: they fingerprint its resume state and label its curves.
    stage_params = {"seed": params["seed"], "base_model": params["base_model"],
                    "precision": precision, "scratch": params["scratch"].to_dict(),
                    "max_len": params["tokenize"]["max_len"], "finetune": cfg.to_dict()}

    windows = read_ner_windows(paths.ner, TRAIN)
    labels = label_list(tag_types([w["tags"] for w in windows]))
    train_rows = encode_windows(windows, {label: i for i, label in enumerate(labels)})
    dev_docs = read_jsonl(paths.dev)
    tokenizer = load_tokenizer(paths.tokenizer)
    source = model_source(params, paths.pretrained)
    log.info("%d train windows, %d labels, %d dev documents; init %s (%s)",
             len(train_rows), len(labels), len(dev_docs), cfg["init"], source)

    seed_for_init(params["seed"])
    model = build_token_classifier(source, labels, params["scratch"], tokenizer, cfg["head"],
                                   cfg["lstm_hidden_size"], cfg["dropout"])
    best = KeepBest(cfg["patience"])
    trainer = build_ner_trainer(params, model, tokenizer, train_rows, dev_docs, paths.out,
                                callbacks=[best, LiveCallback(paths.live_dir, stage_params)])
    run_state = ResumableRun(trainer, "finetune-ner", stage_params,
                             [Path(paths.ner), Path(paths.dev), Path(paths.tokenizer),
                              Path(source)], paths.checkpoints, required=(KeepBest.FILE,))
    start = speed_start()
    run_state.train()
    if not trainer.is_world_process_zero():
        return None
    epochs_run = round(trainer.state.epoch or 0)
    report_speed(start, epochs_run * sum(len(r["input_ids"]) for r in train_rows), paths.speed)

    model.load_state_dict(best.weights)
    save_model(model, tokenizer, paths.out)
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    dev = {k.removeprefix("dev_"): v for k, v in best.metrics.items()}
    metrics = {
        "dev": {**dev, "best_epoch": best.epoch},
        "train": {"loss": losses[-1] if losses else None, "steps": trainer.state.global_step,
                  "windows": len(train_rows), "epochs": cfg["epochs"], "labels": len(labels),
                  "stopped_early": best.stopped_early},
        "numerics": describe(params["threads"]),
    }
    pretrained_meta = read_card_meta(paths.pretrained) if cfg["init"] == "pretrained" else {}
    inputs = digest([Path(paths.ner), Path(paths.dev)])
    write_card(paths.out, ner_card(params, labels, pretrained_meta, inputs, metrics["dev"],
                                     metrics["numerics"]))
    write_json(paths.metrics, metrics)
    run_state.finish()  # checkpoints only serve an interrupted run
    log.info("best epoch %d: dev F1 %.4f (P %.4f, R %.4f); saved %s", best.epoch, dev["f1"],
             dev["precision"], dev["recall"], paths.out)
    return metrics


def main(argv: list[str] | None = None) -> None:
    stage_main(__doc__, Paths, run, argv, before_run=claim_gpu)


if __name__ == "__main__":
    main()
