"""CLUENER 2020: JSONL, ``{"text": ..., "label": {TYPE: {surface: [[start, end], ...]}}}`` with
inclusive ends (decided per file from the surfaces: ``json_records.end_shift``). Nested spans
fit. An ``id`` key, when present, is the document id (else ``<file stem>:<line>``); the writer
adds it so that ids survive a round trip."""

from __future__ import annotations

from pathlib import Path

from dapt.data.documents import Document
from dapt.data.formats.base import Format, ReadOptions
from dapt.data.formats.json_records import (
    RawSpan,
    read_json_format,
    sniff_records,
    write_records,
)
from dapt.data.readers import ReadReport, SourceDoc

SHAPE = 'label is not {TYPE: {surface: [[start, end], ...]}}'


def parse_spans(record: dict) -> list[RawSpan]:
    label = record.get("label", {})
    if not isinstance(label, dict):
        raise ValueError(SHAPE)
    spans = []
    for etype, surfaces in label.items():
        if not isinstance(surfaces, dict):
            raise ValueError(SHAPE)
        for surface, positions in surfaces.items():
            if not isinstance(positions, list) or not all(
                    isinstance(p, list) and len(p) == 2 for p in positions):
                raise ValueError(SHAPE)
            spans += [RawSpan(etype, start, end, surface) for start, end in positions]
    return spans


def read(path: Path, report: ReadReport, options: ReadOptions) -> list[SourceDoc]:
    return read_json_format(path, report, options, parse_spans, default_shift=1)


def to_record(doc: Document) -> dict:
    label: dict[str, dict[str, list[list[int]]]] = {}
    for e in doc.full_gold:
        label.setdefault(e.type, {}).setdefault(e.text, []).append([e.start, e.end - 1])
    return {"id": doc.id, "text": doc.text, "label": label}


def write(path: Path, docs: list[Document], tag_scheme: str = "bio") -> None:
    write_records(path, [to_record(d) for d in docs], array=False)


def sniff(path: Path) -> int:
    return sniff_records(path, lambda r: isinstance(r.get("label", {}), dict)
                         and "entities" not in r and "text" in r,
                         lambda r: bool(r.get("label")))


FORMAT = Format("cluener", read, write, sniff, holds_nested=True, suffix=".json")
