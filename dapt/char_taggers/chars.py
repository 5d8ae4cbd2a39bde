"""Character sequences of documents for the baselines: whitespace-free positions with a
map back to document offsets, BIO tags, span decoding and sentence chunking."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from dapt.data.documents import Document, Entity

SENTENCE_ENDS = set("。；！？;!?")
SOFT_ENDS = set("，,、：:")


def is_dropped(ch: str) -> bool:
    """Whitespace (``str.isspace`` covers U+3000 and U+00A0) and zero-width characters."""
    return ch.isspace() or ch in "\u200b\ufeff"


@dataclass
class CharSeq:
    """One document's kept characters; ``offsets[i]`` is the document offset of ``chars[i]``.

    ``gap_before[i]``: dropped characters sit right before position i; ``line_break_before``
    likewise for a line break among them.
    """

    doc: Document
    chars: list[str]
    offsets: list[int]
    gap_before: list[bool]
    line_break_before: list[bool]

    @classmethod
    def from_doc(cls, doc: Document) -> CharSeq:
        chars, offsets, gaps, breaks = [], [], [], []
        gap = brk = False
        for i, ch in enumerate(doc.text):
            if is_dropped(ch):
                gap = True
                brk = brk or ch in "\n\r\u2028\u2029"
                continue
            chars.append(ch)
            offsets.append(i)
            gaps.append(gap)
            breaks.append(brk)
            gap = brk = False
        return cls(doc, chars, offsets, gaps, breaks)

    def __len__(self) -> int:
        return len(self.chars)

    def bio_tags(self) -> list[str]:
        """Gold BIO tag per kept character (entities map through ``offsets``)."""
        tags = ["O"] * len(self)
        for e in sorted(self.doc.entities):
            lo = bisect.bisect_left(self.offsets, e.start)
            hi = bisect.bisect_left(self.offsets, e.end)
            for k in range(lo, hi):
                tags[k] = ("B-" if k == lo else "I-") + e.type
        return tags

    def entities(self, tags: list[str]) -> list[Entity]:
        """Entities of a BIO tag sequence in exact document offsets (an ``I-x`` that does not
        continue an ``x`` entity starts one)."""
        spans, cur = [], None  # cur: [type, first, last]
        for k, tag in enumerate(tags):
            if tag.startswith("I-") and cur is not None and cur[0] == tag[2:]:
                cur[2] = k
                continue
            if cur is not None:
                spans.append(cur)
            cur = [tag[2:], k, k] if tag != "O" else None
        if cur is not None:
            spans.append(cur)
        text = self.doc.text
        out = []
        for etype, a, b in spans:
            start, end = self.offsets[a], self.offsets[b] + 1
            out.append(Entity(start, end, etype, text[start:end]))
        return out

    def chunks(self, max_len: int, tags: list[str] | None = None) -> list[tuple[int, int]]:
        """``[start, end)`` position ranges of at most ``max_len`` covering the sequence.

        Cuts go after sentence ends (。；！？ or a line break), else after a comma-like mark,
        else at a whitespace gap, else anywhere; with gold ``tags`` never before an ``I-`` tag
        (a cut inside an entity happens only if no other position is left, i.e. prediction
        time or an entity longer than ``max_len``).
        """
        n = len(self)
        strong, soft, gaps = [], [], []
        for k in range(1, n):
            if self.chars[k - 1] in SENTENCE_ENDS or self.line_break_before[k]:
                strong.append(k)
            elif self.chars[k - 1] in SOFT_ENDS:
                soft.append(k)
            elif self.gap_before[k]:
                gaps.append(k)

        def ok(k: int) -> bool:
            return tags is None or not tags[k].startswith("I-")

        bounds, start = [], 0
        while n - start > max_len:
            limit = start + max_len
            end = None
            for cands in (strong, soft, gaps):
                lo, hi = bisect.bisect_right(cands, start), bisect.bisect_right(cands, limit)
                end = next((k for k in reversed(cands[lo:hi]) if ok(k)), None)
                if end is not None:
                    break
            if end is None:
                end = next((k for k in range(limit, start, -1) if ok(k)), limit)
            bounds.append((start, end))
            start = end
        if start < n:
            bounds.append((start, n))
        return bounds


def label_set(types: list[str]) -> list[str]:
    """``O`` then ``B-x``/``I-x`` per type, types in sorted order."""
    return ["O"] + [f"{p}-{t}" for t in sorted(types) for p in ("B", "I")]
