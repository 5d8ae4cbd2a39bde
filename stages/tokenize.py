"""tokenize stage: tokenizer, NER windows and MLM sequences (columnar, byte-stable).

Outputs
  models/tokenizer/               fast BERT tokenizer (trained here when base_model=scratch)
  data/tokenized/ner.parquet      NER windows of train/dev/test documents, BIO tags
  data/tokenized/mlm.parquet      MLM sequences of train + unlabeled documents
  metrics/tokenize.json           token counts, [UNK] rate, entities with no token

Token-aligned list columns (``input_ids``, ``char_start``, ``char_end``, ``tags``) include
[CLS]/[SEP]; specials have ``char_start = char_end = -1`` and a null tag. Offsets are
document character offsets. In mlm.parquet, ``entity_start``/``entity_end`` are token
positions (end exclusive, [CLS] = 0) of the gold entities of train documents, and
``text``/``text_start`` give the document text the sequence covers.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from stages.common import load_params, setup_logging, stage_parser, write_json
from stages.documents import Document, read_jsonl
from stages.encoding import CharEncoder
from stages.tokenizer_io import load_tokenizer, train_scratch_tokenizer
from stages.windows import bio_tags, entity_token_spans, pack_windows, spans_in

log = setup_logging("tokenize")

NER_SCHEMA = pa.schema([
    ("doc_id", pa.string()), ("split", pa.string()), ("window", pa.int32()),
    ("input_ids", pa.list_(pa.int32())), ("char_start", pa.list_(pa.int32())),
    ("char_end", pa.list_(pa.int32())), ("tags", pa.list_(pa.string())),
])
MLM_SCHEMA = pa.schema([
    ("seq_id", pa.int32()), ("doc_id", pa.string()), ("source", pa.string()),
    ("input_ids", pa.list_(pa.int32())), ("char_start", pa.list_(pa.int32())),
    ("char_end", pa.list_(pa.int32())), ("text", pa.string()), ("text_start", pa.int32()),
    ("entity_start", pa.list_(pa.int32())), ("entity_end", pa.list_(pa.int32())),
    ("entity_type", pa.list_(pa.string())),
])


def write_table(rows: list[dict], schema: pa.Schema, path: Path) -> None:
    columns = {name: [row[name] for row in rows] for name in schema.names}
    table = pa.table(columns, schema=schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd")


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


def build_tokenizer(params: dict, docs: dict[str, list[Document]]):
    base = params["base_model"]
    if base != "scratch":
        log.info("loading tokenizer of %s", base)
        return load_tokenizer(base)
    cfg = params["tokenize"]
    texts = [d.text for d in docs["train"] + docs["unlabeled"]]
    log.info("training a WordPiece vocabulary on %d documents", len(texts))
    return train_scratch_tokenizer(texts, cfg["vocab_size"], cfg["min_frequency"])


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--split-dir", default="data/split")
    parser.add_argument("--out", default="data/tokenized")
    parser.add_argument("--tokenizer-out", default="models/tokenizer")
    parser.add_argument("--metrics", default="metrics/tokenize.json")
    args = parser.parse_args()
    params = load_params(args.params)
    cfg = params["tokenize"]

    docs = {name: read_jsonl(Path(args.split_dir) / f"{name}.jsonl")
            for name in ("train", "dev", "test", "unlabeled")}
    tokenizer = build_tokenizer(params, docs)
    tokenizer.save_pretrained(args.tokenizer_out)
    dt = DocumentTokenizer(tokenizer, cfg["max_len"])

    ner = [row for split in ("train", "dev", "test")
           for doc in tqdm(docs[split], desc=f"windows {split}", mininterval=2)
           for row in dt.ner_rows(doc, split)]
    ner_stats = dt.encoder.stats()
    dt.encoder = CharEncoder.from_tokenizer(tokenizer)  # fresh counters for the MLM text
    mlm_sources = ["train", "unlabeled"] + (["dev", "test"] if cfg["mlm_include_eval_text"] else [])
    mlm = []
    for source in mlm_sources:
        for doc in tqdm(docs[source], desc=f"mlm {source}", mininterval=2):
            # Only train documents lend their gold entities to masking (leakage rule).
            keep = doc if source == "train" else Document(doc.id, doc.text)
            mlm += dt.mlm_rows(keep, source)
    for i, row in enumerate(mlm):
        row["seq_id"] = i

    out = Path(args.out)
    write_table(ner, NER_SCHEMA, out / "ner.parquet")
    write_table(mlm, MLM_SCHEMA, out / "mlm.parquet")
    metrics = {
        "vocab_size": len(tokenizer),
        "ner": {"windows": len(ner), **ner_stats},
        "mlm": {"sequences": len(mlm), "sources": mlm_sources, **dt.encoder.stats()},
        "entities_without_tokens": dt.lost,
    }
    write_json(args.metrics, metrics)
    log.info("%d NER windows, %d MLM sequences, [UNK] rate %.4f (NER text), "
             "%d entities without tokens", len(ner), len(mlm), ner_stats["unk_rate"], len(dt.lost))


if __name__ == "__main__":
    main()
