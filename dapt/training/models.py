"""Model builders shared by the pretrain and finetune-ner stages.

``base_model: scratch`` builds a ``BertConfig`` from the ``scratch`` params with the
vocabulary of ``models/tokenizer``; anything else is a hub id or local folder loaded with
``from_pretrained`` (the same code path for both).

Determinism: ``seed_for_init`` seeds python/numpy/torch *before* a model is built
(``Trainer`` seeds only once the model it is given exists, too late for freshly initialised
heads); the Trainer reseeds with the same seed, and its data order comes from that seed too
(``dapt.training.trainer``). Chosen for CPU: seeds plus a fixed thread count, *not*
``torch.use_deterministic_algorithms`` (``enable_full_determinism``): torch's CPU kernels are
already deterministic for a given number of threads, while the deterministic mode made
pretraining about 4x slower here for the same losses. The thread count is torch's default
(one per core, or ``OMP_NUM_THREADS``; torchrun sets 1 per process), so a rerun on the same
machine with the same params and inputs gives identical weights and metrics (tests check
it); pin ``OMP_NUM_THREADS`` to compare runs across machines. On CUDA only the seeds are set
(GPU kernels such as atomic adds are not bitwise reproducible; runs match closely).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForMaskedLM,
    BertConfig,
    BertForMaskedLM,
    BertForPreTraining,
    PreTrainedModel,
    set_seed,
)
from transformers.modeling_outputs import MaskedLMOutput
from transformers.utils import ModelOutput

from dapt.data.atomic import save_pretrained
from dapt.data.contracts import IGNORE_LABEL
from dapt.data.tokenizer_io import checkpoint_config
from dapt.params import SCRATCH
from dapt.training.packing import segment_attention_mask

log = logging.getLogger("models")


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
        max_position_embeddings=scratch["max_position_embeddings"],
        hidden_dropout_prob=scratch["dropout"],
        attention_probs_dropout_prob=scratch["dropout"],
        **extra,
    )


def fit_vocab(model: PreTrainedModel, tokenizer) -> PreTrainedModel:
    """Grow the embeddings when the tokenizer has ids the checkpoint lacks (rows seeded)."""
    size = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) > size:
        log.warning("tokenizer has %d entries, model %d: resizing embeddings", len(tokenizer), size)
        model.resize_token_embeddings(len(tokenizer))
    return model


class BertForMaskedLMAtPositions(BertForMaskedLM):
    """``BertForMaskedLM`` that, given ``mlm_positions`` (bool ``[B, T]``), computes the
    vocabulary logits only there: ``logits`` is then ``[n_positions, vocab]`` in row-major
    order. With a 21k-entry Chinese vocabulary the output layer at every position costs more
    than a small encoder; only the predicted ~15% need it. Given ``segment_ids`` (packed
    rows, with their ``position_ids``) each token attends to its own sequence only. Weights
    and saved folders are plain ``BertForMaskedLM`` ones (``AutoModelForMaskedLM`` loads
    them)."""

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None,
                mlm_positions: torch.Tensor | None = None, position_ids=None,
                segment_ids: torch.Tensor | None = None, **kwargs):
        if segment_ids is not None:  # packed rows (dapt.training.packing)
            attention_mask = segment_attention_mask(
                segment_ids, self.config._attn_implementation, self.dtype)
        if mlm_positions is None:
            return super().forward(input_ids=input_ids, attention_mask=attention_mask,
                                   token_type_ids=token_type_ids, position_ids=position_ids,
                                   labels=labels, **kwargs)
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                           token_type_ids=token_type_ids,
                           position_ids=position_ids).last_hidden_state
        return MaskedLMOutput(logits=self.cls(hidden[mlm_positions.bool()]))


@dataclass
class PreTrainingOutput(ModelOutput):
    """MLM logits (at ``mlm_positions`` when given), the pair head's logits ``[B, 2]`` and,
    given ``pair_label``, the mean pair cross-entropy over the labelled pairs (0 if none)."""

    logits: torch.Tensor | None = None
    pair_logits: torch.Tensor | None = None
    pair_loss: torch.Tensor | None = None


class BertForPreTrainingAtPositions(BertForPreTraining):
    """``BertForPreTraining`` (MLM head + a binary head on the pooled [CLS]: BERT's NSP head,
    used for NSP and SOP alike) with MLM logits at ``mlm_positions`` only, as
    ``BertForMaskedLMAtPositions``. A hub checkpoint's pooler and NSP head load into it (hfl's
    ``pytorch_model.bin`` has both); saved folders load as ``AutoModelForMaskedLM`` too (the
    pooler and pair head are then unused)."""

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None,
                mlm_positions: torch.Tensor | None = None,
                pair_label: torch.Tensor | None = None, **kwargs):
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                        token_type_ids=token_type_ids)
        hidden = out.last_hidden_state
        if mlm_positions is not None:
            hidden = hidden[mlm_positions.bool()]
        logits, pair_logits = self.cls(hidden, out.pooler_output)
        pair_loss = None
        if pair_label is not None:
            labelled = pair_label != IGNORE_LABEL
            pair_loss = (torch.nn.functional.cross_entropy(
                pair_logits[labelled].float(), pair_label[labelled], reduction="mean")
                if labelled.any() else pair_logits.sum() * 0.0)
        return PreTrainingOutput(logits=logits, pair_logits=pair_logits, pair_loss=pair_loss)


def build_mlm_model(base_model: str, scratch: Mapping[str, Any], tokenizer,
                    pair_task: str = "none") -> PreTrainedModel:
    """A masked-LM model: fresh from the scratch params, or ``from_pretrained(base_model)``.

    BERT models are built as ``BertForMaskedLMAtPositions`` (logits at predicted positions
    only), or with a pair task as ``BertForPreTrainingAtPositions`` (the checkpoint's pooler
    and NSP head loaded where it has them, else initialised from the seed); other
    architectures load with ``AutoModelForMaskedLM`` (logits everywhere, no pair task).
    """
    pairs = pair_task != "none"
    if base_model == SCRATCH:
        config = scratch_config(scratch, tokenizer)
        log.info("new BERT from scratch: %s", config_summary(config))
        return BertForPreTrainingAtPositions(config) if pairs else \
            BertForMaskedLMAtPositions(config)
    log.info("loading masked-LM model %s", base_model)
    config = checkpoint_config(base_model)
    if config.model_type != "bert":
        if pairs:
            raise ValueError(f"pretrain.pair_task={pair_task!r} needs a BERT checkpoint (a "
                             f"pooler and a [CLS] pair head); {base_model} is "
                             f"{config.model_type!r}")
        model = AutoModelForMaskedLM.from_pretrained(base_model, config=config)
    else:
        model_cls = BertForPreTrainingAtPositions if pairs else BertForMaskedLMAtPositions
        model, info = model_cls.from_pretrained(base_model, config=config,
                                                output_loading_info=True)
        fresh = sorted({".".join(k.split(".")[:2]) for k in info["missing_keys"]})
        if fresh:
            log.info("not in %s, initialised from the seed: %s", base_model, ", ".join(fresh))
    return fit_vocab(model, tokenizer)


def config_summary(config) -> str:
    return (f"vocab {config.vocab_size}, hidden {config.hidden_size}, "
            f"{config.num_hidden_layers} layers, {config.num_attention_heads} heads, "
            f"max positions {config.max_position_embeddings}")


def save_model(model: PreTrainedModel, tokenizer, out: str | Path) -> None:
    """``save_pretrained`` (safetensors) of model and tokenizer, without training state,
    into a folder swapped in atomically (``dapt.data.atomic``)."""
    if isinstance(model, BertForMaskedLMAtPositions):
        model.config.architectures = ["BertForMaskedLM"]  # what the saved weights are
    save_pretrained(out, model, tokenizer)
