"""Write documents and their entities as a brat folder (``<id>.txt`` + ``<id>.ann``).

The ``.txt`` is the document text byte for byte (UTF-8, no BOM, line ends kept), so the
offsets in the ``.ann`` stay valid; entities are numbered ``T1..`` in (start, end, type)
order. The folder loads back with ``dapt.data.readers.read_brat_folder``. File names are the
document ids with characters outside letters, digits, ``_ . -`` replaced by ``_``
(e.g. ``corpus:3`` -> ``corpus_3``); two ids that would share a file name are an error,
raised before anything is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from dapt.data.atomic import atomic_dir
from dapt.data.documents import Document, Entity

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


def write_brat_files(folder: Path | str, docs: Iterable[Document]) -> list[Path]:
    """Make ``folder`` hold exactly these documents' ``.txt`` and ``.ann``; returns the
    ``.ann`` paths.

    Every document is checked (file-name clashes, spans brat cannot hold) before anything
    is written; then ``.txt``/``.ann`` files of an earlier run are removed (other files
    are left alone) and the documents written.
    """
    folder = Path(folder)
    owner: dict[str, str] = {}
    planned = []
    for doc in docs:
        stem = file_stem(doc.id)
        if stem in owner:
            raise ValueError(f"documents {owner[stem]!r} and {doc.id!r} share file name {stem}")
        owner[stem] = doc.id
        planned.append((stem, doc.text, ann_text(doc.text, doc.entities)))
    folder.mkdir(parents=True, exist_ok=True)
    for stale in sorted(folder.glob("*.ann")) + sorted(folder.glob("*.txt")):
        stale.unlink()
    paths = []
    for stem, text, ann in planned:
        (folder / f"{stem}.txt").write_bytes(text.encode("utf-8"))
        path = folder / f"{stem}.ann"
        path.write_bytes(ann.encode("utf-8"))
        paths.append(path)
    return paths


def write_brat_folder(folder: Path | str, docs: Iterable[Document]) -> list[Path]:
    """``write_brat_files`` into a copy of ``folder`` that is then swapped in atomically
    (``dapt.data.atomic``): a kill leaves the old folder, never a partial one."""
    with atomic_dir(folder, keep=True) as tmp:
        paths = write_brat_files(tmp, docs)
    return [Path(folder) / p.name for p in paths]
