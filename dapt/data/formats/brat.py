"""brat standoff folders: ``<name>.txt`` (the text) + ``<name>.ann`` (its entities).

Reading: ``T<k>\\tTYPE start end\\tsurface`` lines with Python offsets (end exclusive) into the
decoded ``.txt``; notes, relations, attributes, events (``# R A E M N *``) are ignored and
counted; a discontinuous span (``s1 e1;s2 e2``) is bad input. Document ids are file stems (or
the ids of the folder's ``manifest.tsv``). Nested and crossing spans are all returned;
``data.nested`` decides (``dapt.data.nested``).

Writing: the ``.txt`` is the document text byte for byte (UTF-8, line ends kept; a BOM only in
front of a text that itself starts with U+FEFF, since the reader strips one), so the offsets
in the ``.ann`` stay valid; entities (nested ones included) are numbered ``T1..`` in (start,
end, type) order.

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
from dapt.data.formats.base import Format, ReadOptions
from dapt.data.nested import resolve_sources
from dapt.data.readers import (
    InputError,
    ReadReport,
    SourceDoc,
    check_span,
    decode_text,
    shown,
    sort_key,
)

BOM = b"\xef\xbb\xbf"
NO_ENTITIES = "#1\tAnnotatorNotes\tno entities\n"  # read as a note: ignored, counted
ENTITY_LINE = re.compile(r"^(T\d+)\t(\S+) (\d+ \d+(?:;\d+ \d+)*)\t(.*)$")
IGNORED_KINDS = ("#", "R", "A", "E", "M", "N", "*")

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
                     verbatim: bool = False, empty_ann: str = "") -> list[Path]:
    """Make ``folder`` hold exactly these documents' ``.txt`` and ``.ann`` (and the manifest
    when a name differs from its id); returns the ``.ann`` paths.

    ``empty_ann`` is the ``.ann`` of a document without entities. Every document is checked
    (file names, spans brat cannot hold) before anything is written; then ``.txt``/``.ann``
    files and the manifest of an earlier run are removed (other files are left alone) and the
    documents written.
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
        # a text that starts with U+FEFF gets a BOM in front, which the reader strips
        bom = BOM if doc.text.startswith("\ufeff") else b""
        (folder / f"{name}.txt").write_bytes(bom + doc.text.encode("utf-8"))
        path = folder / f"{name}.ann"
        path.write_bytes((ann or empty_ann).encode("utf-8"))
        paths.append(path)
    ids = [doc.id for doc in docs]
    if names != ids:
        (folder / MANIFEST).write_bytes(manifest_text(ids, names).encode("utf-8"))
    return paths


def write_brat_folder(folder: Path | str, docs: Iterable[Document],
                      verbatim: bool = False, empty_ann: str = "") -> list[Path]:
    """``write_brat_files`` into a copy of ``folder`` that is then swapped in atomically
    (``dapt.data.atomic``): a kill leaves the old folder, never a partial one."""
    with atomic_dir(folder, keep=True) as tmp:
        paths = write_brat_files(tmp, docs, verbatim, empty_ann)
    return [Path(folder) / p.name for p in paths]


