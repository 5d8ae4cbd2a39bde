"""BIO tags: encoding entity spans as tags, decoding tags into spans, label sets.

Decoding repair rule: an ``I-X`` that does not continue an entity of type ``X`` (after
``O``, at the start, or after another type) starts a new entity of type ``X``; a ``B-X``
always starts one; ``O`` closes the open entity.

Line breaks: an entity never crosses a line break (``\\n`` or ``\\r``, dropped like all
whitespace). A decoded span whose characters straddle one is split into its per-line parts,
each keeping the type, so every span is one line of brat standoff.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from dapt.data.documents import Entity

if TYPE_CHECKING:  # a type only: the stages that decode never import the window packer
    from dapt.data.windows import TokenSpan

LINE_BREAKS = frozenset("\n\r")


def bio_tags(spans: list[TokenSpan], n: int) -> list[str]:
    """BIO tag per token of a document."""
    tags = ["O"] * n
    for s in spans:
        tags[s.start] = f"B-{s.type}"
        for i in range(s.start + 1, s.end):
            tags[i] = f"I-{s.type}"
    return tags


def decode_bio(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """Token spans (start, end exclusive, type) from BIO tags, with the repair rule above."""
    spans: list[tuple[int, int, str]] = []
    start, etype = None, None
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, label = tag.partition("-")
        continues = prefix == "I" and label == etype and start is not None
        if start is not None and not continues:
            spans.append((start, i, etype))
            start, etype = None, None
        if prefix == "B" or (prefix == "I" and not continues):
            start, etype = i, label
    return spans


def split_at_line_breaks(
    text: str, chars: Sequence[int], start: int, end: int
) -> list[tuple[int, int]]:
    """Split token span [start, end) where the text between two tokens holds a line break."""
    parts, first = [], start
    for k in range(start + 1, end):
        if any(c in LINE_BREAKS for c in text[chars[k - 1] + 1 : chars[k]]):
            parts.append((first, k))
            first = k
    parts.append((first, end))
    return parts


def to_entities(
    text: str, chars: Sequence[int], tags: Sequence[str]
) -> list[Entity]:
    """Character-offset entities of one document from its per-token tags."""
    entities = []
    for s, t, etype in decode_bio(tags):
        for a, b in split_at_line_breaks(text, chars, s, t):
            begin, finish = chars[a], chars[b - 1] + 1
            entities.append(Entity(begin, finish, etype, text[begin:finish]))
    return entities


def check_labels(id2label: dict[int, str]) -> None:
    """Raise unless every label is ``O``, ``B-TYPE`` or ``I-TYPE``."""
    bad = sorted(v for v in id2label.values()
                 if v != "O" and not (v[:2] in ("B-", "I-") and len(v) > 2))
    if bad:
        raise ValueError(f"model labels must be O/B-TYPE/I-TYPE (is config.id2label set?): {bad}")


def label_list(types: list[str] | set[str]) -> list[str]:
    """``O`` then ``B-``/``I-`` of each entity type, types sorted (the label order of a
    token classifier)."""
    return ["O"] + [f"{prefix}-{t}" for t in sorted(types) for prefix in ("B", "I")]


def tag_types(tag_rows: list[list[str | None]]) -> set[str]:
    """Entity types named by BIO tag sequences (null and ``O`` tags ignored)."""
    return {t.split("-", 1)[1] for tags in tag_rows for t in tags if t and t != "O"}
