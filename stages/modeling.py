"""Models and Trainer settings shared by the pretrain and finetune-ner stages.

Models
  ``base_model: scratch`` builds a ``BertConfig`` from the ``scratch`` params with the
  vocabulary of ``models/tokenizer``; anything else is a hub id or local folder loaded with
  ``from_pretrained`` (the same code path for both).

Device and precision
  CUDA with bf16 autocast when the GPU supports it (fp32 otherwise); else CPU in fp32.
  ``torchrun --nproc_per_node=N`` works unchanged (DDP; gloo on CPU, NCCL on CUDA).

Determinism
  ``seed_for_init`` seeds python/numpy/torch *before* a model is built (``Trainer`` seeds
  only once the model it is given exists, too late for freshly initialised heads); the
  Trainer reseeds with the same seed, and its data order comes from that seed too. Chosen
  for CPU: seeds plus a fixed thread count, *not* ``torch.use_deterministic_algorithms``
  (``enable_full_determinism``): torch's CPU kernels are already deterministic for a given
  number of threads, while the deterministic mode made pretraining about 4x slower here for
  the same losses. The thread count is torch's default (one per core, or
  ``OMP_NUM_THREADS``; torchrun sets 1 per process), so a rerun on the same machine with
  the same params and inputs gives identical weights and metrics (tests check it); pin
  ``OMP_NUM_THREADS`` to compare runs across machines. On CUDA only the seeds are set
  (GPU kernels such as atomic adds are not bitwise reproducible; runs match closely).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import (
    AutoModelForMaskedLM,
    AutoModelForTokenClassification,
    BertConfig,
    BertForMaskedLM,
    BertForTokenClassification,
    PreTrainedModel,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices

log = logging.getLogger("modeling")

SCRATCH = "scratch"
# Trainer log keys that are wall-clock measurements or totals, kept out of the curves.
UNPLOTTED = ("runtime", "per_second", "total_flos", "train_loss", "num_input_tokens_seen", "epoch")


def use_cuda() -> bool:
    return torch.cuda.is_available()


def use_bf16() -> bool:
    return use_cuda() and torch.cuda.is_bf16_supported()


def seed_for_init(seed: int) -> None:
    """Seed python, numpy and torch before building a model (see the module docstring)."""
    set_seed(seed)


def scratch_config(scratch: Mapping[str, Any], tokenizer, **extra: Any) -> BertConfig:
    """``BertConfig`` sized by the ``scratch`` params, vocabulary from ``tokenizer``."""
    return BertConfig(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        hidden_size=scratch["hidden_size"],
        num_hidden_layers=scratch["num_hidden_layers"],
        num_attention_heads=scratch["num_attention_heads"],
        intermediate_size=scratch["intermediate_size"],
        max_position_embeddings=scratch.get("max_position_embeddings", 512),
        hidden_dropout_prob=scratch.get("dropout", 0.1),
        attention_probs_dropout_prob=scratch.get("dropout", 0.1),
        **extra,
    )


def fit_vocab(model: PreTrainedModel, tokenizer) -> PreTrainedModel:
    """Grow the embeddings when the tokenizer has ids the checkpoint lacks (rows seeded)."""
    size = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) > size:
        log.warning("tokenizer has %d entries, model %d: resizing embeddings", len(tokenizer), size)
        model.resize_token_embeddings(len(tokenizer))
    return model


def build_mlm_model(base_model: str, scratch: Mapping[str, Any], tokenizer) -> PreTrainedModel:
    """A masked-LM model: fresh from the scratch params, or ``from_pretrained(base_model)``."""
    if base_model == SCRATCH:
        config = scratch_config(scratch, tokenizer)
        log.info("new BERT from scratch: %s", describe(config))
        return BertForMaskedLM(config)
    log.info("loading masked-LM model %s", base_model)
    return fit_vocab(AutoModelForMaskedLM.from_pretrained(base_model), tokenizer)


def build_token_classifier(
    source: str | Path, labels: list[str], scratch: Mapping[str, Any], tokenizer
) -> PreTrainedModel:
    """Token classifier from a checkpoint folder/hub id, or fresh from the scratch params."""
    id2label = dict(enumerate(labels))
    label2id = {label: i for i, label in id2label.items()}
    if str(source) == SCRATCH:
        config = scratch_config(scratch, tokenizer, num_labels=len(labels),
                                id2label=id2label, label2id=label2id)
        log.info("new BERT token classifier from scratch: %s", describe(config))
        return BertForTokenClassification(config)
    log.info("loading token classifier from %s (%d labels)", source, len(labels))
    model = AutoModelForTokenClassification.from_pretrained(
        str(source), num_labels=len(labels), id2label=id2label, label2id=label2id
    )
    return fit_vocab(model, tokenizer)


def describe(config) -> str:
    return (f"vocab {config.vocab_size}, hidden {config.hidden_size}, "
            f"{config.num_hidden_layers} layers, {config.num_attention_heads} heads, "
            f"max positions {config.max_position_embeddings}")


def training_arguments(output_dir: str | Path, cfg: Mapping[str, Any], seed: int,
                       **overrides: Any) -> TrainingArguments:
    """TrainingArguments with the usual BERT optimiser settings from a stage's params.

    AdamW (weight decay skips biases and LayerNorm), linear decay after a warmup share
    ``warmup_ratio`` of all steps, gradient clipping, accumulation, and length-grouped
    batches (``train_sampling_strategy="group_by_length"``, made resumable by
    ``SeededTrainer``) so little compute goes to padding.
    Nothing is reported to external trackers; dvclive runs as an explicit callback.
    """
    warmup = float(cfg["warmup_ratio"])
    if not 0 <= warmup < 1:
        raise ValueError(f"warmup_ratio must be in [0, 1), got {warmup}")
    cuda = use_cuda()
    kwargs: dict[str, Any] = dict(
        output_dir=str(output_dir),
        num_train_epochs=cfg["epochs"],
        per_device_train_batch_size=cfg["batch_size"],
        per_device_eval_batch_size=cfg["batch_size"],
        gradient_accumulation_steps=cfg.get("grad_accum", 1),
        learning_rate=cfg["learning_rate"],
        warmup_steps=warmup,  # a float below 1 is a share of the total steps
        lr_scheduler_type="linear",
        weight_decay=cfg["weight_decay"],
        adam_epsilon=cfg.get("adam_epsilon", 1e-6),
        max_grad_norm=cfg.get("max_grad_norm", 1.0),
        train_sampling_strategy="group_by_length",
        logging_steps=cfg.get("logging_steps", 10),
        report_to="none",
        seed=seed,
        use_cpu=not cuda,
        bf16=use_bf16(),
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
    processes under DDP and not divided under accumulation.)
    """
    logits = outputs["logits"]
    total = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1).to(logits.device),
        ignore_index=-100, reduction="sum")
    if num_items_in_batch is None:
        num_items_in_batch = labels.ne(-100).sum().clamp(min=1)
    return total / num_items_in_batch


