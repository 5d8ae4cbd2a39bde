"""The params schema: every key of params.yaml and general/params.yaml with its type, range
and cross-field rules, side by side. ``dapt.params.load_params`` checks a whole file with it
before a stage does any work; the stages then read the plain values (nothing is converted).

Types are strict (``"abc"`` or ``true`` is no number; an int is accepted where a float is
expected) and unknown keys are rejected. The two files share every section but their data
source: ``data`` + ``split`` (+ ``finetune``, ``evaluate``) for the domain pipeline, ``corpus``
for the general checkpoint (general/dvc.yaml).

Hub access is off unless ``DAPT_ALLOW_HUB=1``: ``base_model`` must then be ``scratch``, a
local ``save_pretrained`` folder, or a hub id already in the local Hugging Face cache, and
``stay_offline`` puts Hugging Face in offline mode, so no call waits on the network.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

SCRATCH = "scratch"  # base_model value: a new BERT from the ``scratch`` params
HUB_ENV = "DAPT_ALLOW_HUB"  # =1: base_model may be a hub id that is not cached yet

Strategy = Literal["token", "wwm", "entity", "entity_token", "span"]  # dapt.masking.strategies
Precision = Literal["auto", "fp32", "bf16", "fp16"]  # dapt.training.arguments
Init = Literal["pretrained", "base"]
Head = Literal["softmax", "crf", "bilstm_crf"]  # dapt.ner.heads
CorpusSource = Literal["people_daily", "reviews_pos", "reviews_neg"]  # general_corpus.SOURCES
UnitSource = Literal["lexicon", "tagger", "none"]  # the one list (dapt.masking.annotate)
MaskMode = Literal["static", "dynamic"]  # stored copies | drawn every epoch (dapt.training.dynamic)
PairTask = Literal["none", "sop", "nsp"]  # dapt.masking.pairs

PosInt = Annotated[int, Field(ge=1)]
NonNegInt = Annotated[int, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
Probability = Annotated[float, Field(ge=0, le=1)]  # [0, 1]
Share = Annotated[float, Field(gt=0, le=1)]  # (0, 1]
Ratio = Annotated[float, Field(ge=0, lt=1)]  # [0, 1)
Open = Annotated[float, Field(gt=0, lt=1)]  # (0, 1)
Text = Annotated[str, Field(min_length=1)]

# What the hub accepts as a model id (``name`` or ``owner/name``). A value that is no existing
# folder, starts like a path or is no such id is a missing local folder.
HUB_ID = re.compile(r"(?!.*(--|\.\.))[\w.-]+(/[\w.-]+)?")
PATH_STARTS = (".", "/", "~")


class RuleError(ValueError):
    """A broken cross-field rule; its message names every key involved with its value."""


def require(ok: bool, rule: str, values: dict[str, Any]) -> None:
    """Raise ``RuleError`` (``key=value, ...: rule``) unless ``ok``."""
    if not ok:
        raise RuleError(", ".join(f"{k}={v!r}" for k, v in values.items()) + f": {rule}")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def existing_file(value: str | None) -> str | None:
    """A resource path (relative to the repository root) must name a file; null: none."""
    if value is not None and not Path(value).is_file():
        raise ValueError("no such file (a relative path starts at the repository root)")
    return value


ResourceFile = Annotated[str | None, AfterValidator(existing_file)]


FormatName = Literal["auto", "brat", "conll", "cluener", "cmeee", "doccano", "hf", "jsonl"]


class Data(Section):
    format: FormatName
    labeled_dir: Text  # folder or file of annotated documents in `format`
    unlabeled_format: FormatName
    unlabeled_dir: str | None  # unannotated documents in `unlabeled_format` (null/empty: none)
    tag_scheme: Literal["auto", "bio", "iob1", "bioes", "bmes"]  # conll and hf tags
    conll_documents: Literal["auto", "sentences"]
    nested: Literal["outermost", "innermost", "longest_first", "error"]
    corpus_file: str | None  # one document per line (null/empty: none)
    lexicon_file: ResourceFile  # `surface<TAB>TYPE` lines merged with the train lexicon


class GeneralData(Section):
    lexicon_file: ResourceFile


class Split(Section):
    seed: NonNegInt
    dev_size: Open  # shares of the labeled documents; both parts must be non-empty
    test_size: Open
    on_error: Literal["skip", "raise"]

    @model_validator(mode="after")
    def _train_remains(self) -> Split:
        require(self.dev_size + self.test_size < 1, "dev_size + test_size must be < 1 (the "
                "rest is train)", {"split.dev_size": self.dev_size,
                                   "split.test_size": self.test_size})
        return self


class Corpus(Section):
    package_version: str  # quoted if it could read as a number ("1.10")
    sources: Annotated[list[CorpusSource], Field(min_length=1)]


class Tokenize(Section):
    max_len: Annotated[int, Field(ge=3)]  # [CLS] + at least one token + [SEP]
    mlm_include_eval_text: bool
    scratch_vocab: Literal["wordpiece", "chinese"]
    vocab_size: PosInt
    min_frequency: NonNegInt


class Mask(Section):
    token_prob: Probability
    replace_mask: Probability
    replace_random: Probability
    unlabeled_units: UnitSource
    lexicon_min_len: PosInt
    lexicon_conflict: Literal["majority", "skip"]
    jieba_user_dict: ResourceFile  # jieba's user-dictionary format, for `wwm` word units
    span_p: Open
    span_max: PosInt
    eval_sequences: PosInt  # pretrain evaluates on them (the upper bound depends on the data)
    eval_seed: NonNegInt

    @model_validator(mode="after")
    def _replacement(self) -> Mask:
        require(self.replace_mask + self.replace_random <= 1, "replace_mask + replace_random "
                "must be <= 1 (the rest keeps the token)", {
                    "mask.replace_mask": self.replace_mask,
                    "mask.replace_random": self.replace_random})
        return self


class UnitTagger(Section):
    """The unit-tagger stage's character CRF (python-crfsuite L-BFGS)."""

    c1: NonNegative
    c2: NonNegative
    max_iterations: PosInt


