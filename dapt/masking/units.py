"""Masking units of MLM sequences: gold entities, lexicon matches, tagged spans, jieba
words, tokens.

A *unit* is a run of tokens ``[start, end)`` (positions within one sequence, [CLS] = 0)
that is masked as a whole. Units of one kind never overlap.

* gold entities: the ``entity_*`` columns of ``mlm.parquet`` (train documents only);
* entity units of every *non-train* sequence (train sequences keep their gold entities
  only), from one source (``mask.unlabeled_units``):

  * lexicon matches: a surface -> type lexicon built from the train sequences' gold
    entities only (plus an optional external lexicon file), matched with pyahocorasick
    (longest matches win, then the leftmost; matches never overlap);
  * tagged spans: a tagger's predicted spans in document offsets (the unit-tagger stage);
    a span that crosses a sequence edge is dropped;

* jieba words (whole-word masking), from a dedicated, quiet ``jieba.Tokenizer`` (plus an
  optional user dictionary);
* single tokens.

Words, matches and tagged spans are found in ``text`` (character positions) and mapped to
the tokens whose characters fall inside them; a span covering only dropped whitespace has
no token and is no unit.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dapt.data.contracts import TRAIN
from dapt.data.documents import Document
from dapt.masking.sequences import Sequences

SHIFT = np.int64(1 << 32)  # row key stride for char -> token lookups


@dataclass
class Units:
    """Masking units sorted by (row, start); positions are local to the row."""

    row: np.ndarray
    start: np.ndarray
    end: np.ndarray
    kind: np.ndarray  # str: an entity type, or "token" / "word" / "span"
    entity: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.row)

    @classmethod
    def empty(cls) -> Units:
        z = np.empty(0, np.int64)
        return cls(z, z, z, np.empty(0, str), np.empty(0, bool))

    @classmethod
    def build(cls, row, start, end, kind, entity: bool) -> Units:
        row, start, end = (np.asarray(x, np.int64) for x in (row, start, end))
        kind = np.asarray(kind, dtype=str) if len(row) else np.empty(0, str)
        keep = end > start
        order = np.lexsort((start[keep], row[keep]))
        return cls(row[keep][order], start[keep][order], end[keep][order],
                   kind[keep][order], np.full(int(keep.sum()), entity))

    @classmethod
    def concat(cls, *parts: Units) -> Units:
        """Merge unit sets (callers make sure they do not overlap)."""
        row, start = (np.concatenate([getattr(p, a) for p in parts]) for a in ("row", "start"))
        order = np.lexsort((start, row))
        pick = {a: np.concatenate([getattr(p, a) for p in parts])[order]
                for a in ("end", "kind", "entity")}
        return cls(row[order], start[order], **pick)

    def take(self, mask: np.ndarray) -> Units:
        return Units(self.row[mask], self.start[mask], self.end[mask], self.kind[mask],
                     self.entity[mask])


def keep_disjoint_units(units: Units) -> tuple[Units, int]:
    """Keep non-overlapping units, longer first (then leftmost); returns (kept, dropped)."""
    order = np.lexsort((units.start, units.start - units.end, units.row))
    keep = np.zeros(len(units), bool)
    last_row, taken = -1, []
    for i in order.tolist():
        r, s, e = int(units.row[i]), int(units.start[i]), int(units.end[i])
        if r != last_row:
            last_row, taken = r, []
        if all(e <= ts or s >= te for ts, te in taken):
            taken.append((s, e))
            keep[i] = True
    return units.take(keep), int(len(units) - keep.sum())


def gold_units(seqs: Sequences) -> tuple[Units, int]:
    """Gold entity units (train sequences only carry them); returns (units, overlaps dropped)."""
    units = Units.build(seqs.ent_row, seqs.ent_start, seqs.ent_end, seqs.ent_type, True)
    return keep_disjoint_units(units)


def entity_surfaces(seqs: Sequences) -> list[tuple[str, str]]:
    """(surface text, type) of every gold entity of a train sequence."""
    out = []
    first_char = seqs.char_start[seqs.offsets[seqs.ent_row] + seqs.ent_start]
    last_char = seqs.char_end[seqs.offsets[seqs.ent_row] + seqs.ent_end - 1]
    for r, a, b, t in zip(seqs.ent_row.tolist(), first_char.tolist(), last_char.tolist(),
                          seqs.ent_type.tolist()):
        if seqs.source[r] != TRAIN:
            raise ValueError(f"sequence {seqs.seq_id[r]} ({seqs.source[r]}) carries gold "
                             "entities: only train sequences may (leakage rule)")
        base = int(seqs.text_start[r])
        out.append((seqs.text[r][a - base : b - base], t))
    return out


@dataclass
class Lexicon:
    """Surface -> entity type, built from train gold entities."""

    entries: dict[str, str]
    stats: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.entries)

    def matches(self, texts: Iterable[str]) -> list[list[tuple[int, int, str]]]:
        """Longest matches ``(start, end, type)`` in each text (see ``longest_matches``)."""
        texts = list(texts)
        if not self.entries:
            return [[] for _ in texts]
        import ahocorasick

        automaton = ahocorasick.Automaton()
        for surface, typ in self.entries.items():
            automaton.add_word(surface, (len(surface), typ))
        automaton.make_automaton()
        return [longest_matches(automaton, text) for text in texts]


def build_lexicon(seqs: Sequences, min_len: int, conflict: str,
                  extra: Iterable[tuple[str, str]] = ()) -> Lexicon:
    """Lexicon of train-split gold surfaces (and the ``extra`` entries, each distinct one
    counted like one more gold entity) of at least ``min_len`` characters.

    A surface annotated with several types is resolved by ``conflict``: ``majority`` keeps
    the most frequent type (ties: alphabetical first), ``skip`` drops the surface.
    """
    counts: dict[str, Counter] = {}
    short = 0
    for surface, typ in entity_surfaces(seqs) + sorted(set(extra)):
        if len(surface) < min_len:
            short += 1
            continue
        counts.setdefault(surface, Counter())[typ] += 1
    entries, conflicts = {}, 0
    for surface in sorted(counts):
        ranked = sorted(counts[surface].items(), key=lambda kv: (-kv[1], kv[0]))
        if len(ranked) > 1:
            conflicts += 1
            if conflict == "skip":
                continue
        entries[surface] = ranked[0][0]
    stats = {"surfaces": len(counts), "type_conflicts": conflicts, "too_short": short,
             "per_type": dict(sorted(Counter(entries.values()).items()))}
    return Lexicon(entries, stats)


def longest_matches(automaton, text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, type) matches: longest first, then leftmost."""
    cands = [(end + 1 - n, end + 1, typ) for end, (n, typ) in automaton.iter(text)]
    cands.sort(key=lambda c: (c[0] - c[1], c[0]))
    taken = bytearray(len(text))
    out = []
    for s, e, typ in cands:
        if taken.find(1, s, e) == -1:
            taken[s:e] = b"\x01" * (e - s)
            out.append((s, e, typ))
    out.sort()
    return out


