"""Documents to model input for the tokenize stage: the tokenizer (the base model's, or one
built for a scratch model) and ``DocumentTokenizer``, which encodes documents character by
character and cuts them into windows that never cut a gold entity, as NER rows (BIO tags)
and MLM rows (entity token spans) in the ``dapt.data.contracts`` layout."""

from __future__ import annotations

import logging

from dapt.data.chinese_vocab import chinese_tokenizer
from dapt.data.contracts import TRAIN, UNLABELED
from dapt.data.documents import Document
from dapt.data.encoding import CharEncoder
from dapt.data.tokenizer_io import load_tokenizer, train_scratch_tokenizer
from dapt.data.windows import entity_token_spans, pack_windows, spans_in
from dapt.ner.bio import bio_tags
from dapt.params import SCRATCH, Params, as_params

log = logging.getLogger("tokenize")


class DocumentTokenizer:
    """Encodes documents and cuts them into windows, collecting statistics."""

    def __init__(self, tokenizer, max_len: int):
        self.encoder = CharEncoder.from_tokenizer(tokenizer)
        self.cls_id = tokenizer.cls_token_id
        self.sep_id = tokenizer.sep_token_id
        self.size = max_len - 2
        self.lost: list[dict] = []

    def windows(self, doc: Document, source: str, record_lost: bool = True):
        """Yield (window index, token range, token ids, char offsets, spans) per window."""
        enc = self.encoder.encode(doc.text)
        spans, lost = entity_token_spans(doc.entities, enc.chars)
        if record_lost:
            self.lost += [{"doc_id": doc.id, "source": source, "start": e.start, "end": e.end,
                           "type": e.type, "text": e.text} for e in lost]
        try:
            ranges = pack_windows(doc.text, enc.chars, spans, self.size)
        except ValueError as exc:
            raise ValueError(f"document {doc.id!r} ({source}): {exc}; raise tokenize.max_len"
                             ) from exc
        for k, (start, end) in enumerate(ranges):
            chars = enc.chars[start:end]
            yield k, (start, end), enc.ids[start:end], chars, spans_in(spans, start, end)

    def frame(self, ids: list[int], chars: list[int]) -> dict:
        """Token-aligned columns with [CLS]/[SEP] added."""
        return {
            "input_ids": [self.cls_id, *ids, self.sep_id],
            "char_start": [-1, *chars, -1],
            "char_end": [-1, *(c + 1 for c in chars), -1],
        }

    def ner_rows(self, doc: Document, split: str) -> list[dict]:
        rows = []
        for k, _, ids, chars, spans in self.windows(doc, split):
            row = {"doc_id": doc.id, "split": split, "window": k, **self.frame(ids, chars)}
            row["tags"] = [None, *bio_tags(spans, len(ids)), None]
            rows.append(row)
        return rows

    def mlm_rows(self, doc: Document, source: str) -> list[dict]:
        rows = []
        # Entities without tokens were already recorded by the NER pass over train documents.
        for _, _, ids, chars, spans in self.windows(doc, source, record_lost=False):
            text_start, text_end = chars[0], chars[-1] + 1
            rows.append({
                "doc_id": doc.id, "source": source, **self.frame(ids, chars),
                "text": doc.text[text_start:text_end], "text_start": text_start,
                "entity_start": [s.start + 1 for s in spans],
                "entity_end": [s.end + 1 for s in spans],
                "entity_type": [s.type for s in spans],
            })
        return rows


def build_tokenizer(params: Params, docs: dict[str, list[Document]]):
    """The base model's tokenizer; for a scratch model a WordPiece vocabulary trained on
    train + unlabeled (``tokenize.scratch_vocab: wordpiece``) or the fixed BERT-Chinese
    layout (``chinese``)."""
    params = as_params(params)
    base = params["base_model"]
    if base != SCRATCH:
        log.info("loading tokenizer of %s", base)
        return load_tokenizer(base)
    cfg = params["tokenize"]
    if cfg["scratch_vocab"] == "chinese":
        log.info("fixed BERT-Chinese-layout vocabulary (dapt.data.chinese_vocab)")
        return chinese_tokenizer()
    texts = [d.text for d in docs[TRAIN] + docs[UNLABELED]]
    log.info("training a WordPiece vocabulary on %d documents", len(texts))
    return train_scratch_tokenizer(texts, cfg["vocab_size"], cfg["min_frequency"])
