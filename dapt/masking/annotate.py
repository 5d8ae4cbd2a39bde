"""The mask-annotate stage's logic: find the masking units of every MLM sequence (gold
entities of train sequences; in all other text the units of ``mask.unlabeled_units``;
jieba words for ``wwm``), score each unit source against the dev gold, choose the held-out
eval sequences, and lay masked copies out as a ``MASKED_SCHEMA`` table.

Dev/test annotations never reach the units: the dev gold only scores each source
(``unit_quality``: strict P/R/F1 of the spans each source finds in the dev documents' text,
as if it were unlabeled).
"""

from __future__ import annotations

import logging
from typing import get_args

import numpy as np
import pyarrow as pa

from dapt.data.contracts import (
    DEV,
    IGNORE_LABEL,
    MASKED_PAIR_SCHEMA,
    MASKED_SCHEMA,
    TEST,
    UNITS_SCHEMA,
    UNLABELED,
    split_file,
)
from dapt.data.documents import Document, Entity, read_jsonl
from dapt.data.readers import ReadReport, read_lexicon_file
from dapt.masking.pairs import Layout
from dapt.masking.sequences import Sequences, exclusive_cumsum
from dapt.masking.strategies import Masked, Masker
from dapt.masking.units import (
    Lexicon,
    Units,
    build_lexicon,
    gold_units,
    lexicon_units,
    tagged_units,
    word_units,
)
from dapt.ner.scoring import doc_spans, score_spans
from dapt.params import Params
from dapt.params_schema import UnitSource

log = logging.getLogger("mask-annotate")

UNIT_SOURCES: tuple[str, ...] = get_args(UnitSource)  # the sources mask.unlabeled_units names


def held_out_rows(n: int, size: int, eval_seed: int) -> np.ndarray:
    """Sorted row indices of the held-out sequences (a seeded draw)."""
    if not 0 <= size < n:
        raise ValueError(f"mask.eval_sequences must be in [0, {n - 1}] for {n} sequences, "
                         f"got {size}")
    return np.sort(np.random.default_rng([eval_seed, n]).choice(n, size, replace=False))


def masked_table(copies: list[tuple[int, Masked, Layout]], in_entity: np.ndarray,
                 kind_names: list[str], sep_id: int) -> pa.Table:
    """One row per (copy, laid-out row), copy-major, in the output schema (the pair columns
    ``token_type_ids`` and ``pair_label`` when the layouts are pairs)."""
    counts = [int(lay.offsets[-1]) for _, _, lay in copies]
    starts = np.cumsum([0, *counts])
    offsets = np.concatenate([lay.offsets[:-1] + base for (_, _, lay), base
                              in zip(copies, starts)] + [[starts[-1]]]).astype(np.int32)

    def gather(values: np.ndarray, lay: Layout, fill) -> np.ndarray:
        if not (lay.idx < 0).any():
            return values[lay.idx]
        return np.where(lay.idx >= 0, values[np.maximum(lay.idx, 0)], fill)

    def column(values: list[np.ndarray], type_: pa.DataType) -> pa.ListArray:
        flat = np.concatenate(values) if values else np.empty(0)
        return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, type=type_))

    codes = (np.concatenate([gather(m.kind, lay, -1) for _, m, lay in copies]) if copies
             else np.empty(0, int))
    kinds = pa.array(kind_names, pa.string()).take(pa.array(codes, pa.int32(), mask=codes < 0))
    columns = {
        "seq_id": pa.array(np.concatenate([lay.seq_id for _, _, lay in copies]), pa.int32()),
        "copy": pa.array(np.concatenate([np.full(len(lay.seq_id), c) for c, _, lay in copies]),
                         pa.int32()),
        "input_ids": column([gather(m.input_ids, lay, sep_id) for _, m, lay in copies],
                            pa.int32()),
        "labels": column([gather(m.labels, lay, IGNORE_LABEL) for _, m, lay in copies],
                         pa.int32()),
        "mask_unit": column([gather(m.mask_unit, lay, -1) for _, m, lay in copies], pa.int32()),
        "mask_kind": pa.ListArray.from_arrays(pa.array(offsets), kinds),
        "in_entity": column([gather(in_entity, lay, False) for _, _, lay in copies], pa.bool_()),
    }
    schema = MASKED_SCHEMA
    if any(lay.pair_label is not None for _, _, lay in copies):
        columns["token_type_ids"] = column([lay.token_type for _, _, lay in copies], pa.int8())
        columns["pair_label"] = pa.array(np.concatenate([lay.pair_label for _, _, lay in copies]),
                                         pa.int32())
        schema = MASKED_PAIR_SCHEMA
    return pa.table(columns, schema=schema)


