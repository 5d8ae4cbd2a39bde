"""The project's own document JSONL (``data/split/*.jsonl``): ``{"id", "text", "entities":
[{"type", "start", "end", "text"}], "nested": [...]}`` with exclusive ends; ``entities`` and
``nested`` are read together and resolved again by ``data.nested``."""

from __future__ import annotations

from pathlib import Path

from dapt.data.documents import Document, write_jsonl
from dapt.data.formats.base import Format, ReadOptions
from dapt.data.formats.json_records import (
    RawSpan,
    read_json_format,
    sniff_records,
)
from dapt.data.readers import ReadReport, SourceDoc

KEYS = ("start", "end", "type", "text")


def is_entity_list(entities: object) -> bool:
    return isinstance(entities, list) and all(
        isinstance(e, dict) and all(k in e for k in KEYS) for e in entities)


def parse_spans(record: dict) -> list[RawSpan]:
    spans = []
    for key in ("entities", "nested"):
        entities = record.get(key, [])
        if not is_entity_list(entities):
            raise ValueError(f'{key} is not [{{"type", "start", "end", "text"}}, ...]')
        spans += [RawSpan(e["type"], e["start"], e["end"], e["text"]) for e in entities]
    return spans


def read(path: Path, report: ReadReport, options: ReadOptions) -> list[SourceDoc]:
    return read_json_format(path, report, options, parse_spans, default_shift=None)


def write(path: Path, docs: list[Document], tag_scheme: str = "bio") -> None:
    write_jsonl(path, docs)


def sniff(path: Path) -> int:
    return sniff_records(path, lambda r: "id" in r and "text" in r and is_entity_list(
        r.get("entities")), lambda r: bool(r.get("entities")))


FORMAT = Format("jsonl", read, write, sniff, holds_nested=True, suffix=".jsonl")
