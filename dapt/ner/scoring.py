"""Strict span-level NER scoring in document character offsets.

A predicted span counts only when document, start, end and type all equal a gold span.
Spans are compared as sets, so a span predicted twice (e.g. from two overlapping windows)
counts once.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import NamedTuple


class Span(NamedTuple):
    doc_id: str
    start: int
    end: int
    type: str


def doc_spans(docs: Iterable, entities: Iterable[Iterable] | None = None) -> set[Span]:
    """Spans of documents' own entities, or of ``entities`` given per document."""
    docs = list(docs)
    per_doc = entities if entities is not None else (d.entities for d in docs)
    return {Span(d.id, e.start, e.end, e.type) for d, ents in zip(docs, per_doc) for e in ents}


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def overlaps(a: Span, b: Span) -> bool:
    return a.doc_id == b.doc_id and a.start < b.end and b.start < a.end


def classify_errors(gold: set[Span], pred: set[Span]) -> dict[str, int]:
    """Sort every error into one kind.

    For a false positive: ``type`` (same boundaries as a gold span, other type),
    ``boundary`` (overlaps a gold span of the same type), ``boundary_and_type``
    (overlaps only gold spans of other types) or ``spurious`` (overlaps nothing).
    A false negative that no false positive overlaps is ``missed`` (one overlapped by a
    false positive is already counted with it). So a gold span predicted with wrong
    boundaries is one error, not two.
    """
    by_doc: dict[str, list[Span]] = defaultdict(list)
    for g in gold:
        by_doc[g.doc_id].append(g)
    pred_by_doc: dict[str, list[Span]] = defaultdict(list)
    for p in pred:
        pred_by_doc[p.doc_id].append(p)
    kinds: Counter = Counter()
    for p in pred - gold:
        hits = [g for g in by_doc[p.doc_id] if overlaps(p, g)]
        if any((g.start, g.end) == (p.start, p.end) for g in hits):
            kinds["type"] += 1
        elif any(g.type == p.type for g in hits):
            kinds["boundary"] += 1
        elif hits:
            kinds["boundary_and_type"] += 1
        else:
            kinds["spurious"] += 1
    for g in gold - pred:
        if not any(overlaps(g, p) for p in pred_by_doc[g.doc_id] if p not in gold):
            kinds["missed"] += 1
    return {k: kinds.get(k, 0) for k in
            ("type", "boundary", "boundary_and_type", "spurious", "missed")}


def type_confusion(gold: Iterable[Span], pred: Iterable[Span]) -> list[dict[str, str]]:
    """Gold vs predicted type, one ``{"actual", "predicted"}`` row per predicted span whose
    boundaries equal a gold span's (correct types included); sorted. DVC's confusion
    template counts rows. Where gold holds several types at those boundaries, the
    predicted type wins if among them, else the first in name order.
    """
    gold_types: dict[tuple[str, int, int], list[str]] = defaultdict(list)
    for g in sorted(set(gold)):
        gold_types[(g.doc_id, g.start, g.end)].append(g.type)
    rows = []
    for p in set(pred):
        types = gold_types.get((p.doc_id, p.start, p.end))
        if types:
            rows.append((p.type if p.type in types else types[0], p.type))
    return [{"actual": a, "predicted": b} for a, b in sorted(rows)]


def score_spans(gold: Iterable[Span], pred: Iterable[Span]) -> dict:
    """Micro, macro and per-type strict P/R/F1 plus an error breakdown."""
    gold, pred = set(gold), set(pred)
    tp = len(gold & pred)
    result = prf(tp, len(pred) - tp, len(gold) - tp)
    per_type = {}
    for etype in sorted({s.type for s in gold | pred}):
        g = {s for s in gold if s.type == etype}
        p = {s for s in pred if s.type == etype}
        hit = len(g & p)
        per_type[etype] = {**prf(hit, len(p) - hit, len(g) - hit), "support": len(g)}
    supported = [v["f1"] for v in per_type.values() if v["support"]]
    errors = classify_errors(gold, pred)
    n_errors = sum(errors.values())
    result.update({
        "macro_f1": sum(supported) / len(supported) if supported else 0.0,
        "per_type": per_type,
        "support": len(gold),
        "predicted": len(pred),
        "errors": errors,
        "boundary_error_share": (errors["boundary"] + errors["boundary_and_type"]) / n_errors
        if n_errors else 0.0,
        "type_error_share": errors["type"] / n_errors if n_errors else 0.0,
    })
    return result
