"""Cut a document's token sequence into windows of at most ``size`` tokens.

Cuts prefer sentence ends (。；！？ and line breaks), then other punctuation or dropped
whitespace, then any position; a cut never falls inside an entity span. Windows are
packed greedily: each one extends to the farthest allowed cut of the best level.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from dapt.data.documents import Entity

SENTENCE_ENDS = frozenset("。；！？!?;\n")
SOFT_BREAKS = frozenset("，、,：:）)】」』")
SENTENCE, SOFT, ANY = 0, 1, 2


@dataclass(frozen=True)
class TokenSpan:
    """An entity in token coordinates (end exclusive) within a document's tokens."""

    start: int
    end: int
    type: str


def entity_token_spans(
    entities: list[Entity], chars: list[int]
) -> tuple[list[TokenSpan], list[Entity]]:
    """Map character spans to token spans; return (mapped, entities with no token)."""
    spans, lost = [], []
    for e in entities:
        first = bisect.bisect_left(chars, e.start)
        last = bisect.bisect_left(chars, e.end)
        if first >= last:
            lost.append(e)
        else:
            spans.append(TokenSpan(first, last, e.type))
    return spans, lost


def cut_levels(text: str, chars: list[int]) -> list[int]:
    """Level of a cut before token i (i = 1..n-1); index 0 unused."""
    levels = [ANY] * len(chars)
    for i in range(1, len(chars)):
        prev, cur = chars[i - 1], chars[i]
        gap = text[prev:cur]  # previous token's char plus anything dropped in between
        if any(c in SENTENCE_ENDS for c in gap):
            levels[i] = SENTENCE
        elif cur - prev > 1 or text[prev] in SOFT_BREAKS:
            levels[i] = SOFT
    return levels


def blocked_cuts(spans: list[TokenSpan], n: int) -> list[bool]:
    """blocked[i] is True when a cut before token i would split an entity."""
    blocked = [False] * (n + 1)
    for s in spans:
        for i in range(s.start + 1, s.end):
            blocked[i] = True
    return blocked


def pack_windows(
    text: str, chars: list[int], spans: list[TokenSpan], size: int
) -> list[tuple[int, int]]:
    """Token ranges [start, end) of at most ``size`` tokens covering all tokens."""
    n = len(chars)
    levels = cut_levels(text, chars)
    blocked = blocked_cuts(spans, n)
    windows, start = [], 0
    while start < n:
        if n - start <= size:
            windows.append((start, n))
            break
        end = best_cut(levels, blocked, start, start + size)
        windows.append((start, end))
        start = end
    return windows


def best_cut(levels: list[int], blocked: list[bool], start: int, limit: int) -> int:
    """Farthest unblocked cut in (start, limit] of the best available level."""
    best: dict[int, int] = {}
    for i in range(limit, start, -1):
        if not blocked[i] and levels[i] not in best:
            best[levels[i]] = i
            if levels[i] == SENTENCE:
                break
    if not best:
        raise ValueError(f"no cut possible in tokens {start}..{limit}: an entity is too long")
    return best[min(best)]


def spans_in(spans: list[TokenSpan], start: int, end: int) -> list[TokenSpan]:
    """Spans fully inside the token range, shifted to window coordinates."""
    return [
        TokenSpan(s.start - start, s.end - start, s.type)
        for s in spans
        if s.start >= start and s.end <= end
    ]
