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
from dapt.data.document_tokenizer import DocumentTokenizer, build_tokenizer
from dapt.data.documents import Document, read_jsonl
from dapt.data.encoding import CharEncoder
from dapt.params import Params, as_params

log = logging.getLogger("tokenize")


@dataclass
class Paths:
    split_dir: str = path_flag("data/split", "split JSONL folder")
    out: str = path_flag("data/tokenized", "ner/mlm Parquet folder", output=True)
    tokenizer_out: str = path_flag("models/tokenizer", "tokenizer folder", output=True)
    metrics: str = path_flag("metrics/tokenize.json", "token report", output=True)


def run(params: Params, paths: Paths) -> dict:
    """Tokenize every split into NER windows and MLM sequences; returns the token report."""
    params = as_params(params)
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
