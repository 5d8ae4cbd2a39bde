"""Structured NER heads on a BERT encoder: CRF and BiLSTM-CRF (``finetune.head``).

``finetune.head: softmax`` is the stock ``BertForTokenClassification`` (loadable by
``pipeline("token-classification")``). ``crf`` and ``bilstm_crf`` use
``BertCrfForTokenClassification``: encoder -> dropout -> [BiLSTM] -> linear emissions ->
linear-chain CRF whose transitions forbid invalid BIO moves (``dapt.ner.crf``). Its config
carries ``ner_head`` and ``lstm_hidden_size``; the project's own ``NerPredictor`` (evaluate,
``dapt.predict``) loads it and decodes with Viterbi. The CRF runs over the tokens between
[CLS] and [SEP]; training loss is the mean sequence negative log-likelihood.

Loading (``load_token_classifier``, ``NerPredictor.from_pretrained``) follows the rule of
``base_model`` (``dapt.params_schema.looks_like_hub_id``): an existing path, a name starting
with ``.``, ``/`` or ``~``, or one no hub id could be is a local folder, checked first
(``check_model_folder``) and loaded with ``local_files_only``, so a missing or incomplete
folder fails at once and the network is never touched; a ``name`` or ``owner/name`` that
is no folder is a hub id, loaded only with ``DAPT_ALLOW_HUB=1`` or from the Hugging Face
cache (else the error names both readings).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from transformers import AutoConfig, AutoModelForTokenClassification, BertModel, BertPreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import TokenClassifierOutput

from dapt.ner.bilstm import padded_bilstm
from dapt.ner.crf import CRF, bio_constraints
from dapt.params_schema import hub_allowed, hub_problem, looks_like_hub_id

WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
           "pytorch_model.bin.index.json")
CRF_HEADS = ("crf", "bilstm_crf")  # heads decoded with Viterbi
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "tokenizer.model",
                   "spiece.model", "sentencepiece.bpe.model")


class ModelFolderError(FileNotFoundError):
    """A local model folder that is missing or lacks a piece; the message names both."""


class BertCrfForTokenClassification(BertPreTrainedModel):
    """BERT (+ BiLSTM) + CRF token classifier; ``config.id2label`` are BIO labels."""

    def __init__(self, config):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        width = config.hidden_size
        self.lstm = None
        if config.ner_head == "bilstm_crf":
            self.lstm = nn.LSTM(width, config.lstm_hidden_size, batch_first=True,
                                bidirectional=True)
            width = 2 * config.lstm_hidden_size
        self.classifier = nn.Linear(width, config.num_labels)
        labels = [config.id2label[i] for i in range(config.num_labels)]
        self.crf = CRF(labels)
        self.post_init()

    def _init_weights(self, module):
        """Initialise what a checkpoint did not provide (transformers calls this for missing
        weights only): CRF scores at zero with the BIO constraints, BiLSTM as torch does."""
        super()._init_weights(module)
        if isinstance(module, CRF):
            allowed, start_allowed = bio_constraints(module.labels)
            init.copy_(module.allowed, allowed)
            init.copy_(module.start_allowed, start_allowed)
            for param in (module.transitions, module.start, module.end):
                init.zeros_(param)
        elif isinstance(module, nn.LSTM):
            bound = module.hidden_size ** -0.5
            for param in module.parameters():
                init.uniform_(param, -bound, bound)

    def emissions(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Per-token label scores ``[B, T, L]`` (specials and padding included)."""
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        hidden = self.dropout(hidden)
        if self.lstm is not None:
            hidden = self.dropout(padded_bilstm(self.lstm, hidden, attention_mask.sum(1)))
        return self.classifier(hidden)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> TokenClassifierOutput:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        logits = self.emissions(input_ids, attention_mask)
        loss = None
        if labels is not None:
            # Drop [CLS]; [SEP] and padding carry -100 at the row ends: a prefix mask.
            loss = self.crf.neg_log_likelihood(logits[:, 1:], labels[:, 1:])
        return TokenClassifierOutput(loss=loss, logits=logits)

    @torch.no_grad()
    def decode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> list[list[int]]:
        """Viterbi label ids of the tokens between [CLS] and [SEP] of each row."""
        return decode_between_specials(self.crf, self.emissions(input_ids, attention_mask),
                                       attention_mask)


def decode_between_specials(crf: CRF, emissions: torch.Tensor,
                            attention_mask: torch.Tensor) -> list[list[int]]:
    """Viterbi label ids of the tokens between [CLS] and [SEP] of each row of
    ``emissions[B, T, L]`` (rows ``[CLS] tokens [SEP] padding``, ``attention_mask`` 1 on the
    first three parts)."""
    inner = attention_mask[:, 2:].bool()  # positions 1..n-2 are the tokens
    return crf.decode(emissions[:, 1:-1], inner)


def check_model_folder(folder: str | Path) -> None:
    """Raise ``ModelFolderError`` unless ``folder`` holds config.json, weights and tokenizer
    files (the message names the folder and every missing piece)."""
    label, folder = str(folder), Path(folder)  # the name as given, in every message
    if not folder.exists():
        raise ModelFolderError(f"{label}: no such folder")
    if not folder.is_dir():
        raise ModelFolderError(f"{label}: not a folder")
    files = {p.name for p in folder.iterdir()}
    if not files:
        raise ModelFolderError(f"{label}: empty folder (a save_pretrained NER model folder "
                               "holds config.json, weights and tokenizer files)")
    missing = [what for what, names in (
        ("config.json", ("config.json",)),
        ("weights (model.safetensors or pytorch_model.bin)", WEIGHTS),
        (f"tokenizer files ({', '.join(TOKENIZER_FILES)})", TOKENIZER_FILES),
    ) if not files.intersection(names)]
    if missing:
        raise ModelFolderError(f"{label}: missing {'; '.join(missing)}")


def model_source(name: str | Path) -> dict[str, bool]:
    """``from_pretrained`` keyword arguments for ``name``, by ``base_model``'s rule
    (``dapt.params_schema.looks_like_hub_id``): a local folder is checked
    (``check_model_folder``) and never looked up on the hub; a hub id that is no folder loads
    only when ``DAPT_ALLOW_HUB=1`` or from the Hugging Face cache."""
    if not looks_like_hub_id(str(name)):
        check_model_folder(name)
        return {"local_files_only": True}
    problem = hub_problem(str(name))
    if problem:
        raise ModelFolderError(f"{name}: no such folder; as a hub id: {problem}")
    return {"local_files_only": not hub_allowed()}


def has_crf_head(config) -> bool:
    """Whether a model config names a CRF head (``ner_head``; absent: softmax)."""
    return getattr(config, "ner_head", "softmax") in CRF_HEADS


def load_token_classifier(model_dir: str | Path):
    """A saved NER model of any head: ``BertCrfForTokenClassification`` when its config
    names a CRF head, else ``AutoModelForTokenClassification`` (see "Loading" above)."""
    source = model_source(model_dir)
    config = AutoConfig.from_pretrained(str(model_dir), **source)
    if has_crf_head(config):
        cls = BertCrfForTokenClassification
    else:
        cls = AutoModelForTokenClassification
    return cls.from_pretrained(str(model_dir), config=config, **source)
