"""Masked-LM training on stored masks: train rows, the trainer and its evaluation.

Evaluation runs on the stored eval masks: MLM loss (mean over predicted tokens),
perplexity, accuracy over predicted tokens and over those inside entity units
(``in_entity``). Under DDP every process evaluates the whole (small) eval set itself, so all
agree without communication.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from transformers import DataCollatorForTokenClassification, Trainer, TrainingArguments

from dapt.data.contracts import DYNAMIC_UNITS, IGNORE_LABEL, read_masked
from dapt.masking.strategies import Vocab
from dapt.training.arguments import (
    pad_multiple,
    pair_task_loss,
    run_precision,
    token_loss,
    training_arguments,
)
from dapt.training.dynamic import DynamicMasks
from dapt.training.models import BertForMaskedLMAtPositions, BertForPreTrainingAtPositions
from dapt.training.packing import PackedRows, segment_tensors
from dapt.training.trainer import SeededTrainer


def unmasked_dropped(rows: list[dict]) -> tuple[list[dict], int]:
    """The rows with at least one predicted token, and how many were dropped.

    A copy in which nothing was masked adds no MLM loss, only compute; with a pair task its
    pair is dropped with it (the pair draw does not depend on the masks, so the pairs kept
    are an unbiased sample).
    """
    kept = [r for r in rows if any(t != IGNORE_LABEL for t in r["labels"])]
    return kept, len(rows) - len(kept)


def training_rows(path: Path | str) -> tuple[list[dict], int]:
    """Train rows of a stored masked file with at least one predicted token, and how many
    copies were skipped (``unmasked_dropped``)."""
    return unmasked_dropped(read_masked(path))


def stored_mask_rate(rows: list[dict], special_ids: set[int]) -> float:
    """Predicted share of the maskable (non-special) tokens of stored masked rows; a
    masked position counts as maskable whatever replaced it."""
    masked = maskable = 0
    for r in rows:
        for t, label in zip(r["input_ids"], r["labels"]):
            hit = label != IGNORE_LABEL
            masked += hit
            maskable += hit or t not in special_ids
    return masked / maskable if maskable else 0.0


@dataclass
class TrainExamples:
    """What pretrain trains on: the stored copies with a mask (or the dynamic masks), the
    copies skipped for having none, the file they come from, and the stored copies' mask
    rate (skipped copies included; None for dynamic masks, whose rate depends on the
    epochs)."""

    rows: list[dict] | DynamicMasks
    skipped: int
    file: Path
    stored_rate: float | None

    def mask_rate(self, epochs: int) -> float:
        """The masked share of the maskable tokens of every sequence copy the run drew."""
        if isinstance(self.rows, DynamicMasks):
            return self.rows.mask_rate(epochs)
        return self.stored_rate


def train_examples(masked: Path, masking: dict, tokenizer) -> TrainExamples:
    """The train examples of a mask-annotate output folder (one read of its train file)."""
    if masking.get("mask_mode", "static") == "dynamic":
        path = masked / DYNAMIC_UNITS
        return TrainExamples(DynamicMasks(path, masking, Vocab.from_tokenizer(tokenizer)), 0,
                             path, None)
    path = masked / "train.parquet"
    stored = read_masked(path)
    rate = stored_mask_rate(stored, set(tokenizer.all_special_ids))
    rows, skipped = unmasked_dropped(stored)
    return TrainExamples(rows, skipped, path, rate)


class MaskedLMTrainer(SeededTrainer):
    """Trainer whose evaluation scores the stored eval masks, entity tokens apart."""

    def score(self, rows: list[dict]) -> dict[str, Any]:
        return mlm_scores(self.model, rows, self.data_collator,
                          self.args.per_device_eval_batch_size, self.args.device)


@torch.no_grad()
def mlm_scores(model, rows: list[dict], collate, batch_size: int, device) -> dict[str, Any]:
    """Loss, perplexity and accuracy over the predicted tokens (overall and in entities)."""
    model.eval()
    order = sorted(range(len(rows)), key=lambda i: (len(rows[i]["input_ids"]), i))
    loss_sum, n, hits, n_ent, hits_ent = 0.0, 0, 0, 0, 0
    pair_loss, n_pairs, pair_hits = 0.0, 0, 0
    fields = [k for k in ("input_ids", "labels", "token_type_ids", "pair_label") if k in rows[0]]
    for b in range(0, len(order), batch_size):
        chunk = [rows[i] for i in order[b : b + batch_size]]
        batch = collate([{k: r[k] for k in fields} for r in chunk])
        width = batch["input_ids"].shape[1]
        entity = torch.tensor([r["in_entity"] + [False] * (width - len(r["in_entity"]))
                               for r in chunk], dtype=torch.bool)
        inputs = {k: batch[k].to(device) for k in ("input_ids", "attention_mask",
                                                   "token_type_ids") if k in batch}
        out = model(**inputs)
        logits = out.logits
        if "pair_label" in batch:
            gold_pair = batch["pair_label"].to(device)
            labelled = gold_pair != IGNORE_LABEL
            pair_logits = out.pair_logits[labelled].float()
            pair_loss += F.cross_entropy(pair_logits, gold_pair[labelled], reduction="sum").item()
            n_pairs += int(labelled.sum())
            pair_hits += int((pair_logits.argmax(-1) == gold_pair[labelled]).sum())
        labels = batch["labels"].to(device)
        chosen = labels != -100
        logits, gold = logits[chosen].float(), labels[chosen]
        loss_sum += F.cross_entropy(logits, gold, reduction="sum").item()
        correct = (logits.argmax(-1) == gold).cpu()
        in_entity = entity[chosen.cpu()]
        n += int(gold.numel())
        hits += int(correct.sum())
        n_ent += int(in_entity.sum())
        hits_ent += int(correct[in_entity].sum())
    if n == 0:
        raise ValueError("the eval masks predict no token")
    loss = loss_sum / n
    return {
        "loss": loss,
        "perplexity": math.exp(min(loss, 700.0)),
        "accuracy": hits / n,
        "entity_accuracy": hits_ent / n_ent if n_ent else None,
        "masked_tokens": n,
        "entity_masked_tokens": n_ent,
        "pair_loss": pair_loss / n_pairs if n_pairs else None,
        "pair_accuracy": pair_hits / n_pairs if n_pairs else None,
        "pairs": n_pairs or None,
    }


def final_eval(trainer: Trainer) -> dict[str, Any]:
    """The evaluation logged at the last step (rerun if there is none)."""
    step = trainer.state.global_step
    for entry in reversed(trainer.state.log_history):
        if "eval_loss" in entry and entry.get("step") == step:
            return entry
    return trainer.evaluate()


class PositionsCollator:
    """Pads like the wrapped collator and adds ``mlm_positions`` (labelled tokens), so the
    model computes vocabulary logits there only; packed rows (``segments``,
    ``dapt.training.packing``) also get their ``position_ids`` and ``segment_ids``."""

    def __init__(self, pad: DataCollatorForTokenClassification):
        self.pad = pad

    def __call__(self, features: list[dict]) -> dict:
        pair = [f["pair_label"] for f in features if "pair_label" in f]
        segments = [f["segments"] for f in features if "segments" in f]
        batch = self.pad([{k: v for k, v in f.items() if k not in ("pair_label", "segments")}
                          for f in features])
        batch["mlm_positions"] = batch["labels"] != IGNORE_LABEL
        if pair:
            batch["pair_label"] = torch.tensor(pair, dtype=torch.long)
        if segments:
            batch["position_ids"], batch["segment_ids"] = segment_tensors(
                segments, batch["input_ids"].shape[1])
        return batch


def build_mlm_trainer(params: Mapping[str, Any], model, tokenizer, train_rows: list[dict],
                      eval_rows: list[dict], output_dir: str | Path,
                      callbacks: list | None = None, **overrides: Any) -> MaskedLMTrainer:
    """The pretrain stage's Trainer: evaluation and a checkpoint every ``save_steps``
    (``dapt.training.checkpoints.ResumableRun`` keeps only the newest); with
    ``pretrain.packing`` the train rows are packed into windows of ``tokenize.max_len``
    (``dapt.training.packing``), with ``pretrain.gradient_checkpointing`` each layer's
    activations are recomputed in the backward pass instead of kept."""
    cfg = params["pretrain"]
    settings: dict[str, Any] = dict(
        eval_strategy="steps", eval_steps=cfg["save_steps"],
        save_strategy="steps", save_steps=cfg["save_steps"],
        activation_checkpointing=cfg["gradient_checkpointing"],
    )
    if cfg["packing"]:
        train_rows = PackedRows(train_rows, params["tokenize"]["max_len"])
    args: TrainingArguments = training_arguments(output_dir, cfg, params["seed"],
                                                 run_precision(params["precision"]),
                                                 **{**settings, **overrides})
    collator = DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=pad_multiple())
    loss = token_loss
    if isinstance(model, BertForPreTrainingAtPositions):
        loss = partial(pair_task_loss, weight=float(cfg["pair_weight"]))
    if isinstance(model, (BertForMaskedLMAtPositions, BertForPreTrainingAtPositions)):
        collator = PositionsCollator(collator)
    return MaskedLMTrainer(model=model, args=args, data_collator=collator,
                           train_dataset=train_rows, eval_dataset=eval_rows,
                           processing_class=tokenizer, callbacks=callbacks or [],
                           compute_loss_func=loss)


def check_lengths(lengths: list[int], model) -> None:
    """Raise unless the model has a position for every token of the longest row."""
    longest = max(lengths)
    limit = model.config.max_position_embeddings
    if longest > limit:
        raise ValueError(f"masked sequences reach {longest} tokens, the model takes {limit} "
                         "(raise scratch.max_position_embeddings or lower tokenize.max_len)")
