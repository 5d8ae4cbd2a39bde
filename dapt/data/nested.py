"""Nested and crossing entity spans: the ``data.nested`` policy that makes them flat.

The NER heads (softmax, CRF, BiLSTM-CRF) need one label per character, so the split stage
keeps a flat subset of each document's spans in ``Document.entities`` and the spans the
policy removed in ``Document.nested`` (full gold = both). Policies, each a greedy pass that
keeps a span unless it overlaps one already kept:

* ``outermost``     by (start, longest first): a span inside another is dropped; of two
                    crossing spans the one that starts first is kept
* ``innermost``     by (length, start): an enclosing span is dropped, its inner spans kept;
                    of two crossing spans the shorter is kept
* ``longest_first`` by (longest first, start): like ``outermost`` for nesting; of two crossing
                    spans the longer is kept
* ``error``         any overlap is bad input (``InputError`` naming both spans)

Ties (same start and end, other type) keep the type that sorts first, so the result does
not depend on the order a format lists spans in. A span given twice with the same type is
one span (the copy is counted, not kept).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from dapt.data.documents import Document, Entity
from dapt.data.readers import InputError, ReadReport, SourceDoc

POLICIES = ("outermost", "innermost", "longest_first", "error")

ORDER: dict[str, Callable[[Entity], tuple]] = {
    "outermost": lambda e: (e.start, -e.end, e.type),
    "innermost": lambda e: (e.end - e.start, e.start, e.type),
    "longest_first": lambda e: (e.start - e.end, e.start, e.type),
    "error": lambda e: (e.start, -e.end, e.type),
}


@dataclass
class Resolved:
    """The flat spans kept (sorted), the spans dropped (sorted), and for every dropped span
    the kept span it overlapped; ``duplicates`` counts spans given more than once."""

    kept: list[Entity]
    dropped: list[Entity] = field(default_factory=list)
    conflicts: dict[Entity, Entity] = field(default_factory=dict)
    duplicates: int = 0


def overlaps(a: Entity, b: Entity) -> bool:
    return a.start < b.end and b.start < a.end


def resolve(entities: list[Entity], policy: str) -> Resolved:
    """Split ``entities`` into a flat kept set and the dropped rest by ``policy``; with
    ``error`` the result is computed as for ``outermost`` (the caller raises on a drop)."""
    if policy not in ORDER:
        raise ValueError(f"unknown nested policy {policy!r} (choose from {', '.join(POLICIES)})")
    unique = sorted(set(entities))
    result = Resolved(kept=[], duplicates=len(entities) - len(unique))
    for entity in sorted(unique, key=ORDER[policy]):
        other = next((k for k in result.kept if overlaps(k, entity)), None)
        if other is None:
            result.kept.append(entity)
        else:
            result.dropped.append(entity)
            result.conflicts[entity] = other
    result.kept.sort()
    result.dropped.sort()
    return result


def describe(entity: Entity) -> str:
    return f"{entity.start}-{entity.end} ({entity.type})"


def conflict_reason(dropped: Entity, kept: Entity) -> str:
    """Why a span was dropped: ``nested``/``crossing``/``same span`` and the span kept."""
    if (dropped.start, dropped.end) == (kept.start, kept.end):
        kind = "same span as"
    elif kept.start <= dropped.start and dropped.end <= kept.end:
        kind = "nested in"
    elif dropped.start <= kept.start and kept.end <= dropped.end:
        kind = "encloses"
    else:
        kind = "crosses"
    return f"span {describe(dropped)} {kind} {describe(kept)}"


def resolve_sources(sources: list[SourceDoc], policy: str, report: ReadReport) -> list[Document]:
    """Documents with flat ``entities`` and the ``nested`` rest, by ``policy``; counts what was
    dropped per type in ``report.nested``; with ``error`` a conflict raises ``InputError`` at
    the dropped span's line."""
    docs = []
    for source in sources:
        result = resolve(source.doc.entities, policy)
        report.ignored["duplicate_spans"] += result.duplicates
        if result.dropped and policy == "error":
            lines: dict = {}
            for entity, line in zip(source.doc.entities, source.lines):
                lines.setdefault(entity, line)
            first = result.dropped[0]
            where = source.file if lines[first] is None else f"{source.file}:{lines[first]}"
            raise InputError(f"{where}: {conflict_reason(first, result.conflicts[first])} "
                             "(data.nested: error)")
        if result.dropped:
            report.nested_documents += 1
            report.nested.update(e.type for e in result.dropped)
        docs.append(Document(source.doc.id, source.doc.text, result.kept, result.dropped))
    if not report.ignored["duplicate_spans"]:
        del report.ignored["duplicate_spans"]
    return docs
