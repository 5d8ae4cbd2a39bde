"""NER (token-classification) training: the model builder (any head), examples from NER
windows, the trainer whose evaluation tags whole dev documents (``build_ner_trainer``), and
the callback that keeps the best epoch's weights (and stops early). The NER model itself
(heads, inference, scoring) lives in ``dapt.ner``.

Evaluation predicts every dev document with overlapping windows merged in document
offsets (``dapt.ner.inference.NerPredictor``) and scores strict spans
(``dapt.ner.scoring.score_spans``); the weights of the best epoch (earliest on ties) are
kept in memory and saved with every checkpoint, so a resumed run knows them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from safetensors import safe_open
from safetensors.torch import save_file
from transformers import (
    AutoModelForTokenClassification,
    BertForTokenClassification,
    DataCollatorForTokenClassification,
    PreTrainedModel,
    TrainerCallback,
)

from dapt.data.contracts import IGNORE_LABEL
from dapt.data.documents import Document
from dapt.data.tokenizer_io import checkpoint_config
from dapt.ner.heads import BertCrfForTokenClassification
from dapt.ner.inference import NerPredictor
from dapt.ner.scoring import doc_spans, score_spans
from dapt.params import SCRATCH
from dapt.training.arguments import pad_multiple, run_precision, token_loss, training_arguments
from dapt.training.checkpoints import saved_checkpoint
from dapt.training.models import config_summary, fit_vocab, scratch_config
from dapt.training.trainer import SeededTrainer

log = logging.getLogger("finetune-ner")

DEV_KEYS = ("f1", "precision", "recall", "macro_f1", "predicted", "support")


def build_token_classifier(
    source: str | Path, labels: list[str], scratch: Mapping[str, Any], tokenizer,
    head: str = "softmax", lstm_hidden_size: int = 0, dropout: float | None = None,
) -> PreTrainedModel:
    """Token classifier from a checkpoint folder/hub id, or fresh from the scratch params.

    ``head``: ``softmax`` (``AutoModelForTokenClassification``), ``crf`` or ``bilstm_crf``
    (``dapt.ner.heads.BertCrfForTokenClassification``, BERT encoders only). ``dropout``
    (None: the checkpoint's or the scratch params') sets ``hidden_dropout_prob``: the
    dropout on the encoder's hidden states and on the head's inputs.
    """
    id2label = dict(enumerate(labels))
    label2id = {label: i for i, label in id2label.items()}
    extra: dict[str, Any] = dict(num_labels=len(labels), id2label=id2label, label2id=label2id)
    if head != "softmax":
        extra.update(ner_head=head, lstm_hidden_size=int(lstm_hidden_size))
    if str(source) == SCRATCH:
        config = scratch_config(scratch, tokenizer, **extra)
        if dropout is not None:
            config.hidden_dropout_prob = dropout
        log.info("new BERT token classifier (%s head) from scratch: %s", head,
                 config_summary(config))
        model_type = BertForTokenClassification if head == "softmax" else \
            BertCrfForTokenClassification
        return model_type(config)
    log.info("loading token classifier from %s (%s head, %d labels)", source, head, len(labels))
    config = checkpoint_config(source)
    if dropout is not None:
        extra["hidden_dropout_prob"] = dropout
    for key, value in extra.items():
        setattr(config, key, value)
    if head == "softmax":
        model = AutoModelForTokenClassification.from_pretrained(str(source), config=config)
    else:
        if config.model_type != "bert":
            raise ValueError(f"finetune.head={head} needs a BERT encoder; {source} is "
                             f"{config.model_type!r}")
        model = BertCrfForTokenClassification.from_pretrained(str(source), config=config)
    return fit_vocab(model, tokenizer)


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
    """Trainer whose evaluation tags the dev documents and scores spans (prefix ``dev``).

    ``head_learning_rate`` (None: the common rate) applies to every parameter outside the
    encoder (classifier, CRF transitions, BiLSTM): fresh layers usually want a larger step
    than the pretrained encoder.
    """

    metric_prefix = "dev"

    def __init__(self, *args: Any, max_len: int, head_learning_rate: float | None = None,
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.max_len = max_len
        self.head_learning_rate = head_learning_rate

    def create_optimizer(self, model=None):
        if self.head_learning_rate is None or self.optimizer is not None:
            return super().create_optimizer(model)
        model = self.model if model is None else model
        decay = set(self.get_decay_parameter_names(model))
        encoder = model.base_model_prefix + "."
        groups: dict[tuple[bool, bool], list] = {}
        for name, param in model.named_parameters():
            if param.requires_grad:
                groups.setdefault((name.startswith(encoder), name in decay), []).append(param)
        optimizer_cls, kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
        self.optimizer = optimizer_cls(
            [{"params": params, "weight_decay": self.args.weight_decay if decays else 0.0,
              "lr": self.args.learning_rate if in_encoder else self.head_learning_rate}
             for (in_encoder, decays), params in sorted(groups.items(), key=lambda kv: kv[0])],
            **kwargs)
        return self.optimizer

    def score(self, docs: list[Document]) -> dict[str, Any]:
        scores = dev_scores(self.model, self.processing_class, docs, self.max_len,
                            self.args.per_device_eval_batch_size)
        return {k: scores[k] for k in DEV_KEYS}


def build_ner_trainer(params: Mapping[str, Any], model, tokenizer, train_rows: list[dict],
                      dev_docs: list[Document], output_dir: str | Path,
                      callbacks: list | None = None, **overrides: Any) -> NerTrainer:
    """The finetune-ner stage's Trainer: a dev evaluation (whole documents, strict spans) and
    a checkpoint every epoch, the ``finetune`` params' optimisation, the head's loss (a CRF
    head computes its own sequence log-likelihood); ``overrides`` go to the
    ``TrainingArguments``."""
    cfg = params["finetune"]
    settings: dict[str, Any] = dict(
        eval_strategy="epoch", save_strategy="epoch",
        activation_checkpointing=cfg["gradient_checkpointing"],
        per_device_eval_batch_size=2 * cfg["batch_size"])
    args = training_arguments(output_dir, cfg, params["seed"], run_precision(params["precision"]),
                              **{**settings, **overrides})
    collator = DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=pad_multiple())
    return NerTrainer(model=model, args=args, data_collator=collator,
                      train_dataset=train_rows, eval_dataset=dev_docs,
                      processing_class=tokenizer, max_len=params["tokenize"]["max_len"],
                      head_learning_rate=cfg["head_learning_rate"],
                      compute_loss_func=token_loss if cfg["head"] == "softmax" else None,
                      callbacks=callbacks or [])


class KeepBest(TrainerCallback):
    """Keeps a copy of the weights with the best dev F1 (the earliest epoch on ties) and,
    with ``patience``, stops training after that many epochs without a better dev F1.

    Every checkpoint gets the best epoch so far (``FILE``: weights, with dev scores and epoch
    as metadata); a run resumed from a checkpoint starts from it, so best epoch and patience
    count on as if never interrupted. No checkpoint is saved at an early stop (a resumed run
    would train another epoch before seeing the stop): a run killed then redoes that epoch.
    """

    FILE = "keep_best.safetensors"

    def __init__(self, patience: int | None = None) -> None:
        self.metrics: dict | None = None
        self.epoch = 0
        self.weights: dict | None = None
        self.patience = patience
        self.stopped_early = False

    def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):
        if self.metrics is None or metrics["dev_f1"] > self.metrics["dev_f1"]:
            self.metrics, self.epoch = dict(metrics), round(state.epoch or 0)
            self.weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
            log.info("epoch %d: dev F1 %.4f (best so far)", self.epoch, metrics["dev_f1"])
        else:
            log.info("epoch %d: dev F1 %.4f (best %.4f at epoch %d)", round(state.epoch or 0),
                     metrics["dev_f1"], self.metrics["dev_f1"], self.epoch)
            if self.patience is not None and round(state.epoch or 0) - self.epoch >= self.patience:
                log.info("no better dev F1 for %d epochs: stopping", self.patience)
                self.stopped_early = True
                control.should_training_stop = True
                control.should_save = False

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero and self.weights is not None:
            path = saved_checkpoint(args, state) / self.FILE
            tmp = path.with_suffix(".tmp")  # complete only once renamed
            save_file({k: v.contiguous() for k, v in self.weights.items()}, tmp,
                      metadata={"epoch": str(self.epoch), "metrics": json.dumps(self.metrics)})
            tmp.replace(path)

    def on_train_begin(self, args, state, control, **kwargs):
        if state.global_step > 0:  # resumed from the checkpoint of this step
            with safe_open(saved_checkpoint(args, state) / self.FILE, "pt") as saved:
                meta = saved.metadata()
                self.weights = {k: saved.get_tensor(k) for k in saved.keys()}
            self.epoch, self.metrics = int(meta["epoch"]), json.loads(meta["metrics"])
