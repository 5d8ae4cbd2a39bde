"""doccano sequence-labelling exports, JSONL: ``{"id", "text", "label": [[start, end, TYPE],
...]}`` or, from newer versions, ``{"id", "text", "entities": [{"start_offset", "end_offset",
"label"}, ...]}``; ends are exclusive (``"data"`` is accepted for ``"text"``, as older
versions name it). Nested spans fit. The writer writes the ``label`` form with ids."""

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

OFFSET_KEYS = ("start_offset", "end_offset", "label")


def is_label_list(label: object) -> bool:
    return isinstance(label, list) and all(isinstance(x, list) and len(x) == 3 for x in label)


def is_entity_list(entities: object) -> bool:
    return isinstance(entities, list) and all(
        isinstance(e, dict) and all(k in e for k in OFFSET_KEYS) for e in entities)


def parse_spans(record: dict) -> list[RawSpan]:
    if "entities" in record:
        if not is_entity_list(record["entities"]):
            raise ValueError('entities is not [{"start_offset", "end_offset", "label"}, ...]')
        return [RawSpan(e["label"], e["start_offset"], e["end_offset"])
                for e in record["entities"]]
    label = record.get("label", [])
    if not is_label_list(label):
        raise ValueError("label is not [[start, end, TYPE], ...]")
    return [RawSpan(etype, start, end) for start, end, etype in label]


def read(path: Path, report: ReadReport, options: ReadOptions) -> list[SourceDoc]:
    return read_json_format(path, report, options, parse_spans, default_shift=None)


def to_record(doc: Document) -> dict:
    return {"id": doc.id, "text": doc.text,
            "label": [[e.start, e.end, e.type] for e in doc.full_gold]}


def write(path: Path, docs: list[Document], tag_scheme: str = "bio") -> None:
    write_records(path, [to_record(d) for d in docs], array=False)


def consistent(record: dict) -> bool:
    if "text" not in record and "data" not in record:
        return False
    if "entities" in record:
        return is_entity_list(record["entities"])
    return is_label_list(record.get("label", []))


def sniff(path: Path) -> int:
    return sniff_records(path, consistent,
                         lambda r: bool(r.get("label")) or bool(r.get("entities")))


FORMAT = Format("doccano", read, write, sniff, holds_nested=True, suffix=".jsonl")
