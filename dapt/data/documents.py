"""Document records and their JSONL I/O (the contract between split and later stages)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dapt.data.atomic import atomic_file


@dataclass(frozen=True, order=True)
class Entity:
    """An entity span with Python offsets (end exclusive) into its document text."""

    start: int
    end: int
    type: str
    text: str


@dataclass
class Document:
    """A document and its gold spans: ``entities`` is flat (no two overlap: what the NER
    heads learn); ``nested`` holds the spans the ``data.nested`` policy took out of a nested
    or crossing set (``dapt.data.nested``), so ``entities + nested`` is the full gold."""

    id: str
    text: str
    entities: list[Entity] = field(default_factory=list)
    nested: list[Entity] = field(default_factory=list)

    def to_json(self) -> str:
        """One JSON line; the ``nested`` key only when there are nested spans."""
        record = {"id": self.id, "text": self.text, "entities": entity_records(self.entities)}
        if self.nested:
            record["nested"] = entity_records(self.nested)
        return json.dumps(record, ensure_ascii=False)

    @classmethod
    def from_dict(cls, record: dict) -> Document:
        return cls(id=str(record["id"]), text=record["text"],
                   entities=[entity_of(e) for e in record["entities"]],
                   nested=[entity_of(e) for e in record.get("nested", [])])

    @property
    def full_gold(self) -> list[Entity]:
        return sorted(self.entities + self.nested)


def entity_records(entities: Iterable[Entity]) -> list[dict]:
    return [{"type": e.type, "start": e.start, "end": e.end, "text": e.text} for e in entities]


def entity_of(record: dict) -> Entity:
    return Entity(record["start"], record["end"], record["type"], record["text"])


def write_jsonl(path: Path | str, docs: Iterable[Document]) -> int:
    """Write one document per line, atomically; returns the number written."""
    n = 0
    with atomic_file(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as f:
        for doc in docs:
            f.write(doc.to_json() + "\n")
            n += 1
    return n


def read_jsonl(path: Path | str) -> list[Document]:
    """Read a JSONL document file, checking each entity against its text."""
    docs = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                doc = Document.from_dict(json.loads(line))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{line_no}: not a document record ({exc})") from exc
            for e in doc.entities + doc.nested:
                if doc.text[e.start : e.end] != e.text:
                    raise ValueError(f"{path}:{line_no}: entity {e} does not match its text")
            docs.append(doc)
    return docs


def iter_entities(docs: Iterable[Document]) -> Iterator[tuple[Document, Entity]]:
    for doc in docs:
        for e in doc.entities:
            yield doc, e


def entity_counts(docs: Iterable[Document]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, e in iter_entities(docs):
        counts[e.type] = counts.get(e.type, 0) + 1
    return dict(sorted(counts.items()))