def units_table(seqs: Sequences, rows: np.ndarray, masker: Masker, in_entity: np.ndarray
                ) -> pa.Table:
    """The unmasked sequences ``rows`` with the strategy's candidate units (``UNITS_SCHEMA``):
    what dynamic masking draws from at train time."""
    lay = Layout.plain(seqs, rows)
    offsets = pa.array(lay.offsets.astype(np.int32))
    units = masker.units
    pick = np.isin(units.row, rows)
    per_row = np.bincount(np.searchsorted(rows, units.row[pick]), minlength=len(rows))
    unit_off = pa.array(exclusive_cumsum(per_row).astype(np.int32))

    def listed(off: pa.Array, values: np.ndarray, type_: pa.DataType) -> pa.ListArray:
        return pa.ListArray.from_arrays(off, pa.array(values, type=type_))

    return pa.table({
        "seq_id": pa.array(lay.seq_id, pa.int32()),
        "input_ids": listed(offsets, seqs.ids[lay.idx], pa.int32()),
        "in_entity": listed(offsets, in_entity[lay.idx], pa.bool_()),
        "unit_start": listed(unit_off, units.start[pick], pa.int32()),
        "unit_end": listed(unit_off, units.end[pick], pa.int32()),
        "unit_kind": listed(unit_off, units.kind[pick].astype(object), pa.string()),
    }, schema=UNITS_SCHEMA)


def external_entries(params: Params) -> tuple[list[tuple[str, str]], dict]:
    """Entries of ``data.lexicon_file`` (null: none), bad lines handled per ``split.on_error``,
    and what was read."""
    path = params["data"]["lexicon_file"]
    if path is None:
        return [], {"entries": 0, "skipped": []}
    report = ReadReport(on_error=params["split"]["on_error"])
    entries = read_lexicon_file(path, report)
    for entry in report.skipped:
        log.warning("skipped %s", entry)
    return entries, {"entries": len(set(entries)),
                     "skipped": [s.as_dict() for s in report.skipped]}


def read_tagged(folder: str) -> dict[tuple[str, str], Document]:
    """The unit-tagger's predicted documents by (split, doc id)."""
    return {(split, d.id): d for split in (DEV, TEST, UNLABELED)
            for d in read_jsonl(split_file(folder, split))}


def unit_quality(dev: list[Document], lexicon: Lexicon,
                 tagged: dict[tuple[str, str], Document] | None) -> dict:
    """Strict span scores (``score_spans``) of each unit source's spans in the dev documents'
    whole text, found as if it were unlabeled, against the dev gold."""
    found = {"lexicon": [[Entity(s, e, t, d.text[s:e]) for s, e, t in matches]
                         for d, matches in zip(dev, lexicon.matches(d.text for d in dev))]}
    if tagged is not None:
        preds = [tagged.get((DEV, d.id)) for d in dev]
        if any(p is None or p.text != d.text for p, d in zip(preds, dev)):
            raise ValueError("the unit-tagger's dev predictions do not match the dev documents "
                             "(rerun the unit-tagger stage)")
        found["tagger"] = [p.entities for p in preds]
    gold = doc_spans(dev)
    return {name: score_spans(gold, doc_spans(dev, ents)) for name, ents in found.items()}


def find_units(seqs: Sequences, params: Params, units_dir: str | None, dev_file: str | None
               ) -> tuple[Units, Units | None, dict]:
    """Entity units (gold + the unlabeled-text source), jieba words when needed, and unit
    statistics. ``units_dir``: the unit-tagger's predictions (None: none); ``dev_file``: dev
    documents whose gold scores the unit sources (None: no ``unit_quality``)."""
    mcfg = params["mask"]
    source = mcfg["unlabeled_units"]
    if source not in UNIT_SOURCES:
        raise mcfg.error("unlabeled_units", f"must be one of {UNIT_SOURCES}")
    gold, overlaps = gold_units(seqs)
    extra, file_info = external_entries(params)
    lexicon = build_lexicon(seqs, int(mcfg["lexicon_min_len"]), mcfg["lexicon_conflict"], extra)
    lex = lexicon_units(seqs, lexicon)
    tagged = read_tagged(units_dir) if units_dir else None
    other, cut = lex, 0
    if source == "tagger":
        if tagged is None:
            raise mcfg.error("unlabeled_units", "needs the unit-tagger's predictions (--units)")
        other, cut = tagged_units(seqs, tagged)
    elif source == "none":
        other = Units.empty()
    entities = Units.concat(gold, other)
    words = word_units(seqs, mcfg["jieba_user_dict"]) if params["mask_strategy"] == "wwm" else None
    info = {
        "lexicon_size": len(lexicon),
        "lexicon_matches": len(lex),
        "lexicon": lexicon.stats,
        "lexicon_file": file_info,
        "gold_units": len(gold),
        "gold_overlaps_dropped": overlaps,
        "unlabeled_units": {"source": source, "units": len(other), "cut_spans": cut},
        "word_units": None if words is None else len(words),
    }
    if dev_file:
        info["unit_quality"] = unit_quality(read_jsonl(dev_file), lexicon, tagged)
    log.info("%d gold entity units, lexicon of %d surfaces, %d lexicon matches, %d %s units",
             len(gold), len(lexicon), len(lex), len(other), source)
    return entities, words, info