def char_spans_to_tokens(seqs: Sequences, row: np.ndarray, a: np.ndarray, b: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Local token range [start, end) of the tokens whose chars lie in text[a:b] of a row."""
    row = np.asarray(row, np.int64)
    if not len(row):
        return np.empty(0, np.int64), np.empty(0, np.int64)
    body = seqs.char_start >= 0
    rows = seqs.row_of_token
    keys = rows * SHIFT + np.where(body, seqs.char_start, 0)
    n = np.arange(len(seqs), dtype=np.int64)
    keys[seqs.offsets[:-1]] = n * SHIFT - 1  # [CLS] sorts before the row's chars
    keys[seqs.offsets[1:] - 1] = n * SHIFT + (1 << 31)  # [SEP] after them
    base = row * SHIFT + seqs.text_start[row]
    lo = np.searchsorted(keys, base + np.asarray(a, np.int64), "left")
    hi = np.searchsorted(keys, base + np.asarray(b, np.int64), "left")
    return lo - seqs.offsets[row], hi - seqs.offsets[row]


def _char_units(seqs: Sequences, spans: list[tuple[int, int, int, str]], entity: bool) -> Units:
    if not spans:
        return Units.empty()
    row, a, b, kind = zip(*spans)
    start, end = char_spans_to_tokens(seqs, np.array(row), np.array(a), np.array(b))
    return Units.build(row, start, end, kind, entity)


def lexicon_units(seqs: Sequences, lexicon: Lexicon) -> Units:
    """Lexicon matches in the text of every non-train sequence."""
    rows = np.flatnonzero(seqs.source != TRAIN).tolist()
    found = lexicon.matches(seqs.text[r] for r in rows)
    spans = [(r, s, e, typ) for r, matches in zip(rows, found) for s, e, typ in matches]
    return _char_units(seqs, spans, True)


def tagged_units(seqs: Sequences, tagged: Mapping[tuple[str, str], Document]
                 ) -> tuple[Units, int]:
    """Predicted entities of ``tagged[(source, doc_id)]`` (document offsets, e.g. from the
    unit-tagger stage) in every non-train sequence; returns (units, number of spans dropped
    because they cross a sequence edge)."""
    spans, cut = [], set()
    for r in np.flatnonzero(seqs.source != TRAIN).tolist():
        key = (str(seqs.source[r]), str(seqs.doc_id[r]))
        doc = tagged.get(key)
        lo, text = int(seqs.text_start[r]), seqs.text[r]
        if doc is None or doc.text[lo : lo + len(text)] != text:
            raise ValueError(f"sequence {seqs.seq_id[r]}: no tagged document {key} with its "
                             "text (rerun the unit-tagger stage)")
        for e in doc.entities:
            if lo <= e.start and e.end <= lo + len(text):
                spans.append((r, e.start - lo, e.end - lo, e.type))
            elif e.start < lo + len(text) and lo < e.end:
                cut.add((key, e.start))
    return _char_units(seqs, spans, True), len(cut)


def jieba_tokenizer(user_dict: str | Path | None = None):
    """A dedicated, quiet jieba tokenizer on jieba's bundled dictionary, plus ``user_dict``
    (jieba's user-dictionary format: ``word [freq] [tag]`` per line) when given."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    tok.initialize()
    if user_dict is not None:
        with open(user_dict, "rb") as f:
            tok.load_userdict(f)
    return tok


def word_units(seqs: Sequences, user_dict: str | Path | None = None) -> Units:
    """jieba words (HMM on, deterministic) of each sequence's text."""
    tok = jieba_tokenizer(user_dict)
    spans = [(r, s, e, "word") for r, text in enumerate(seqs.text)
             for _, s, e in tok.tokenize(text)]
    return _char_units(seqs, spans, False)


def token_units(seqs: Sequences, maskable: np.ndarray, exclude: Units | None = None) -> Units:
    """One unit per maskable token, leaving out tokens covered by ``exclude``."""
    keep = maskable.copy()
    if exclude is not None and len(exclude):
        keep &= ~covered(seqs, exclude)
    pos = np.flatnonzero(keep)
    row = seqs.row_of_token[pos]
    start = pos - seqs.offsets[row]
    return Units.build(row, start, start + 1, np.full(len(pos), "token"), False)


def covered(seqs: Sequences, units: Units) -> np.ndarray:
    """Flat bool: token lies inside one of the units."""
    delta = np.zeros(len(seqs.ids) + 1, np.int64)
    base = seqs.offsets[units.row]
    np.add.at(delta, base + units.start, 1)
    np.add.at(delta, base + units.end, -1)
    return np.cumsum(delta[:-1]) > 0
