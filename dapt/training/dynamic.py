"""Dynamic masking (``mask_mode: dynamic``): fresh masks every epoch, drawn at train time.

mask-annotate stores the unmasked train sequences with the strategy's candidate units
(``masked/units.parquet``, ``UNITS_SCHEMA``) and its masking record; here the same
``dapt.masking.strategies.Masker`` draws the masks of epoch ``e`` as it would draw static
copy ``e``: from ``np.random.default_rng([seed, seq_id, e])``. So the masks are a pure
function of (seed, epoch, sequence): a rerun and a run resumed mid-epoch see identical
masks, every epoch sees new ones, and epoch ``e`` of a dynamic run masks exactly like copy
``e`` of a static run with the same strategy and seed (only the order in which the
sequences are visited differs). With ``mask_strategy: token`` at 0.15 this is the stock
``run_mlm.py`` recipe (``DataCollatorForLanguageModeling``: 80/10/10 per token).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dapt.data.contracts import IGNORE_LABEL, UNITS_SCHEMA, read_table
from dapt.masking.sequences import Sequences
from dapt.masking.strategies import BASE_KINDS, MaskConfig, Masked, Masker, Vocab
from dapt.masking.units import Units

log = logging.getLogger("dynamic")


def config_from_record(record: Mapping[str, Any]) -> MaskConfig:
    """The ``MaskConfig`` that mask-annotate recorded in ``masking.json``."""
    return MaskConfig.from_params({
        "mask_strategy": record["strategy"], "mask_prob": record["mask_prob"],
        "mask_budget": record["mask_budget"], "seed": record["seed"], "mask": record["mask"]})


def read_units(path: Path | str) -> tuple[Sequences, Units]:
    """The sequences and candidate units of ``units.parquet``."""
    table = read_table(path, UNITS_SCHEMA)
    ids = table["input_ids"].combine_chunks()
    offsets = ids.offsets.to_numpy().astype(np.int64)
    seqs = Sequences.bare(table["seq_id"].to_numpy().astype(np.int64), offsets - offsets[0],
                          ids.values.to_numpy()[offsets[0]:offsets[-1]].astype(np.int32))
    starts = table["unit_start"].combine_chunks()
    per_row = np.diff(starts.offsets.to_numpy())
    row = np.repeat(np.arange(len(seqs)), per_row)
    flat = [table[c].combine_chunks().flatten() for c in ("unit_start", "unit_end", "unit_kind")]
    start, end = (np.asarray(c.to_numpy(), np.int64) for c in flat[:2])
    kind = np.asarray(flat[2].to_pylist(), dtype=str) if len(row) else np.empty(0, str)
    bad = (start < 1) | (end <= start) | (end > seqs.lengths[row] - 1)
    if bad.any():
        raise ValueError(f"{path}: seq_id {seqs.seq_id[row[np.flatnonzero(bad)[0]]]}: a unit "
                         "lies outside the sequence's tokens; rerun mask-annotate")
    return seqs, Units(row, start, end, kind, ~np.isin(kind, BASE_KINDS))


class DynamicMasks(torch.utils.data.Dataset):
    """Train examples (``input_ids``, ``labels``) whose masks are those of the current epoch;
    ``set_epoch`` (called when an epoch starts, also after a resume) draws them."""

    def __init__(self, path: Path | str, record: Mapping[str, Any], vocab: Vocab):
        seqs, units = read_units(path)
        self.seqs = seqs
        self.masker = Masker(seqs, config_from_record(record), vocab, Units.empty(),
                             candidates=units)
        self.lengths = seqs.lengths.tolist()
        self.epoch = -1
        self.current: Masked | None = None
        self.counts: dict[int, tuple[int, int]] = {}  # epoch -> (masked, maskable tokens)

    def __len__(self) -> int:
        return len(self.seqs)

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.epoch, self.current = epoch, self.draw(epoch)

    def draw(self, epoch: int) -> Masked:
        masked = self.masker.copy(epoch)
        self.counts[epoch] = (int((masked.labels != IGNORE_LABEL).sum()),
                              int(self.masker.maskable.sum()))
        return masked

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        if self.current is None:
            self.set_epoch(0)
        lo, hi = int(self.seqs.offsets[i]), int(self.seqs.offsets[i + 1])
        return {"input_ids": self.current.input_ids[lo:hi].tolist(),
                "labels": self.current.labels[lo:hi].tolist()}

    def mask_rate(self, epochs: int) -> float:
        """Masked share of the maskable tokens over epochs ``0 .. epochs - 1`` (an epoch this
        process did not draw, e.g. before a resume, is drawn for the count)."""
        for e in range(epochs):
            if e not in self.counts:
                self.draw(e)
        masked = sum(self.counts[e][0] for e in range(epochs))
        maskable = sum(self.counts[e][1] for e in range(epochs))
        return masked / maskable if maskable else 0.0
