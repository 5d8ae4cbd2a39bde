"""Sentence pairs for the pair objectives (``pretrain.pair_task``): sentence-order
prediction (SOP, ALBERT) and next-sentence prediction (NSP, BERT).

A pair is laid out from one MLM sequence (a window of whole sentences, ``dapt.data.windows``)
after its masks are drawn, so the masks move with their tokens:

* segment A is the window's sentences before a cut, B those after it; the cut is drawn
  uniformly among the window's sentence ends (the windows' own cut rule, ``cut_levels``);
* ``sop``: with probability 1/2 the segments are swapped (label 1; 0 keeps the order);
* ``nsp``: with probability 1/2, B is replaced by a run of the same length from another
  document's sequence of the same partition (train or held-out eval), starting at one of its
  sentence starts (label 1 = random next; 0 = the true continuation);
* the row is ``[CLS] A [SEP] B [SEP]`` with ``token_type_ids`` 0 then 1; when the extra
  [SEP] (or a longer random B) passes ``tokenize.max_len``, the longer segment loses tokens
  at its outer end (BERT's ``truncate_seq_pair``, keeping the junction the task is about).

A sequence with no sentence end inside (one sentence) cannot be split: it stays a single
segment with pair label ``IGNORE_LABEL`` (it still trains the MLM head) and is counted as
``unpaired``. Every draw comes from ``np.random.default_rng([seed, seq_id, copy, 1])`` (the
masks use ``[seed, seq_id, copy]``), so pairs never depend on row order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from dapt.data.contracts import IGNORE_LABEL
from dapt.data.windows import SENTENCE, cut_levels
from dapt.masking.sequences import Sequences, exclusive_cumsum, segment_index

log = logging.getLogger("pairs")

PAIR_TASKS = ("sop", "nsp")
PAIR_STREAM = 1  # fourth seed word: the pair draw's stream, apart from the masks'
PARTNER_TRIES = 16  # NSP: draws of another document's sequence before giving up


@dataclass
class Layout:
    """Stored rows as a gather over the flat token arrays of ``Sequences``: row ``i`` holds
    positions ``idx[offsets[i]:offsets[i + 1]]`` (``-1``: an inserted [SEP])."""

    seq_id: np.ndarray  # int64 (rows,)
    idx: np.ndarray  # int64, flat
    offsets: np.ndarray  # int64 (rows + 1,)
    token_type: np.ndarray | None = None  # int8, flat (None: one segment everywhere)
    pair_label: np.ndarray | None = None  # int32 (rows,), IGNORE_LABEL: not paired

    @classmethod
    def plain(cls, seqs: Sequences, rows: np.ndarray) -> Layout:
        """The sequences ``rows`` as they are."""
        idx, off = segment_index(seqs.offsets, rows)
        return cls(seqs.seq_id[rows], idx, off)


def sentence_cuts(seqs: Sequences) -> list[np.ndarray]:
    """Per row, the local positions ``k`` (2 <= k <= n - 2) where a sentence ends before
    token ``k``: cutting there leaves both parts at least one token."""
    cuts = []
    for r in range(len(seqs)):
        lo, hi = int(seqs.offsets[r]) + 1, int(seqs.offsets[r + 1]) - 1  # body tokens
        chars = (seqs.char_start[lo:hi] - seqs.text_start[r]).tolist()
        levels = cut_levels(seqs.text[r], chars) if chars else []
        cuts.append(np.array([i + 1 for i in range(1, len(chars)) if levels[i] == SENTENCE],
                             np.int64))
    return cuts


@dataclass
class PairStats:
    """Counts of one pair draw (summed over copies by ``merge``)."""

    rows: int = 0
    paired: int = 0
    positive: int = 0  # label 1: swapped (sop) or random next (nsp)
    no_partner: int = 0  # nsp: no other document's sequence found, kept as the true next
    trimmed_tokens: int = 0

    def merge(self, other: PairStats) -> PairStats:
        return PairStats(*(a + b for a, b in zip(vars(self).values(), vars(other).values())))

    def as_dict(self, task: str) -> dict:
        unpaired = self.rows - self.paired
        return {"task": task, "rows": self.rows, "paired": self.paired,
                "unpaired": unpaired, "unpaired_share": _ratio(unpaired, self.rows),
                "positive_share": _ratio(self.positive, self.paired),
                "no_partner": self.no_partner, "trimmed_tokens": self.trimmed_tokens}


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


def pair_layout(seqs: Sequences, rows: np.ndarray, cuts: list[np.ndarray], task: str,
                seed: int, copy: int, max_len: int) -> tuple[Layout, PairStats]:
    """Pair rows for the sequences ``rows`` (one partition: NSP partners come from it)."""
    if task not in PAIR_TASKS:
        raise ValueError(f"pretrain.pair_task must be one of none, {', '.join(PAIR_TASKS)}; "
                         f"got {task!r}")
    rows = np.asarray(rows, np.int64)
    docs = [(str(seqs.source[r]), str(seqs.doc_id[r])) for r in rows.tolist()]
    pieces, types, labels = [], [], []
    stats = PairStats(rows=len(rows))
    for i, r in enumerate(rows.tolist()):
        first, last = int(seqs.offsets[r]), int(seqs.offsets[r + 1]) - 1  # [CLS], [SEP]
        if not len(cuts[r]):
            pieces.append(np.arange(first, last + 1))
            types.append(np.zeros(last + 1 - first, np.int8))
            labels.append(IGNORE_LABEL)
            continue
        rng = np.random.default_rng([seed, int(seqs.seq_id[r]), copy, PAIR_STREAM])
        u_cut, u_label = rng.random(2)
        k = first + int(cuts[r][int(u_cut * len(cuts[r]))])
        seg_a, seg_b = np.arange(first + 1, k), np.arange(k, last)
        label = int(u_label < 0.5)
        if task == "sop" and label:
            seg_a, seg_b = seg_b, seg_a
        elif task == "nsp" and label:
            partner = _partner(rng, rows, docs, i)
            if partner is None:
                label = 0
                stats.no_partner += 1
            else:
                seg_b = _run_from(seqs, partner, cuts[partner], len(seg_b), rng.random())
        seg_a, seg_b, cut = _trim(seg_a, seg_b, max_len)
        stats.trimmed_tokens += cut
        stats.paired += 1
        stats.positive += label
        pieces.append(np.concatenate([[first], seg_a, [-1], seg_b, [last]]))
        types.append(np.concatenate([np.zeros(len(seg_a) + 2, np.int8),
                                     np.ones(len(seg_b) + 1, np.int8)]))
        labels.append(label)
    lengths = np.array([len(p) for p in pieces], np.int64)
    idx = np.concatenate(pieces).astype(np.int64) if pieces else np.empty(0, np.int64)
    token_type = np.concatenate(types) if types else np.empty(0, np.int8)
    layout = Layout(seqs.seq_id[rows], idx, exclusive_cumsum(lengths), token_type,
                    np.array(labels, np.int32))
    return layout, stats


def _partner(rng: np.random.Generator, rows: np.ndarray, docs: list[tuple[str, str]],
             i: int) -> int | None:
    """A row (index into the sequences) of another document among ``rows``, or None."""
    for u in rng.random(PARTNER_TRIES).tolist():
        j = int(u * len(rows))
        if docs[j] != docs[i]:
            return int(rows[j])
    return None


def _run_from(seqs: Sequences, r: int, cuts: np.ndarray, length: int, u: float) -> np.ndarray:
    """Up to ``length`` body tokens of row ``r`` from a sentence start drawn with ``u``."""
    first, last = int(seqs.offsets[r]), int(seqs.offsets[r + 1]) - 1
    starts = np.concatenate([[1], cuts])
    start = first + int(starts[int(u * len(starts))])
    return np.arange(start, min(start + max(length, 1), last))


def _trim(seg_a: np.ndarray, seg_b: np.ndarray, max_len: int
          ) -> tuple[np.ndarray, np.ndarray, int]:
    """Drop tokens from the longer segment's outer end (A's front, B's back) until
    ``[CLS] A [SEP] B [SEP]`` fits ``max_len``; returns the segments and the tokens dropped."""
    over = len(seg_a) + len(seg_b) + 3 - max_len
    cut = max(over, 0)
    while over > 0:
        if len(seg_a) > len(seg_b):
            seg_a = seg_a[1:]
        else:
            seg_b = seg_b[:-1]
        over -= 1
    return seg_a, seg_b, cut


def lay_out(seqs: Sequences, train_rows: np.ndarray, held_out: np.ndarray, task: str,
            seed: int, max_len: int, copies: int) -> tuple[list[Layout], dict | None]:
    """Row layouts for mask-annotate: one per train copy, then the held-out rows' (copy 0);
    sentence pairs for ``task`` (``pretrain.pair_task``) with their counts, else (``none``)
    the sequences as they are and None."""
    if task == "none":
        return [Layout.plain(seqs, train_rows)] * copies + [Layout.plain(seqs, held_out)], None
    cuts = sentence_cuts(seqs)
    layouts, train_stats = [], PairStats()
    for c in range(copies):
        layout, stats = pair_layout(seqs, train_rows, cuts, task, seed, c, max_len)
        layouts.append(layout)
        train_stats = train_stats.merge(stats)
    layout, eval_stats = pair_layout(seqs, held_out, cuts, task, seed, 0, max_len)
    info = {**train_stats.as_dict(task), "eval": eval_stats.as_dict(task)}
    log.info("%s pairs: %d of %d train rows paired (%.1f%% unpaired: one sentence), label-1 "
             "share %.3f, %d tokens trimmed", task, info["paired"], info["rows"],
             100 * info["unpaired_share"], info["positive_share"], info["trimmed_tokens"])
    return [*layouts, layout], info
