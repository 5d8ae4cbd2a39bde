"""Write documents and their entities as a brat folder (``<name>.txt`` + ``<name>.ann``).

The ``.txt`` is the document text byte for byte (UTF-8, no BOM, line ends kept), so the
offsets in the ``.ann`` stay valid; entities are numbered ``T1..`` in (start, end, type)
order. The folder loads back with ``dapt.data.readers.read_brat_folder``.

File names: with ``verbatim`` (ids that are file stems already, e.g. read from a brat
folder) a document's name is its id as it stands; otherwise the id with characters outside
letters, digits, ``_ . -`` replaced by ``_`` (``corpus:3`` -> ``corpus_3``). When a name
differs from its id, the folder also gets ``manifest.tsv``: the header ``id<TAB>file``, then
one row per document, its id and its ``.txt`` file name (quoted as Python's ``csv`` does
where a value holds a tab, quote or line break); else a ``manifest.tsv`` of an earlier run is
removed. Two documents whose names are equal ignoring case and Unicode normalisation (one
file on macOS and Windows file systems) are an error, raised before anything is written.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from dapt.data.atomic import atomic_dir
from dapt.data.documents import Document, Entity

UNSAFE = re.compile(r"[^\w.\-]")
MANIFEST = "manifest.tsv"


def file_stem(doc_id: str) -> str:
    """A file-system safe name for a document id."""
    stem = UNSAFE.sub("_", doc_id)
    return stem if stem.strip(".") else f"_{stem}"


def file_names(docs: Iterable[Document], verbatim: bool = False) -> list[str]:
    """Each document's file name without extension (see the module docstring); raises
    ValueError on a clash, or on a ``verbatim`` id that cannot be a file name."""
    owner: dict[str, str] = {}
    names = []
    for doc in docs:
        name = doc.id if verbatim else file_stem(doc.id)
        if not name or "/" in name or "\0" in name:
            raise ValueError(f"document id {doc.id!r} is not a file name")
        key = unicodedata.normalize("NFC", name).casefold()
        if key in owner:
            raise ValueError(f"documents {owner[key]!r} and {doc.id!r} share file name "
                             f"{name!r} (compared ignoring case and Unicode normalisation)")
        owner[key] = doc.id
        names.append(name)
    return names


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


def manifest_text(ids: list[str], names: list[str]) -> str:
    """``manifest.tsv`` content: header ``id<TAB>file``, one row per document."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n")
    writer.writerow(["id", "file"])
    writer.writerows((doc_id, f"{name}.txt") for doc_id, name in zip(ids, names))
    return out.getvalue()


def write_brat_files(folder: Path | str, docs: Iterable[Document],
                     verbatim: bool = False) -> list[Path]:
    """Make ``folder`` hold exactly these documents' ``.txt`` and ``.ann`` (and the manifest
    when a name differs from its id); returns the ``.ann`` paths.

    Every document is checked (file names, spans brat cannot hold) before anything is
    written; then ``.txt``/``.ann`` files and the manifest of an earlier run are removed
    (other files are left alone) and the documents written.
    """
    folder = Path(folder)
    docs = list(docs)
    names = file_names(docs, verbatim)
    anns = [ann_text(doc.text, doc.entities) for doc in docs]
    folder.mkdir(parents=True, exist_ok=True)
    for stale in sorted(folder.glob("*.ann")) + sorted(folder.glob("*.txt")):
        stale.unlink()
    (folder / MANIFEST).unlink(missing_ok=True)
    paths = []
    for name, doc, ann in zip(names, docs, anns):
        (folder / f"{name}.txt").write_bytes(doc.text.encode("utf-8"))
        path = folder / f"{name}.ann"
        path.write_bytes(ann.encode("utf-8"))
        paths.append(path)
    ids = [doc.id for doc in docs]
    if names != ids:
        (folder / MANIFEST).write_bytes(manifest_text(ids, names).encode("utf-8"))
    return paths


def write_brat_folder(folder: Path | str, docs: Iterable[Document],
                      verbatim: bool = False) -> list[Path]:
    """``write_brat_files`` into a copy of ``folder`` that is then swapped in atomically
    (``dapt.data.atomic``): a kill leaves the old folder, never a partial one."""
    with atomic_dir(folder, keep=True) as tmp:
        paths = write_brat_files(tmp, docs, verbatim)
    return [Path(folder) / p.name for p in paths]
