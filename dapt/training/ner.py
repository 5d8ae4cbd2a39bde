"""Token-classification training: examples from NER windows, the trainer whose evaluation
tags whole dev documents, and the callback that keeps the best epoch's weights.

Evaluation predicts every dev document with overlapping windows merged in document
offsets (``dapt.ner.inference.NerPredictor``) and scores strict spans
(``dapt.ner.scoring.score_spans``); the weights of the best epoch (earliest on ties) are
kept in memory.
"""

from __future__ import annotations

import logging
from typing import Any

from transformers import TrainerCallback

from dapt.data.contracts import IGNORE_LABEL
from dapt.data.documents import Document
from dapt.ner.inference import NerPredictor
from dapt.ner.scoring import doc_spans, score_spans
from dapt.training.trainer import SeededTrainer

log = logging.getLogger("finetune-ner")

DEV_KEYS = ("f1", "precision", "recall", "macro_f1", "predicted", "support")


def encode_windows(windows: list[dict], label2id: dict[str, int]) -> list[dict]:
    """Trainer examples from NER windows: specials (null tag) get the ignored label."""
    return [{"input_ids": w["input_ids"],
             "labels": [IGNORE_LABEL if t is None else label2id[t] for t in w["tags"]]}
            for w in windows]


def dev_scores(model, tokenizer, docs: list[Document], max_len: int, batch_size: int) -> dict:
    """Strict span P/R/F1 of the model on whole documents, in document offsets."""
    predicted = NerPredictor(model, tokenizer, max_len, batch_size).predict(docs)
    return score_spans(doc_spans(docs), doc_spans(docs, predicted))


class NerTrainer(SeededTrainer):
    """Trainer whose evaluation tags the dev documents and scores spans (prefix ``dev``)."""

    metric_prefix = "dev"

    def __init__(self, *args: Any, max_len: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.max_len = max_len

    def score(self, docs: list[Document]) -> dict[str, Any]:
        scores = dev_scores(self.model, self.processing_class, docs, self.max_len,
                            self.args.per_device_eval_batch_size)
        return {k: scores[k] for k in DEV_KEYS}


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