class SeededLengthGroupedSampler(LengthGroupedSampler):
    """Length-grouped order drawn from ``(seed, epoch)`` alone.

    transformers' sampler draws from the global RNG when an epoch starts, which a run
    resumed mid-epoch cannot reproduce (it restores the RNG state only later); here the
    order of epoch ``e`` is a pure function of ``seed + e``, identical on every process.
    """

    def __init__(self, batch_size: int, lengths: list[int], seed: int):
        super().__init__(batch_size, lengths=lengths)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self):
        # SeedSequence, not seed + epoch: seeds 1 and 2 must not share epoch orders.
        state = np.random.SeedSequence([self.seed, self.epoch]).generate_state(1)[0]
        generator = torch.Generator().manual_seed(int(state))
        return iter(get_length_grouped_indices(self.lengths, self.batch_size,
                                               generator=generator))


class EpochSampler(TrainerCallback):
    """Tells the trainer's sampler which epoch starts (also the first one after a resume)."""

    def __init__(self, trainer: SeededTrainer):
        self.trainer = trainer

    def on_epoch_begin(self, args, state, control, **kwargs):
        sampler = getattr(self.trainer, "epoch_sampler", None)
        if sampler is not None:
            sampler.set_epoch(int(state.epoch or 0))


class SeededTrainer(Trainer):
    """Trainer with length-grouped batches whose order depends only on (seed, epoch)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.epoch_sampler: SeededLengthGroupedSampler | None = None
        self.add_callback(EpochSampler(self))

    def _get_train_sampler(self, train_dataset=None):
        rows = train_dataset if train_dataset is not None else self.train_dataset
        lengths = [len(row["input_ids"]) for row in rows]
        self.epoch_sampler = SeededLengthGroupedSampler(
            self.args.train_batch_size * self.args.gradient_accumulation_steps, lengths,
            self.args.seed)
        return self.epoch_sampler


def pad_multiple() -> int | None:
    """Pad batches to a multiple of 8 on GPUs (tensor cores); not worth it on CPU."""
    return 8 if use_cuda() else None


def curve_name(key: str) -> str | None:
    """dvclive name of a Trainer log key (``eval_loss`` -> ``eval/loss``), None to skip."""
    if any(part in key for part in UNPLOTTED) or key == "step":
        return None
    split, _, name = key.partition("_")
    if split in ("eval", "dev", "train") and name:
        return f"{split}/{name}"
    return f"train/{key}"


class LiveCallback(TrainerCallback):
    """Training curves with dvclive at the Trainer's global step (main process only).

    ``Live(dir, dvcyaml=None, save_dvc_exp=False)``: dvclive never edits dvc.yaml nor creates
    experiments (the pipeline declares ``<dir>/plots/metrics``). Only the stage's own params
    are logged. After a resume, the restored ``log_history`` is replayed so the curves are
    whole and have no duplicated steps.
    """

    def __init__(self, directory: str | Path, params: Mapping[str, Any]):
        self.directory = str(directory)
        self.params = dict(params)
        self.live = None

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero or self.live is not None:
            return
        from dvclive import Live

        self.live = Live(self.directory, dvcyaml=None, save_dvc_exp=False)
        self.live.log_params(self.params)
        for entry in state.log_history:
            self.record(entry)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.live is not None and logs:
            self.record({**logs, "step": state.global_step})

    def record(self, entry: Mapping[str, Any]) -> None:
        values = {}
        for key, value in entry.items():
            name = curve_name(key)
            if name and isinstance(value, (int, float)) and not isinstance(value, bool):
                values[name] = value
        if not values:
            return
        self.live.step = int(entry["step"])
        for name, value in values.items():
            self.live.log_metric(name, value)
        self.live.make_summary()

    def on_train_end(self, args, state, control, **kwargs):
        if self.live is not None:
            self.live.end()


def save_model(model: PreTrainedModel, tokenizer, out: str | Path) -> None:
    """``save_pretrained`` (safetensors) of model and tokenizer, without training state."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
