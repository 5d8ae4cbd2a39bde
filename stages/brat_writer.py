"""Write documents and their entities as a brat folder (``<id>.txt`` + ``<id>.ann``).

The ``.txt`` is the document text byte for byte (UTF-8, no BOM, line ends kept), so the
offsets in the ``.ann`` stay valid; entities are numbered ``T1..`` in (start, end, type)
order. The folder loads back with ``stages.readers.read_brat_folder``. File names are the
document ids with characters outside letters, digits, ``_ . -`` replaced by ``_``
(e.g. ``corpus:3`` -> ``corpus_3``); two ids that would share a file name are an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from stages.documents import Document, Entity

UNSAFE = re.compile(r"[^\w.\-]")


def file_stem(doc_id: str) -> str:
    """A file-system safe name for a document id."""
    stem = UNSAFE.sub("_", doc_id)
    return stem if stem.strip(".") else f"_{stem}"


def ann_text(text: str, entities: Iterable[Entity]) -> str:
    """brat standoff lines for continuous entities; raises on a span the format can't hold."""
    lines = []
    for k, e in enumerate(sorted(entities), 1):
        surface = text[e.start : e.end]
        if not 0 <= e.start < e.end <= len(text) or surface != e.text:
            raise ValueError(f"entity {e} does not match the document text")
        if "\n" in surface or "\r" in surface or not re.fullmatch(r"\S+", e.type):
            raise ValueError(f"entity {e} cannot be written as one brat line")
        lines.append(f"T{k}\t{e.type} {e.start} {e.end}\t{surface}\n")
    return "".join(lines)


def write_brat_folder(folder: Path | str, docs: Iterable[Document]) -> list[Path]:
    """Write every document's ``.txt`` and ``.ann``; returns the ``.ann`` paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    paths = []
    for doc in docs:
        stem = file_stem(doc.id)
        if stem in written:
            raise ValueError(f"documents {written[stem]!r} and {doc.id!r} share file name {stem}")
        written[stem] = doc.id
        ann = ann_text(doc.text, doc.entities)
        (folder / f"{stem}.txt").write_bytes(doc.text.encode("utf-8"))
        path = folder / f"{stem}.ann"
        path.write_bytes(ann.encode("utf-8"))
        paths.append(path)
    return paths
