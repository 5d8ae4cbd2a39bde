"""tokenize stage (stages/tokenization.py, named so it never shadows the standard
library's ``tokenize``): tokenizer, NER windows and MLM sequences (columnar, byte-stable).

Outputs
  models/tokenizer/               fast BERT tokenizer; with base_model=scratch a WordPiece
                                  vocabulary trained here (tokenize.scratch_vocab: wordpiece)
                                  or the fixed BERT-Chinese layout (chinese)
  data/tokenized/ner.parquet      NER windows of train/dev/test documents, BIO tags
  data/tokenized/mlm.parquet      MLM sequences of train + unlabeled documents
  metrics/tokenize.json           token counts, [UNK] rate, entities with no token

The Parquet contracts are in ``dapt.data.contracts``. Offsets are document character
offsets; only train documents lend their gold entities to the MLM sequences (leakage rule).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tqdm import tqdm

from dapt.cli import path_flag, stage_main
from dapt.data.atomic import save_pretrained
from dapt.data.chinese_vocab import chinese_tokenizer
from dapt.data.contracts import (
    LABELED_SPLITS,
    MLM_SCHEMA,
    NER_SCHEMA,
    SPLITS,
    TRAIN,
    UNLABELED,
    split_file,
    write_json,
    write_rows,
)
from dapt.data.documents import Document, read_jsonl
from dapt.data.encoding import CharEncoder
from dapt.data.tokenizer_io import load_tokenizer, train_scratch_tokenizer
from dapt.data.windows import entity_token_spans, pack_windows, spans_in
from dapt.ner.bio import bio_tags
from dapt.params import SCRATCH, Params, as_params

log = logging.getLogger("tokenize")


@dataclass
class Paths:
    split_dir: str = path_flag("data/split", "split JSONL folder")
    out: str = path_flag("data/tokenized", "ner/mlm Parquet folder", output=True)
    tokenizer_out: str = path_flag("models/tokenizer", "tokenizer folder", output=True)
    metrics: str = path_flag("metrics/tokenize.json", "token report", output=True)


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


def run(params: Params, paths: Paths) -> dict:
    """Tokenize every split into NER windows and MLM sequences; returns the token report."""
    cfg = params["tokenize"]
    docs = {name: read_jsonl(split_file(paths.split_dir, name)) for name in SPLITS}
    tokenizer = build_tokenizer(params, docs)
    save_pretrained(paths.tokenizer_out, tokenizer)
    dt = DocumentTokenizer(tokenizer, cfg["max_len"])

    ner = [row for split in LABELED_SPLITS
           for doc in tqdm(docs[split], desc=f"windows {split}", mininterval=2)
           for row in dt.ner_rows(doc, split)]
    ner_stats = dt.encoder.stats()
    dt.encoder = CharEncoder.from_tokenizer(tokenizer)  # fresh counters for the MLM text
    mlm_sources = [TRAIN, UNLABELED] + (["dev", "test"] if cfg["mlm_include_eval_text"] else [])
    mlm = []
    for source in mlm_sources:
        for doc in tqdm(docs[source], desc=f"mlm {source}", mininterval=2):
            # Only train documents lend their gold entities to masking (leakage rule).
            keep = doc if source == TRAIN else Document(doc.id, doc.text)
            mlm += dt.mlm_rows(keep, source)
    for i, row in enumerate(mlm):
        row["seq_id"] = i

    write_rows(ner, NER_SCHEMA, f"{paths.out}/ner.parquet")
    write_rows(mlm, MLM_SCHEMA, f"{paths.out}/mlm.parquet")
    metrics = {
        "vocab_size": len(tokenizer),
        "ner": {"windows": len(ner), **ner_stats},
        "mlm": {"sequences": len(mlm), "sources": mlm_sources, **dt.encoder.stats()},
        "entities_without_tokens": dt.lost,
    }
    write_json(paths.metrics, metrics)
    log.info("%d NER windows, %d MLM sequences, [UNK] rate %.4f (NER text), "
             "%d entities without tokens", len(ner), len(mlm), ner_stats["unk_rate"], len(dt.lost))
    return metrics


def main(argv: list[str] | None = None) -> None:
    stage_main(__doc__, Paths, run, argv)


if __name__ == "__main__":
    main()
