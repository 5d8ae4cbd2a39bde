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
  models/ner/                  safetensors + tokenizer, ``id2label`` in the config
  metrics/finetune.json        {"dev": {f1, precision, recall, best_epoch, ...}, "train": {...}}
  dvclive/finetune/            curves: train loss/lr, dev f1/precision/recall per epoch

Labels are ``O`` plus ``B-``/``I-`` of every entity type seen in the train windows. After
each epoch the model tags the whole dev documents (``stages.inference.NerPredictor``:
overlapping windows merged in document offsets) and is scored with strict span F1
(``stages.spans.score_spans``); the weights of the best epoch (earliest on ties) are kept
in memory and saved. Determinism and devices: see ``stages.modeling``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
from transformers import DataCollatorForTokenClassification, TrainerCallback

from stages.common import load_params, setup_logging, stage_parser, write_json
from stages.documents import Document, read_jsonl
from stages.inference import NerPredictor
from stages.modeling import (
    LiveCallback,
    SeededTrainer,
    build_token_classifier,
    pad_multiple,
    save_model,
    seed_for_init,
    token_loss,
    training_arguments,
)
from stages.spans import doc_spans, score_spans
from stages.tokenizer_io import load_tokenizer

log = setup_logging("finetune-ner")

INITS = ("pretrained", "base")


def read_windows(path: Path | str, split: str) -> list[dict]:
    """NER windows of one split: input_ids and BIO tags (null for specials)."""
    table = pq.read_table(path, columns=["split", "input_ids", "tags"])
    table = table.filter(pc.equal(table.column("split"), split))
    rows = [{"input_ids": ids, "tags": tags} for ids, tags in
            zip(table.column("input_ids").to_pylist(), table.column("tags").to_pylist())]
    if not rows:
        raise ValueError(f"{path}: no {split} windows")
    return rows


def label_list(windows: list[dict]) -> list[str]:
    """``O`` then B-/I- of each entity type in the windows, types sorted."""
    types = sorted({t.split("-", 1)[1] for w in windows for t in w["tags"] if t and t != "O"})
    return ["O"] + [f"{prefix}-{t}" for t in types for prefix in ("B", "I")]


def encode(windows: list[dict], label2id: dict[str, int]) -> list[dict]:
    """Trainer examples: specials (null tag) get label -100."""
    return [{"input_ids": w["input_ids"],
             "labels": [-100 if t is None else label2id[t] for t in w["tags"]]}
            for w in windows]


def dev_scores(model, tokenizer, docs: list[Document], max_len: int, batch_size: int) -> dict:
    """Strict span P/R/F1 of the model on whole documents, in document offsets."""
    predicted = NerPredictor(model, tokenizer, max_len, batch_size).predict(docs)
    return score_spans(doc_spans(docs), doc_spans(docs, predicted))


class NerTrainer(SeededTrainer):
    """Trainer whose evaluation tags the dev documents and scores spans (prefix ``dev``)."""

    def __init__(self, *args: Any, max_len: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.max_len = max_len

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "dev"):
        docs = eval_dataset if eval_dataset is not None else self.eval_dataset
        with self.accelerator.autocast():
            scores = dev_scores(self.model, self.processing_class, docs, self.max_len,
                                self.args.per_device_eval_batch_size)
        self.model.train()
        metrics = {f"{metric_key_prefix}_{k}": scores[k] for k in
                   ("f1", "precision", "recall", "macro_f1", "predicted", "support")}
        self.log(dict(metrics))  # log() adds "epoch" to the dict it gets
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control,
                                                         metrics)
        return metrics


class KeepBest(TrainerCallback):
    """Keeps a copy of the weights with the best dev F1 (the earliest epoch on ties)."""

    def __init__(self) -> None:
        self.metrics: dict | None = None
        self.epoch = 0
        self.weights: dict | None = None

    def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):
        if self.metrics is None or metrics["dev_f1"] > self.metrics["dev_f1"]:
            self.metrics, self.epoch = dict(metrics), round(state.epoch or 0)
            self.weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
            log.info("epoch %d: dev F1 %.4f (best so far)", self.epoch, metrics["dev_f1"])
        else:
            log.info("epoch %d: dev F1 %.4f (best %.4f at epoch %d)", round(state.epoch or 0),
                     metrics["dev_f1"], self.metrics["dev_f1"], self.epoch)


def model_source(params: dict, pretrained: str) -> str:
    init = params["finetune"]["init"]
    if init not in INITS:
        raise ValueError(f"finetune.init must be one of {INITS}, got {init!r}")
    return pretrained if init == "pretrained" else params["base_model"]


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--ner", default="data/tokenized/ner.parquet")
    parser.add_argument("--dev", default="data/split/dev.jsonl")
    parser.add_argument("--pretrained", default="models/pretrained")
    parser.add_argument("--tokenizer", default="models/pretrained",
                        help="tokenizer folder (default: the copy of models/tokenizer that "
                             "pretrain saved with its model, for any finetune.init)")
    parser.add_argument("--out", default="models/ner")
    parser.add_argument("--metrics", default="metrics/finetune.json")
    parser.add_argument("--live-dir", default="dvclive/finetune")
    parser.add_argument("--work-dir", default=None,
                        help="Trainer output_dir (nothing is saved there; default: --out)")
    args = parser.parse_args()
    params = load_params(args.params)
    cfg = params["finetune"]
    max_len = params["tokenize"]["max_len"]
    own = {"seed": params["seed"], "base_model": params["base_model"],
           "scratch": params["scratch"], "max_len": max_len, "finetune": cfg}

    windows = read_windows(args.ner, "train")
    labels = label_list(windows)
    train_rows = encode(windows, {label: i for i, label in enumerate(labels)})
    dev_docs = read_jsonl(args.dev)
    tokenizer = load_tokenizer(args.tokenizer)
    source = model_source(params, args.pretrained)
    log.info("%d train windows, %d labels, %d dev documents; init %s (%s)",
             len(train_rows), len(labels), len(dev_docs), cfg["init"], source)

    seed_for_init(params["seed"])
    model = build_token_classifier(source, labels, params["scratch"], tokenizer)
    best = KeepBest()
    targs = training_arguments(args.work_dir or args.out, cfg, params["seed"],
                               eval_strategy="epoch",
                               per_device_eval_batch_size=2 * cfg["batch_size"])
    collator = DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=pad_multiple())
    trainer = NerTrainer(model=model, args=targs, data_collator=collator,
                         train_dataset=train_rows, eval_dataset=dev_docs,
                         processing_class=tokenizer, max_len=max_len,
                         compute_loss_func=token_loss,
                         callbacks=[best, LiveCallback(args.live_dir, own)])
    trainer.train()
    if not trainer.is_world_process_zero():
        return

    model.load_state_dict(best.weights)
    save_model(model, tokenizer, args.out)
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    dev = {k.removeprefix("dev_"): v for k, v in best.metrics.items()}
    metrics = {
        "dev": {**dev, "best_epoch": best.epoch},
        "train": {"loss": losses[-1] if losses else None, "steps": trainer.state.global_step,
                  "windows": len(train_rows), "epochs": cfg["epochs"], "labels": len(labels)},
    }
    write_json(args.metrics, metrics)
    log.info("best epoch %d: dev F1 %.4f (P %.4f, R %.4f); saved %s", best.epoch, dev["f1"],
             dev["precision"], dev["recall"], args.out)


if __name__ == "__main__":
    main()