class Scratch(Section):
    hidden_size: PosInt
    num_hidden_layers: PosInt
    num_attention_heads: PosInt
    intermediate_size: PosInt
    max_position_embeddings: PosInt
    dropout: Ratio

    @model_validator(mode="after")
    def _heads_divide(self) -> Scratch:
        require(self.hidden_size % self.num_attention_heads == 0, "hidden_size must be a "
                "multiple of num_attention_heads", {
                    "scratch.hidden_size": self.hidden_size,
                    "scratch.num_attention_heads": self.num_attention_heads})
        return self


class Optimisation(Section):
    """Trainer settings of pretrain and finetune (``dapt.training.arguments``)."""

    epochs: PosInt
    batch_size: PosInt  # per process
    grad_accum: PosInt
    learning_rate: Positive
    warmup_ratio: Ratio  # share of all optimiser steps
    weight_decay: NonNegative
    adam_epsilon: Positive
    max_grad_norm: NonNegative  # 0: no clipping
    logging_steps: PosInt
    gradient_checkpointing: bool  # recompute activations in the backward pass


class Pretrain(Optimisation):
    save_steps: PosInt
    pair_task: PairTask  # sentence pairs in mask-annotate, a pair head in pretrain
    pair_weight: NonNegative  # loss = MLM + pair_weight x pair loss
    packing: bool  # short sequences share windows of tokenize.max_len (dapt.training.packing)


class Finetune(Optimisation):
    init: Init
    head: Head
    lstm_hidden_size: PosInt
    dropout: Ratio | None  # hidden_dropout_prob while fine-tuning (None: the model's own)
    patience: PosInt | None
    head_learning_rate: Positive | None


class Evaluate(Section):
    batch_size: PosInt


