"""Structured NER heads on a BERT encoder: CRF and BiLSTM-CRF (``finetune.head``).

``finetune.head: softmax`` is the stock ``BertForTokenClassification`` (loadable by
``pipeline("token-classification")``). ``crf`` and ``bilstm_crf`` use
``BertCrfForTokenClassification``: encoder -> dropout -> [BiLSTM] -> linear emissions ->
linear-chain CRF whose transitions forbid invalid BIO moves (``dapt.ner.crf``). Its config
carries ``ner_head`` and ``lstm_hidden_size``; the project's own ``NerPredictor`` (evaluate,
``dapt.predict``) loads it and decodes with Viterbi. The CRF runs over the tokens between
[CLS] and [SEP]; training loss is the mean sequence negative log-likelihood.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from transformers import AutoConfig, AutoModelForTokenClassification, BertModel, BertPreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import TokenClassifierOutput

from dapt.ner.crf import CRF, bio_constraints


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
            lengths = attention_mask.sum(1).cpu()
            packed = nn.utils.rnn.pack_padded_sequence(hidden, lengths, batch_first=True,
                                                       enforce_sorted=False)
            out, _ = self.lstm(packed)
            hidden, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True,
                                                         total_length=hidden.shape[1])
            hidden = self.dropout(hidden)
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
        logits = self.emissions(input_ids, attention_mask)
        inner = attention_mask[:, 2:].bool()  # positions 1..n-2 are the tokens
        return self.crf.decode(logits[:, 1:-1], inner)


def load_token_classifier(model_dir: str | Path):
    """A saved NER model of any head: ``BertCrfForTokenClassification`` when its config
    names a CRF head, else ``AutoModelForTokenClassification``."""
    config = AutoConfig.from_pretrained(str(model_dir))
    if getattr(config, "ner_head", "softmax") in ("crf", "bilstm_crf"):
        return BertCrfForTokenClassification.from_pretrained(str(model_dir))
    return AutoModelForTokenClassification.from_pretrained(str(model_dir))