def parse_ann(path: Path, raw: str, source: SourceDoc, report: ReadReport) -> None:
    """Add the valid ``T`` lines of one ``.ann`` file to ``source`` (bad lines: skips)."""
    text = source.doc.text
    for line_no, line in enumerate(raw.split("\n"), 1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        if line[0] in IGNORED_KINDS:
            report.ignored[f"ann_lines_{line[0]}"] += 1
            continue
        if not line.startswith("T"):
            report.skip(path, line_no, f"unknown annotation line kind {line[:1]!r}")
            continue
        match = ENTITY_LINE.match(line)
        if not match:
            report.skip(path, line_no, "malformed line (want T<n> TAB TYPE start end TAB text)")
            continue
        _, etype, spans, surface = match.groups()
        if ";" in spans:
            report.skip(path, line_no, f"discontinuous span {spans!r} is not supported")
            continue
        start, end = (int(x) for x in spans.split())
        entity = check_span(text, start, end, etype, surface, str(path), line_no, report)
        if entity is not None:
            source.add(entity, line_no)


def valid_name(path: Path, report: ReadReport) -> bool:
    """File names become document ids: they must be valid UTF-8 (skipped otherwise)."""
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:
        report.skip(shown(path), None, "file name is not valid UTF-8")
        return False
    return True


def read_brat(folder: Path | str, report: ReadReport, labeled: bool = True,
              allow_empty_ann: bool = False) -> list[SourceDoc]:
    """Read ``*.txt`` (+ ``*.ann`` when labeled) from a folder, sorted by id.

    An empty ``.ann`` drops its document from labeled training data (it is more likely an
    unfinished annotation than a leaflet without entities) unless ``allow_empty_ann`` is set,
    as for model predictions, where it means "no entity found".
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    texts = {}
    for path in sorted(folder.glob("*.txt")):
        if valid_name(path, report):
            texts[path.stem] = path
    if labeled:
        for ann in sorted(folder.glob("*.ann")):
            if valid_name(ann, report) and ann.stem not in texts:
                report.skip(ann, None, "no matching .txt file")
    docs = []
    for stem in sorted(texts, key=sort_key):
        txt_path = texts[stem]
        text = decode_text(txt_path, report)
        if text is None:
            continue
        if not text.strip():
            report.skip(txt_path, None, "empty text")
            continue
        source = SourceDoc(Document(stem, text), str(txt_path))
        if labeled:
            ann_path = txt_path.with_suffix(".ann")
            if not ann_path.exists():
                report.skip(ann_path, None, "missing .ann file")
                continue
            raw_ann = decode_text(ann_path, report, count=False)
            if raw_ann is None:
                continue
            if not raw_ann.strip() and not allow_empty_ann:
                report.skip(ann_path, None, "empty .ann file (document dropped from labeled data)")
                continue
            source.file = str(ann_path)  # where the entity lines are
            parse_ann(ann_path, raw_ann, source, report)
        docs.append(source)
    return docs


def read_brat_folder(folder: Path | str, report: ReadReport, labeled: bool = True,
                     allow_empty_ann: bool = False, nested: str = "outermost") -> list[Document]:
    """``read_brat`` with the spans of each document made flat by ``nested``."""
    return resolve_sources(read_brat(folder, report, labeled, allow_empty_ann), nested, report)


def read_manifest(folder: Path, report: ReadReport) -> dict[str, str]:
    """File stem -> document id from the folder's ``manifest.tsv`` (none: empty)."""
    path = folder / MANIFEST
    if not path.is_file():
        return {}
    text = decode_text(path, report, count=False)
    rows = list(csv.reader(io.StringIO(text or ""), delimiter="\t"))
    if not rows or rows[0] != ["id", "file"] or any(len(r) != 2 for r in rows[1:]):
        report.skip(shown(path), None, "not an id<TAB>file manifest (ignored)")
        return {}
    return {Path(name).stem: doc_id for doc_id, name in rows[1:]}


def read(path: Path, report: ReadReport, options: ReadOptions) -> list[SourceDoc]:
    """``read_brat`` with the ids of the folder's manifest (written where a document's file
    name differs from its id)."""
    sources = read_brat(path, report, labeled=options.labeled)
    ids = read_manifest(Path(path), report)
    for source in sources:
        source.doc.id = ids.get(source.doc.id, source.doc.id)
    return sources


def write(path: Path, docs: list[Document], tag_scheme: str = "bio") -> None:
    """A brat folder of the documents' full gold (``write_brat_folder``); the ``.ann`` of a
    document without entities holds one note line (``NO_ENTITIES``), since the labeled reader
    drops an empty ``.ann`` as an unfinished annotation."""
    write_brat_folder(path, [Document(d.id, d.text, d.full_gold) for d in docs],
                      empty_ann=NO_ENTITIES)


def sniff(path: Path) -> int:
    """2: a folder with ``.ann`` files; 1: with ``.txt`` files only (unlabeled text)."""
    if not path.is_dir():
        return 0
    return 2 if any(path.glob("*.ann")) else int(any(path.glob("*.txt")))


FORMAT = Format("brat", read, write, sniff, holds_nested=True, suffix="")
