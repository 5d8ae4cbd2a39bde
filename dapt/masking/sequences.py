"""MLM sequences (the ``mlm.parquet`` contract) as flat numpy arrays, and segment helpers.

Row ``r`` holds tokens ``offsets[r]:offsets[r + 1]`` of the flat arrays; positions within a
row are local ([CLS] = 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dapt.data.contracts import MLM_SCHEMA, read_table


@dataclass
class Sequences:
    """The MLM sequences as flat numpy arrays (row r holds tokens offsets[r]:offsets[r+1])."""

    seq_id: np.ndarray  # int64 (n,)
    doc_id: np.ndarray  # str (n,)
    source: np.ndarray  # str (n,)
    offsets: np.ndarray  # int64 (n + 1,)
    ids: np.ndarray  # int32, flat
    char_start: np.ndarray  # int64, flat document offsets, -1 for specials
    char_end: np.ndarray  # int64, flat
    text: list[str]
    text_start: np.ndarray  # int64 (n,)
    ent_row: np.ndarray  # int64, gold entities: row, local token start/end, type
    ent_start: np.ndarray
    ent_end: np.ndarray
    ent_type: np.ndarray  # str

    def __len__(self) -> int:
        return len(self.seq_id)

    @classmethod
    def bare(cls, seq_id: np.ndarray, offsets: np.ndarray, ids: np.ndarray) -> Sequences:
        """Token ids only (no text, offsets or gold): what drawing masks from given units
        needs (``dapt.training.dynamic``)."""
        z, flat = np.empty(0, np.int64), np.full(len(ids), -1, np.int64)
        n = len(seq_id)
        return cls(seq_id=seq_id, doc_id=np.full(n, "", dtype=str),
                   source=np.full(n, "", dtype=str), offsets=offsets, ids=ids,
                   char_start=flat, char_end=flat, text=[""] * n,
                   text_start=np.zeros(n, np.int64), ent_row=z, ent_start=z, ent_end=z,
                   ent_type=np.empty(0, str))

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def row_of_token(self) -> np.ndarray:
        return np.repeat(np.arange(len(self)), self.lengths)


def _flat(column) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, values) of a pyarrow list column."""
    arr = column.combine_chunks()
    offsets = arr.offsets.to_numpy().astype(np.int64)
    values = arr.values.to_numpy(zero_copy_only=False)
    return offsets - offsets[0], values[offsets[0] : offsets[-1]]


def read_sequences(path: Path | str) -> Sequences:
    """Read ``mlm.parquet`` (the tokenize stage's MLM contract) into flat arrays."""
    table = read_table(path, MLM_SCHEMA)
    offsets, ids = _flat(table["input_ids"])
    _, char_start = _flat(table["char_start"])
    _, char_end = _flat(table["char_end"])
    ent_off, ent_start = _flat(table["entity_start"])
    _, ent_end = _flat(table["entity_end"])
    _, ent_type = _flat(table["entity_type"])
    n = table.num_rows
    seq_id = table["seq_id"].to_numpy().astype(np.int64)
    if len(np.unique(seq_id)) != n:
        raise ValueError(f"{path}: seq_id values are not unique")
    ent_row = np.repeat(np.arange(n), np.diff(ent_off))
    bad = (ent_start < 1) | (ent_end <= ent_start) | (ent_end > np.diff(offsets)[ent_row] - 1)
    if bad.any():
        row = int(ent_row[np.flatnonzero(bad)[0]])
        raise ValueError(f"{path}: seq_id {seq_id[row]}: an entity span lies outside the "
                         "sequence's tokens (expected [CLS] < start < end <= [SEP])")
    return Sequences(
        seq_id=seq_id,
        doc_id=np.asarray(table["doc_id"].to_pylist(), dtype=str),
        source=np.asarray(table["source"].to_pylist(), dtype=str),
        offsets=offsets,
        ids=ids.astype(np.int32),
        char_start=char_start.astype(np.int64),
        char_end=char_end.astype(np.int64),
        text=table["text"].to_pylist(),
        text_start=table["text_start"].to_numpy().astype(np.int64),
        ent_row=ent_row,
        ent_start=ent_start.astype(np.int64),
        ent_end=ent_end.astype(np.int64),
        ent_type=np.asarray(ent_type, dtype=str) if len(ent_type) else np.empty(0, str),
    )


def exclusive_cumsum(x: np.ndarray) -> np.ndarray:
    out = np.zeros(len(x) + 1, np.int64)
    np.cumsum(x, out=out[1:])
    return out



def segment_index(offsets: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices of the tokens of ``rows`` (in that order) and their new offsets."""
    lens = offsets[rows + 1] - offsets[rows]
    new_off = exclusive_cumsum(lens)
    row_of = np.repeat(np.arange(len(rows)), lens)
    idx = offsets[rows][row_of] + np.arange(int(lens.sum())) - new_off[row_of]
    return idx, new_off
