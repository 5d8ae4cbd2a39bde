"""Masking statistics: mask rate, entity shares, copies without a mask, per type."""

from __future__ import annotations

import numpy as np

from dapt.data.contracts import IGNORE_LABEL, TRAIN
from dapt.masking.sequences import exclusive_cumsum, segment_index
from dapt.masking.strategies import Masked, Masker
from dapt.masking.units import Units


def mask_stats(masker: Masker, copies: list[Masked], rows: np.ndarray, entities: Units,
               in_entity: np.ndarray, source: str = "lexicon") -> dict:
    """Masking statistics over ``rows`` (sequence indices) and the given copies.

    Per type, entity units are counted as ``gold`` (train sequences) and under ``source``
    (the name of the unit source of the other sequences, ``mask.unlabeled_units``).
    Counts run over sequence copies. An entity (gold or other) counts as masked when all
    its maskable tokens are, which for the entity strategies means its unit was drawn; for
    the others it measures how often a baseline happens to hide a whole entity.
    ``no_mask_sequences`` counts sequence copies without a predicted token.
    """
    seqs = masker.seqs
    idx, _ = segment_index(seqs.offsets, rows)
    in_rows = np.zeros(len(seqs), bool)
    in_rows[rows] = True
    ents = entities.take(in_rows[entities.row])
    base = seqs.offsets[ents.row]
    cum_m = exclusive_cumsum(masker.maskable)
    ent_len = cum_m[base + ents.end] - cum_m[base + ents.start]
    has_tokens = ent_len > 0
    types = sorted(set(ents.kind.tolist()))
    is_gold = seqs.source[ents.row] == TRAIN
    masked_units = np.zeros(len(ents), np.int64)
    n_masked = n_in_entity = no_mask = limited = 0
    treat = np.zeros(3, np.int64)
    max_share = 0.0
    n_rows_tok = masker.n_maskable[rows]
    for cp in copies:
        masked = cp.labels != IGNORE_LABEL
        cum = exclusive_cumsum(masked)
        masked_units += (cum[base + ents.end] - cum[base + ents.start]) == ent_len
        mk = masked[idx]
        n_masked += int(mk.sum())
        n_in_entity += int((mk & in_entity[idx]).sum())
        treat += np.bincount(cp.treatment[idx][mk], minlength=3)
        per_row = np.add.reduceat(masked.astype(np.int64), seqs.offsets[:-1])[rows]
        per_row_ent = np.add.reduceat((masked & in_entity).astype(np.int64),
                                      seqs.offsets[:-1])[rows]
        no_mask += int((per_row == 0).sum())
        limited += int(cp.budget_limited[rows].sum())
        share = per_row_ent / np.maximum(n_rows_tok, 1)
        max_share = max(max_share, float(share.max()) if len(share) else 0.0)
    n_copies = len(copies)
    maskable = int(n_rows_tok.sum()) * n_copies
    n_ent = int(has_tokens.sum()) * n_copies
    per_type = {}
    for t in types:
        sel = (ents.kind == t) & has_tokens
        units = int(sel.sum())
        per_type[t] = {
            "units": units, "gold": int((sel & is_gold).sum()),
            source: int((sel & ~is_gold).sum()),
            "masked": int(masked_units[sel].sum()),
            "masked_share": _ratio(int(masked_units[sel].sum()), units * n_copies),
        }
    return {
        "sequences": int(len(rows)), "copies": n_copies, "maskable_tokens": maskable,
        "masked_tokens": n_masked, "mask_rate": _ratio(n_masked, maskable),
        "entity_units": int(has_tokens.sum()),
        "entity_masked_share": _ratio(int(masked_units[has_tokens].sum()), n_ent),
        "masked_in_entity_share": _ratio(n_in_entity, n_masked),
        "entity_token_share": _ratio(int(in_entity[idx].sum()) * n_copies, maskable),
        "no_mask_sequences": no_mask,
        "no_mask_share": _ratio(no_mask, len(rows) * n_copies),
        "budget_limited_sequences": limited,
        "max_entity_mask_share": max_share,
        "replacement": {name: _ratio(int(treat[i]), n_masked)
                        for i, name in enumerate(("mask", "random", "keep"))},
        "per_type": per_type,
    }


def _ratio(a: float, b: float) -> float:
    return float(a) / float(b) if b else 0.0


def expected_mask_rate(masker: Masker, rows: np.ndarray) -> float:
    """The mask rate over ``rows`` that the units and params imply, before any draw: each
    unit's maskable tokens times its probability (``span``: ceil(p x maskable) per
    sequence, the span target). A ``mask_budget`` can only lower the drawn rate, so with
    one this is an upper bound."""
    maskable = int(masker.n_maskable[rows].sum())
    if not maskable:
        return 0.0
    if masker.cfg.strategy == "span":
        target = np.ceil(masker.cfg.prob * masker.n_maskable[rows] - 1e-9)
        return float(target.sum()) / maskable
    in_rows = np.isin(masker.units.row, rows)
    return float((masker.prob * masker.unit_len)[in_rows].sum()) / maskable
