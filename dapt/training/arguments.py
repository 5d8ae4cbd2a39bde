"""Trainer settings shared by pretrain and finetune-ner: device, precision, arguments, loss.

Device: CUDA when present, else CPU. Precision (``precision`` param): ``auto`` picks bf16
autocast on a GPU that supports it, fp16 with loss scaling on older GPUs (V100, T4), fp32 on
CPU; ``fp32``/``bf16``/``fp16`` force one (bf16 autocast also runs on CPU; fp16 needs CUDA).
``torchrun --nproc_per_node=N`` works unchanged (DDP; gloo on CPU, NCCL on CUDA).
Speed (tokens/s, peak GPU memory) is logged and optionally written to its own file, never
to the metrics: those must be identical on rerun.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from transformers import TrainingArguments

from dapt.data.contracts import write_json

log = logging.getLogger("speed")


def use_cuda() -> bool:
    return torch.cuda.is_available()


def use_bf16() -> bool:
    return use_cuda() and torch.cuda.is_bf16_supported()


def choose_precision(requested: str, cuda: bool, cuda_bf16: bool) -> str:
    """The precision a run uses (fp32, bf16 or fp16) for a ``precision`` param value
    (``dapt.params_schema.Precision``); raises when this machine cannot run the request."""
    if requested == "auto":
        return ("bf16" if cuda_bf16 else "fp16") if cuda else "fp32"
    if requested == "fp16" and not cuda:
        raise ValueError("precision=fp16 needs a CUDA GPU (loss scaling); on CPU use bf16 "
                         "(autocast) or fp32")
    if requested == "bf16" and cuda and not cuda_bf16:
        raise ValueError("precision=bf16: this GPU has no bf16 support; use fp16 or auto")
    return requested


def run_precision(requested: str) -> str:
    """``choose_precision`` for this machine."""
    return choose_precision(requested, use_cuda(), use_bf16())


def pad_multiple() -> int | None:
    """Pad batches to a multiple of 8 on GPUs (tensor cores); not worth it on CPU."""
    return 8 if use_cuda() else None


def speed_start() -> float:
    """Start time of a timed run; resets the GPU peak-memory counter."""
    if use_cuda():
        torch.cuda.reset_peak_memory_stats()
    return time.perf_counter()


def report_speed(start: float, tokens: int, out: str | Path | None = None) -> dict[str, Any]:
    """Seconds, tokens/s and peak GPU memory (GiB of ``max_memory_allocated``; None on CPU)
    since ``speed_start()``: logged, and written to ``out`` when given."""
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**30 if use_cuda() else None
    speed = {"seconds": round(seconds, 2), "tokens": tokens,
             "tokens_per_second": round(tokens / seconds, 1) if seconds > 0 else None,
             "peak_gpu_memory_gib": round(peak, 2) if peak is not None else None}
    log.info("%d tokens in %.1f s: %s tokens/s, peak GPU memory %s GiB", tokens, seconds,
             speed["tokens_per_second"], speed["peak_gpu_memory_gib"])
    if out:
        write_json(out, speed)
    return speed


def training_arguments(output_dir: str | Path, cfg: Mapping[str, Any], seed: int,
                       precision: str = "fp32", **overrides: Any) -> TrainingArguments:
    """TrainingArguments with the usual BERT optimiser settings from a stage's params.

    AdamW (weight decay skips biases and LayerNorm), linear decay after a warmup share
    ``warmup_ratio`` of all steps, gradient clipping, accumulation, and length-grouped
    batches (``train_sampling_strategy="group_by_length"``, made resumable by
    ``SeededTrainer``) so little compute goes to padding.
    Nothing is reported to external trackers; dvclive runs as an explicit callback.
    """
    warmup = float(cfg["warmup_ratio"])
    cuda = use_cuda()
    kwargs: dict[str, Any] = dict(
        output_dir=str(output_dir),
        num_train_epochs=cfg["epochs"],
        per_device_train_batch_size=cfg["batch_size"],
        per_device_eval_batch_size=cfg["batch_size"],
        gradient_accumulation_steps=cfg["grad_accum"],
        learning_rate=cfg["learning_rate"],
        warmup_steps=warmup,  # a float below 1 is a share of the total steps
        lr_scheduler_type="linear",
        weight_decay=cfg["weight_decay"],
        adam_epsilon=cfg["adam_epsilon"],
        max_grad_norm=cfg["max_grad_norm"],
        train_sampling_strategy="group_by_length",
        logging_steps=cfg["logging_steps"],
        report_to="none",
        seed=seed,
        use_cpu=not cuda,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        dataloader_pin_memory=cuda,
        ddp_find_unused_parameters=False,
        save_strategy="no",
    )
    kwargs.update(overrides)
    return TrainingArguments(**kwargs)


def token_loss(outputs, labels: torch.Tensor, num_items_in_batch=None) -> torch.Tensor:
    """Cross-entropy summed over labelled tokens, divided by the labelled tokens of the step.

    Passed to ``Trainer(compute_loss_func=...)``. ``num_items_in_batch`` counts the labelled
    tokens of all micro-batches of an optimiser step on all processes, so the loss is the
    exact token-weighted mean under gradient accumulation and DDP. (BERT's own loss is a
    per-micro-batch mean while its ``forward(**kwargs)`` makes transformers 5.x assume it
    honours ``num_items_in_batch``: the gradient then comes out multiplied by the number of
    processes under DDP and not divided under accumulation.) Logits computed at the
    labelled positions only (``[n, vocab]``, row-major, see ``BertForMaskedLMAtPositions``)
    are matched with the labels in the same order.
    """
    logits = outputs["logits"]
    if logits.dim() == 2 and labels.dim() == 2:  # logits at the labelled positions only
        labels = labels[labels != -100]
    total = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1).to(logits.device),
        ignore_index=-100, reduction="sum")
    if num_items_in_batch is None:
        num_items_in_batch = labels.ne(-100).sum()
    # A step without any predicted token (possible with dynamic masks) adds a zero loss.
    return total / max(num_items_in_batch, 1)




def pair_task_loss(outputs, labels: torch.Tensor, num_items_in_batch=None, *,
                   weight: float) -> torch.Tensor:
    """``token_loss`` + ``weight`` x the pair loss (``pretrain.pair_weight``).

    The model's ``pair_loss`` is the mean over the micro-batch's labelled pairs; it is
    weighted by the micro-batch's share of the step's labelled tokens (the share
    ``token_loss`` gives it), so over a step's micro-batches and processes the pair term is a
    weighted mean that sums to one, like the MLM term; with one micro-batch on one process it
    is the plain mean.
    """
    loss = token_loss(outputs, labels, num_items_in_batch)
    pair = outputs.get("pair_loss") if hasattr(outputs, "get") else None
    if pair is None or weight == 0:
        return loss
    share = 1.0 if num_items_in_batch is None else (
        labels.ne(-100).sum() / max(num_items_in_batch, 1))
    return loss + weight * share * pair
