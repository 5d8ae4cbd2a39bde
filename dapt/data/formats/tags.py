"""Tag schemes of token-per-line data: BIO (IOB2), IOB1, BIOES and BMES.

A tag is ``O`` or ``<prefix>-<TYPE>``. ``decode`` turns a sentence's tags into token spans
and lists every invalid step; an invalid sequence is repaired the way evaluation repairs
BIO (``dapt.ner.bio.decode_bio``): a tag that cannot continue the open entity starts a new
one, and an entity that a BIOES/BMES end tag should close is closed where the next tag
cannot continue it. ``detect`` names the scheme a set of tag sequences is written in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

SCHEMES = ("bio", "iob1", "bioes", "bmes")
PREFIXES = {"bio": "BI", "iob1": "BI", "bioes": "BIES", "bmes": "BMES"}
INSIDE = {"bio": "I", "iob1": "I", "bioes": "I", "bmes": "M"}

Span = tuple[int, int, str]  # token start, end (exclusive), type


class TagSchemeError(ValueError):
    """Tags that fit no known scheme, or more than one in a way no data should."""


def split_tag(tag: str) -> tuple[str, str]:
    """(prefix, type) of ``P-TYPE``; ``("O", "")`` for ``O``; raises on any other shape."""
    if tag == "O":
        return "O", ""
    prefix, sep, label = tag.partition("-")
    if not sep or not label or len(prefix) != 1 or prefix not in "BIEMS":
        raise TagSchemeError(f"tag {tag!r} is not O or B-/I-/E-/S-/M-TYPE")
    return prefix, label


def detect(sequences: Iterable[Sequence[str]]) -> str:
    """The scheme of these tag sequences: BMES if an ``M-`` tag occurs, BIOES if ``E-``/``S-``
    do, IOB1 if some entity starts with ``I-`` and every ``B-`` follows an entity of its
    type, else BIO. Raises ``TagSchemeError`` on a tag of another shape or ``M-`` with ``I-``."""
    prefixes: set[str] = set()
    starts_with_inside = b_after_other = False
    for tags in sequences:
        previous = ""
        for tag in tags:
            prefix, label = split_tag(tag)
            prefixes.add(prefix)
            continues = previous == label and label != ""
            if prefix == "I" and not continues:
                starts_with_inside = True
            if prefix == "B" and not continues:
                b_after_other = True
            previous = label
    if "M" in prefixes:
        if "I" in prefixes:
            raise TagSchemeError("both M- and I- tags: neither BMES nor BIOES")
        return "bmes"
    if prefixes & {"E", "S"}:
        return "bioes"
    return "iob1" if starts_with_inside and not b_after_other else "bio"


def decode(tags: Sequence[str], scheme: str) -> tuple[list[Span], list[tuple[int, str]]]:
    """Token spans of one sentence and the invalid steps ``(index, reason)`` that were
    repaired; raises ``TagSchemeError`` on a tag the scheme does not have."""
    allowed, inside = PREFIXES[scheme], INSIDE[scheme]
    closing = scheme in ("bioes", "bmes")
    spans: list[Span] = []
    problems: list[tuple[int, str]] = []
    start: int | None = None
    etype = ""

    def close(at: int, complete: bool = True) -> None:
        nonlocal start
        if start is not None:
            if closing and not complete:
                problems.append((at, f"{etype} entity started at token {start + 1} is not "
                                     "closed by an E- tag"))
            spans.append((start, at, etype))
            start = None

    for i, tag in enumerate(tags):
        prefix, label = split_tag(tag)
        if prefix != "O" and prefix not in allowed:
            raise TagSchemeError(f"tag {tag!r} is not a {scheme.upper()} tag")
        open_same = start is not None and etype == label
        if prefix == "O":
            close(i, complete=False)
        elif prefix == "S":
            close(i, complete=False)
            spans.append((i, i + 1, label))
        elif prefix == "B":
            close(i, complete=False)
            if scheme == "iob1" and not (spans and spans[-1][1] == i and spans[-1][2] == label):
                problems.append((i, f"{tag} does not follow an entity of type {label} (IOB1)"))
            start, etype = i, label
        elif prefix == inside:
            if not open_same:
                close(i, complete=False)
                if scheme != "iob1":
                    problems.append((i, f"{tag} does not continue an entity of type {label}"))
                start, etype = i, label
        else:  # E
            if not open_same:
                close(i, complete=False)
                problems.append((i, f"{tag} ends no open entity of type {label}"))
                start, etype = i, label
            close(i + 1)
    close(len(tags), complete=False)
    return spans, problems


def encode(spans: Iterable[Span], n: int, scheme: str) -> list[str]:
    """Tags of ``n`` tokens holding these non-overlapping token spans."""
    tags = ["O"] * n
    inside = INSIDE[scheme]
    previous_end, previous_type = -1, ""
    for start, end, label in sorted(spans):
        if scheme in ("bioes", "bmes") and end - start == 1:
            tags[start] = f"S-{label}"
        else:
            for i in range(start, end):
                tags[i] = f"{inside}-{label}"
            if scheme == "iob1":
                if previous_end == start and previous_type == label:
                    tags[start] = f"B-{label}"
            else:
                tags[start] = f"B-{label}"
            if scheme in ("bioes", "bmes"):
                tags[end - 1] = f"E-{label}"
        previous_end, previous_type = end, label
    return tags


def label_names(types: Iterable[str], scheme: str) -> list[str]:
    """``O`` then every tag of each type (types sorted): a ``ClassLabel``'s names."""
    prefixes = {"bio": "BI", "iob1": "BI", "bioes": "BIES", "bmes": "BMES"}[scheme]
    return ["O"] + [f"{p}-{t}" for t in sorted(set(types)) for p in prefixes]