class Common(Section):
    """The keys both files have."""

    seed: NonNegInt
    threads: PosInt  # torch threads on CPU: part of the experiment (dapt.numerics)
    base_model: Text
    precision: Precision  # whether the machine can run it is checked by the training stages
    mask_strategy: Strategy
    mask_prob: Share  # 0 masks nothing: pretraining would have no example
    mask_budget: Share | None
    mask_dupe: PosInt
    mask_mode: MaskMode
    tokenize: Tokenize
    mask: Mask
    scratch: Scratch
    pretrain: Pretrain

    @field_validator("base_model")
    @classmethod
    def _model_is_reachable(cls, value: str) -> str:
        problem = base_model_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _positions(self) -> Common:
        if self.base_model == SCRATCH:
            require(self.tokenize.max_len <= self.scratch.max_position_embeddings,
                    "a window must fit the scratch model's positions", {
                        "tokenize.max_len": self.tokenize.max_len,
                        "scratch.max_position_embeddings": self.scratch.max_position_embeddings})
        return self

    @model_validator(mode="after")
    def _masking_modes(self) -> Common:
        require(self.mask_mode == "static" or self.mask_dupe == 1, "dynamic masking draws "
                "fresh masks every epoch and stores none, so mask_dupe must be 1 (for the "
                "budget of k static copies, multiply pretrain.epochs by k)", {
                    "mask_mode": self.mask_mode, "mask_dupe": self.mask_dupe})
        task = self.pretrain.pair_task
        require(task == "none" or self.mask_mode == "static", "sentence pairs are drawn "
                "with stored masks: a pair task needs mask_mode static", {
                    "pretrain.pair_task": task, "mask_mode": self.mask_mode})
        require(task == "none" or not self.pretrain.packing, "a pair head reads one [CLS] "
                "per row, a packed row holds several sequences: pretrain.packing needs "
                "pair_task none", {"pretrain.pair_task": task,
                                   "pretrain.packing": self.pretrain.packing})
        require(task == "none" or self.tokenize.max_len >= 8, "a sentence pair needs room "
                "for [CLS] A [SEP] B [SEP]: tokenize.max_len >= 8", {
                    "pretrain.pair_task": task, "tokenize.max_len": self.tokenize.max_len})
        return self


class DomainParams(Common):
    """params.yaml: the domain pipeline (dvc.yaml)."""

    data: Data
    split: Split
    unit_tagger: UnitTagger
    finetune: Finetune
    evaluate: Evaluate


class GeneralParams(Common):
    """general/params.yaml: the general checkpoint (general/dvc.yaml)."""

    data: GeneralData
    corpus: Corpus

    @model_validator(mode="after")
    def _no_tagger(self) -> GeneralParams:
        require(self.mask.unlabeled_units != "tagger", "the general corpus has no annotations "
                "to train a unit tagger on", {"mask.unlabeled_units": self.mask.unlabeled_units})
        return self


def schema_for(data: dict[str, Any]) -> type[Common]:
    """The file's layout: general (it has ``corpus``) or domain."""
    return GeneralParams if "corpus" in data else DomainParams


def hub_allowed() -> bool:
    return os.environ.get(HUB_ENV, "").strip().lower() not in ("", "0", "false", "no")


def in_hub_cache(model_id: str) -> bool:
    """Whether the local Hugging Face cache holds ``model_id``'s config (no network)."""
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(model_id, "config.json"), str)


def base_model_problem(value: str) -> str | None:
    """Why ``base_model`` cannot be loaded here, or None."""
    if value == SCRATCH:
        return None
    folder = Path(value)
    if folder.is_dir():
        return None if (folder / "config.json").is_file() else (
            "this folder has no config.json (a model is a save_pretrained folder)")
    if not looks_like_hub_id(value):
        return "no such folder (a relative path starts at the repository root)"
    return hub_problem(value)


def looks_like_hub_id(value: str) -> bool:
    """Whether ``value``, when it is no existing path, may name a hub model (``name`` or
    ``owner/name``); anything else is a missing local folder. The one rule for
    ``base_model`` and predict's ``--model``."""
    return not Path(value).exists() and not value.startswith(PATH_STARTS) and bool(
        HUB_ID.fullmatch(value))


def hub_problem(model_id: str) -> str | None:
    """Why the hub id ``model_id`` cannot be loaded here (hub look-ups off and not cached),
    or None."""
    if hub_allowed() or in_hub_cache(model_id):
        return None
    return (f"not a local folder, and hub look-ups are off (not in the Hugging Face cache): "
            f"set {HUB_ENV}=1 to download it, e.g. `{HUB_ENV}=1 dvc exp run ...`, or give a "
            "local save_pretrained folder")


def stay_offline() -> None:
    """Unless ``DAPT_ALLOW_HUB`` is set, Hugging Face offline mode for this process and its
    children: every load is local, nothing waits on the network."""
    if hub_allowed():
        return
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:  # imported already: it read the variable at import
        constants.HF_HUB_OFFLINE = True
