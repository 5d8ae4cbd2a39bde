"""Masking strategies: which units to mask, 80/10/10 replacement, budget, per-copy RNG.

Every copy ``c`` of sequence ``seq_id`` draws from its own generator,
``np.random.default_rng([seed, seq_id, c])``, so masks never depend on row order,
batching or process count. For the unit strategies the generator yields one block of
uniforms laid out as ``[select k | order k | replace k | token n]`` (k units, n tokens):
the unit's Bernoulli draw, its rank for the budget, its 80/10/10 draw, and one uniform
per token that picks a random replacement id.

Strategies (``mask_strategy``, the names of ``dapt.params_schema.Strategy``; the schema
checks every value range), ``p = mask_prob``:

* ``token``: each maskable token with p (BERT);
* ``wwm``: each jieba word with p (Chinese-BERT-wwm);
* ``entity``: each entity unit with p; with ``mask_budget`` b, selected entities are taken
  in a seeded random order and one is skipped when it would push the sequence's masked
  entity tokens above floor(b x maskable tokens) (skip-and-continue, as BERT's
  ``create_pretraining_data``);
* ``entity_token``: ``entity`` plus every non-entity token with ``mask.token_prob``;
* ``span``: SpanBERT spans, length ~ geometric(``span_p``) truncated at ``span_max`` and
  renormalised (SpanBERT's code: mean 3.8 for 0.2/10), at uniformly drawn anchors that are
  not yet masked, until ceil(p x maskable tokens) tokens are masked (the last span is cut
  to fit; a span also stops at an already masked token).

Replacement is drawn once per unit, so all tokens of a unit share it. Special tokens
(every id in ``tokenizer.all_special_ids``, [UNK] included) are never masked; random
replacements are drawn among the non-special ids.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dapt.data.contracts import IGNORE_LABEL
from dapt.masking.sequences import Sequences, exclusive_cumsum
from dapt.masking.units import Units, token_units
from dapt.params import as_params

MASK, RANDOM, KEEP = 0, 1, 2

BASE_KINDS = ("span", "token", "word")


@dataclass(frozen=True)
class MaskConfig:
    strategy: str
    prob: float
    budget: float | None
    token_prob: float
    replace_mask: float
    replace_random: float
    span_p: float
    span_max: int
    seed: int

    @classmethod
    def from_params(cls, params: Mapping) -> MaskConfig:
        params = as_params(params)
        m = params["mask"]
        return cls(
            strategy=params["mask_strategy"], prob=float(params["mask_prob"]),
            budget=None if params["mask_budget"] is None else float(params["mask_budget"]),
            token_prob=float(m["token_prob"]), replace_mask=float(m["replace_mask"]),
            replace_random=float(m["replace_random"]), span_p=float(m["span_p"]),
            span_max=int(m["span_max"]), seed=int(params["seed"]),
        )


@dataclass(frozen=True)
class Vocab:
    """What masking needs from the tokenizer."""

    mask_id: int
    special_ids: np.ndarray
    random_ids: np.ndarray

    @classmethod
    def from_tokenizer(cls, tokenizer) -> Vocab:
        special = np.array(sorted(set(tokenizer.all_special_ids)), np.int32)
        ids = np.arange(len(tokenizer), dtype=np.int32)
        return cls(int(tokenizer.mask_token_id), special, ids[~np.isin(ids, special)])


@dataclass
class Masked:
    """One masked copy of every sequence, flat like ``Sequences.ids``."""

    input_ids: np.ndarray  # int32
    labels: np.ndarray  # int32, IGNORE_LABEL where not predicted
    mask_unit: np.ndarray  # int32, -1 where not masked
    kind: np.ndarray  # int32 code into Masker.kind_names, -1 where not masked
    treatment: np.ndarray  # int8 MASK / RANDOM / KEEP, -1 where not masked
    budget_limited: np.ndarray  # bool per row: the budget dropped a selected unit


def span_length(u: float, p: float, span_max: int) -> int:
    """Inverse CDF of geometric(p) on 1..span_max, renormalised (SpanBERT)."""
    q = 1.0 - p
    k = int(math.log(1.0 - u * (1.0 - q**span_max)) / math.log(q)) + 1
    return min(k, span_max)


def draw_spans(rng: np.random.Generator, m: int, target: int, p: float, span_max: int
               ) -> list[tuple[int, int]]:
    """Non-overlapping spans [i, j) over m positions until ``target`` are covered."""
    taken = bytearray(m)
    spans: list[tuple[int, int]] = []
    count, tries, limit = 0, 0, 20 * m + 100
    u, i = rng.random(64).tolist(), 0
    while count < target and tries < limit:
        if i + 2 > len(u):
            u, i = rng.random(64).tolist(), 0
        length = span_length(u[i], p, span_max)
        anchor = int(u[i + 1] * m)
        i += 2
        tries += 1
        if taken[anchor]:
            continue
        stop = min(m, anchor + length, anchor + target - count)
        j = anchor
        while j < stop and not taken[j]:
            taken[j] = 1
            j += 1
        spans.append((anchor, j))
        count += j - anchor
    spans.sort()
    return spans


class Masker:
    """Draws masked copies of ``seqs`` under one strategy."""

    def __init__(self, seqs: Sequences, cfg: MaskConfig, vocab: Vocab, entities: Units,
                 words: Units | None = None, candidates: Units | None = None):
        """``candidates``: the units to draw from as ``candidate_units`` returned them (e.g.
        stored for dynamic masking); None: found here from ``entities`` and ``words``."""
        self.seqs, self.cfg, self.vocab = seqs, cfg, vocab
        self.maskable = ~np.isin(seqs.ids, vocab.special_ids)
        self.n_maskable = np.add.reduceat(self.maskable.astype(np.int64), seqs.offsets[:-1])
        if candidates is None:
            candidates = self._candidates(entities, words)
        types = sorted(set(entities.kind.tolist()) | set(candidates.kind.tolist()))
        self.kind_names = list(BASE_KINDS) + [t for t in types if t not in BASE_KINDS]
        self.units = candidates
        self.prob = np.where(candidates.entity | (cfg.strategy != "entity_token"), cfg.prob,
                             cfg.token_prob)
        self.budgeted = candidates.entity & (cfg.budget is not None)
        cum = exclusive_cumsum(self.maskable)
        base = seqs.offsets[self.units.row]
        self.unit_len = cum[base + self.units.end] - cum[base + self.units.start]
        self.unit_code = self._codes(self.units.kind)
        self.k = np.bincount(self.units.row, minlength=len(seqs))  # units per sequence
        self.unit_first = exclusive_cumsum(self.k)
        self.unit_local = np.arange(len(self.units)) - self.unit_first[self.units.row]

    def _codes(self, kinds: np.ndarray) -> np.ndarray:
        lookup = {name: i for i, name in enumerate(self.kind_names)}
        return np.array([lookup[k] for k in kinds.tolist()], np.int32)

    def _candidates(self, entities: Units, words: Units | None) -> Units:
        """The strategy's units: what ``copy`` draws from (none for ``span``: drawn per copy).
        A unit is an entity unit (``entity``) or a token/word one; ``entity_token`` draws the
        first with ``mask_prob``, the others with ``mask.token_prob``."""
        strategy = self.cfg.strategy
        if strategy == "token":
            return token_units(self.seqs, self.maskable)
        if strategy == "wwm":
            if words is None:
                raise ValueError("wwm needs word units")
            return words
        if strategy == "entity":
            return entities
        if strategy == "entity_token":
            return Units.concat(entities, token_units(self.seqs, self.maskable, entities))
        return Units.empty()

    def copy(self, c: int) -> Masked:
        """Masked copy ``c`` of every sequence."""
        if self.cfg.strategy == "span":
            return self._span_copy(c)
        seqs, units = self.seqs, self.units
        lengths = seqs.lengths
        size = 3 * self.k + lengths
        block = exclusive_cumsum(size)
        u = np.concatenate([np.random.default_rng([self.cfg.seed, sid, c]).random(s)
                            for sid, s in zip(seqs.seq_id.tolist(), size.tolist())])
        at = block[units.row] + self.unit_local
        kr = self.k[units.row]
        u_sel, u_ord, u_rep = u[at], u[at + kr], u[at + 2 * kr]
        rows = seqs.row_of_token
        u_tok = u[block[rows] + 3 * self.k[rows] + np.arange(len(rows)) - seqs.offsets[rows]]
        selected = (u_sel < self.prob) & (self.unit_len > 0)
        limited = np.zeros(len(seqs), bool)
        if self.cfg.budget is not None:
            limited = self._apply_budget(selected, u_ord)
        pick = np.flatnonzero(selected)
        out = self._apply(units.row[pick], units.start[pick], units.end[pick],
                          self.unit_code[pick], self.unit_local[pick], u_rep[pick], u_tok)
        out.budget_limited = limited
        return out

    def _apply_budget(self, selected: np.ndarray, u_ord: np.ndarray) -> np.ndarray:
        """Drop selected budgeted units over the cap, in place; returns limited rows."""
        n = len(self.seqs)
        cap = np.floor(self.cfg.budget * self.n_maskable + 1e-9)
        sel = selected & self.budgeted
        total = np.bincount(self.units.row[sel], weights=self.unit_len[sel], minlength=n)
        over = np.flatnonzero(total > cap)
        for r in over.tolist():
            lo, hi = self.unit_first[r], self.unit_first[r + 1]
            idx = lo + np.flatnonzero(sel[lo:hi])
            used = 0
            for i in idx[np.argsort(u_ord[idx], kind="stable")].tolist():
                if used + self.unit_len[i] <= cap[r]:
                    used += self.unit_len[i]
                else:
                    selected[i] = False
        limited = np.zeros(n, bool)
        limited[over] = True
        return limited

    def _apply(self, row, start, end, code, local, u_rep, u_tok) -> Masked:
        """Mask the given units (80/10/10 per unit) in a fresh copy of the ids."""
        seqs, cfg = self.seqs, self.cfg
        treat = np.where(u_rep < cfg.replace_mask, MASK,
                         np.where(u_rep < cfg.replace_mask + cfg.replace_random, RANDOM, KEEP))
        lens = end - start
        first = seqs.offsets[row] + start
        unit_of = np.repeat(np.arange(len(row)), lens)
        pos = first[unit_of] + np.arange(int(lens.sum())) - exclusive_cumsum(lens)[unit_of]
        ok = self.maskable[pos]
        pos, unit_of = pos[ok], unit_of[ok]
        n = len(seqs.ids)
        ids = seqs.ids.copy()
        labels = np.full(n, IGNORE_LABEL, np.int32)
        labels[pos] = ids[pos]
        t = treat[unit_of].astype(np.int8)
        ids[pos[t == MASK]] = self.vocab.mask_id
        rnd = pos[t == RANDOM]
        n_ids = len(self.vocab.random_ids)
        ids[rnd] = self.vocab.random_ids[np.minimum((u_tok[rnd] * n_ids).astype(np.int64),
                                                    n_ids - 1)]
        mask_unit = np.full(n, -1, np.int32)
        mask_unit[pos] = local[unit_of]
        kind = np.full(n, -1, np.int32)
        kind[pos] = code[unit_of]
        treatment = np.full(n, -1, np.int8)
        treatment[pos] = t
        return Masked(ids, labels, mask_unit, kind, treatment, np.zeros(len(seqs), bool))

    def _span_copy(self, c: int) -> Masked:
        seqs, cfg = self.seqs, self.cfg
        local_pos = np.flatnonzero(self.maskable) - seqs.offsets[seqs.row_of_token][self.maskable]
        m_off = exclusive_cumsum(self.n_maskable)
        u_tok, rows, starts, ends, local, u_rep = [], [], [], [], [], []
        for r, (sid, n) in enumerate(zip(seqs.seq_id.tolist(), seqs.lengths.tolist())):
            rng = np.random.default_rng([cfg.seed, sid, c])
            u_tok.append(rng.random(n))
            m = int(self.n_maskable[r])
            positions = local_pos[m_off[r] : m_off[r + 1]].tolist()
            target = math.ceil(cfg.prob * m - 1e-9)
            spans = draw_spans(rng, m, target, cfg.span_p, cfg.span_max) if m else []
            u_rep.append(rng.random(len(spans)))
            for j, (a, b) in enumerate(spans):
                rows.append(r)
                starts.append(positions[a])
                ends.append(positions[b - 1] + 1)
                local.append(j)
        span_code = self.kind_names.index("span")
        arr = (np.array(x, np.int64) for x in (rows, starts, ends, local))
        row, start, end, local_idx = arr
        return self._apply(row, start, end, np.full(len(row), span_code, np.int32), local_idx,
                           np.concatenate(u_rep), np.concatenate(u_tok))
