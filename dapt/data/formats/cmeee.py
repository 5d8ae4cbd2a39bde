"""CBLUE CMeEE (v1 and V2): a JSON array of ``{"text": ..., "entities": [{"start_idx",
"end_idx", "type", "entity"}]}``. v1 ends are inclusive, V2's exclusive: the convention is
decided per file by which one the ``entity`` surfaces fit (``json_records.end_shift``;
inclusive on a tie), a span that fits neither is a located error. Nested spans fit. An ``id``
key, when present, is the document id (else ``<file stem>:<line>``); the writer adds it and
writes inclusive ends."""

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

KEYS = ("start_idx", "end_idx", "type")


def parse_spans(record: dict) -> list[RawSpan]:
    entities = record.get("entities", [])
    if not isinstance(entities, list) or not all(
            isinstance(e, dict) and all(k in e for k in KEYS) for e in entities):
        raise ValueError('entities is not [{"start_idx", "end_idx", "type", "entity"}, ...]')
    return [RawSpan(e["type"], e["start_idx"], e["end_idx"], e.get("entity")) for e in entities]


def read(path: Path, report: ReadReport, options: ReadOptions) -> list[SourceDoc]:
    return read_json_format(path, report, options, parse_spans, default_shift=1)


def to_record(doc: Document) -> dict:
    return {"id": doc.id, "text": doc.text, "entities": [
        {"start_idx": e.start, "end_idx": e.end - 1, "type": e.type, "entity": e.text}
        for e in doc.full_gold]}


def write(path: Path, docs: list[Document], tag_scheme: str = "bio") -> None:
    write_records(path, [to_record(d) for d in docs], array=True)


def is_cmeee_entity(entity: object) -> bool:
    return isinstance(entity, dict) and "start_idx" in entity


def sniff(path: Path) -> int:
    return sniff_records(
        path, lambda r: "text" in r and "label" not in r and isinstance(r.get("entities", []), list)
        and all(is_cmeee_entity(e) for e in r.get("entities", [])),
        lambda r: bool(r.get("entities")))


FORMAT = Format("cmeee", read, write, sniff, holds_nested=True, suffix=".json")
