"""Every artifact contract between stages, in one place: split names, Parquet schemas
with their write/read pairs, and deterministic metrics JSON.

Documents (``data/split/<split>.jsonl``) are written and read by ``dapt.data.documents``.
Parquet files are written with zstd compression from a fixed schema, so the same rows give
the same bytes; readers check that the columns they need are present and name the file
otherwise.

* ``ner.parquet`` (``NER_SCHEMA``): one row per NER window of a train/dev/test document;
  token-aligned lists include [CLS]/[SEP] (offsets -1, null tag); tags are BIO.
* ``mlm.parquet`` (``MLM_SCHEMA``): one row per MLM sequence; ``entity_start/end`` are
  token positions ([CLS] = 0, end exclusive) of the gold entities of *train* documents;
  ``text``/``text_start`` give the document text the sequence covers.
* ``masked/{train,eval}.parquet`` (``MASKED_SCHEMA``): one row per masked copy, copy-major;
  ``labels`` hold the original id where predicted, else -100; ``mask_unit`` the unit's
  index in the sequence (-1 if unmasked); ``mask_kind`` the entity type or
  token/word/span (null if unmasked); ``in_entity`` whether the token lies in an entity
  unit (gold or lexicon), for every strategy. With a pair task (``pretrain.pair_task``)
  the rows are sentence pairs (``MASKED_PAIR_SCHEMA``, ``dapt.masking.pairs``): two more
  columns, ``token_type_ids`` (0 for [CLS] A [SEP], 1 for B [SEP]) and ``pair_label`` (1:
  swapped or random next, 0: in order, -100: a single-segment row with no pair).
* ``masked/units.parquet`` (``UNITS_SCHEMA``, ``mask_mode: dynamic`` only, in place of
  ``train.parquet``): the unmasked train sequences with the strategy's candidate units
  (token positions, end exclusive, and kind), from which pretrain draws fresh masks every
  epoch (``dapt.training.dynamic``).
* ``masked/masking.json`` (``MASKING_RECORD``): the masking params that drew those copies
  (strategy, mask_prob, mask_budget, mask_dupe, seed, ``mask`` section) and the headline
  rates (mask_rate, entity_masked_share, no_mask_share); model cards quote it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dapt.data.atomic import atomic_file, write_text

TRAIN, DEV, TEST, UNLABELED = "train", "dev", "test", "unlabeled"
LABELED_SPLITS = (TRAIN, DEV, TEST)
SPLITS = (*LABELED_SPLITS, UNLABELED)
IGNORE_LABEL = -100  # label of a token that is not predicted
MASKING_RECORD = "masking.json"  # in the masked-data folder, beside the Parquet files
DYNAMIC_UNITS = "units.parquet"  # mask_mode dynamic: in place of train.parquet

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
MASKED_SCHEMA = pa.schema([
    ("seq_id", pa.int32()), ("copy", pa.int32()),
    ("input_ids", pa.list_(pa.int32())), ("labels", pa.list_(pa.int32())),
    ("mask_unit", pa.list_(pa.int32())), ("mask_kind", pa.list_(pa.string())),
    ("in_entity", pa.list_(pa.bool_())),
])
MASKED_PAIR_SCHEMA = pa.schema([
    *MASKED_SCHEMA, ("token_type_ids", pa.list_(pa.int8())), ("pair_label", pa.int32()),
])
UNITS_SCHEMA = pa.schema([
    ("seq_id", pa.int32()), ("input_ids", pa.list_(pa.int32())),
    ("in_entity", pa.list_(pa.bool_())), ("unit_start", pa.list_(pa.int32())),
    ("unit_end", pa.list_(pa.int32())), ("unit_kind", pa.list_(pa.string())),
])


def split_file(split_dir: Path | str, split: str) -> Path:
    """``<split_dir>/<split>.jsonl`` for one of ``SPLITS``."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    return Path(split_dir) / f"{split}.jsonl"


# --- Parquet ---------------------------------------------------------------------------

def write_rows(rows: list[dict], schema: pa.Schema, path: Path | str) -> None:
    """Write dict rows as a table of ``schema``."""
    columns = {name: [row[name] for row in rows] for name in schema.names}
    write_table(pa.table(columns, schema=schema), path)


def write_table(table: pa.Table, path: Path | str) -> None:
    """Write a table (zstd, deterministic bytes) atomically, creating the parent folder."""
    with atomic_file(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def read_table(path: Path | str, schema: pa.Schema, columns: list[str] | None = None
               ) -> pa.Table:
    """Read ``columns`` (default: all of ``schema``), failing clearly on a missing file or
    column."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found (run the stage that writes it)")
    wanted = columns or schema.names
    present = set(pq.read_schema(path).names)
    missing = [c for c in wanted if c not in present]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; rerun the stage that writes it")
    return pq.read_table(path, columns=wanted)


def read_ner_windows(path: Path | str, split: str) -> list[dict]:
    """NER windows of one split: ``input_ids`` and BIO ``tags`` (null for specials)."""
    table = read_table(path, NER_SCHEMA, ["split", "input_ids", "tags"])
    table = table.filter(pc.equal(table.column("split"), split))
    rows = [{"input_ids": ids, "tags": tags} for ids, tags in
            zip(table.column("input_ids").to_pylist(), table.column("tags").to_pylist())]
    if not rows:
        raise ValueError(f"{path}: no {split} windows")
    return rows


def read_masked(path: Path | str, with_entity: bool = False) -> list[dict]:
    """Masked copies as Trainer examples (``input_ids``, ``labels``[, ``in_entity``], and
    ``token_type_ids`` + ``pair_label`` when the file holds sentence pairs)."""
    pairs = "pair_label" in pq.read_schema(path).names if Path(path).is_file() else False
    columns = (["input_ids", "labels"] + (["in_entity"] if with_entity else [])
               + (["token_type_ids", "pair_label"] if pairs else []))
    table = read_table(path, MASKED_PAIR_SCHEMA if pairs else MASKED_SCHEMA, columns)
    data = {name: table.column(name).to_pylist() for name in columns}
    rows = [dict(zip(columns, values)) for values in zip(*data.values())]
    for i, row in enumerate(rows):
        if len(row["input_ids"]) != len(row["labels"]):
            raise ValueError(f"{path}: row {i}: input_ids and labels differ in length")
    if not rows:
        raise ValueError(f"{path}: no masked sequences")
    return rows


# --- metrics JSON ----------------------------------------------------------------------

def check_finite(obj: Any, where: str = "metrics") -> None:
    """Raise if a metrics structure holds NaN or inf: a failed run must fail loudly."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            check_finite(value, f"{where}.{key}")
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            check_finite(value, f"{where}[{i}]")
    elif isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError(f"non-finite value {obj} at {where}")


def write_json(path: Path | str, obj: Any) -> None:
    """Write JSON deterministically (sorted keys, UTF-8, trailing newline) and atomically."""
    check_finite(obj, str(path))
    write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
