"""One registry of document formats: brat, CoNLL-style (BIO/IOB1/BIOES/BMES), CLUENER,
CMeEE, doccano, Hugging Face ``datasets`` folders and the project's own JSONL.

``read_documents`` reads a file or folder in a named format (``auto``: ``detect``), with the
same checks for every format (offsets, surfaces, decoding, binary content, empty documents:
``dapt.data.readers``), and makes each document's spans flat by the ``data.nested`` policy
(``dapt.data.nested``); ``write_documents`` writes documents in any format.
"""

from __future__ import annotations

from pathlib import Path

from dapt.data.documents import Document
from dapt.data.formats import brat, cluener, cmeee, conll, doccano, hf, jsonl
from dapt.data.formats.base import Format, ReadOptions
from dapt.data.nested import resolve_sources
from dapt.data.readers import InputError, ReadReport, SourceDoc, shown

FORMATS: dict[str, Format] = {f.name: f for f in (
    brat.FORMAT, conll.FORMAT, cluener.FORMAT, cmeee.FORMAT, doccano.FORMAT, hf.FORMAT,
    jsonl.FORMAT)}
NAMES = tuple(FORMATS)

def detect(path: Path | str) -> str:
    """The format of a file or folder, by layout and content (each format's ``sniff``); raises
    ``InputError`` naming the candidates when two fit equally well, or when none does."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{shown(path)}: no such file or folder")
    scores = {name: fmt.sniff(path) for name, fmt in FORMATS.items()}
    top = max(scores.values())
    best = [name for name, score in scores.items() if score == top]
    if top == 0:
        raise InputError(f"{shown(path)}: no known format recognised (tried {', '.join(NAMES)}):"
                         " set data.format")
    if len(best) > 1:
        raise InputError(f"{shown(path)}: the format is ambiguous, it could be "
                         f"{' or '.join(best)} (no labels seen that tell them apart): set "
                         "data.format")
    return best[0]


def read_documents(path: Path | str, report: ReadReport, options: ReadOptions | None = None,
                   fmt: str = "auto", nested: str = "outermost") -> tuple[list[Document], str]:
    """The documents at ``path`` in format ``fmt`` (``auto``: detected), spans resolved by
    ``nested``; returns them and the format read."""
    path, options = Path(path), options or ReadOptions()
    name = detect(path) if fmt == "auto" else fmt
    if name not in FORMATS:
        raise InputError(f"unknown format {name!r} (choose from auto, {', '.join(NAMES)})")
    sources = unique_ids(FORMATS[name].read(path, report, options), report)
    return resolve_sources(sources, nested, report), name


def unique_ids(sources: list[SourceDoc], report: ReadReport) -> list[SourceDoc]:
    """Skip every document whose id was seen before in this input, at its own location."""
    first: dict[str, SourceDoc] = {}
    kept = []
    for source in sources:
        seen = first.setdefault(source.doc.id, source)
        if seen is source:
            kept.append(source)
            continue
        where = seen.file if seen.line is None else f"{seen.file}:{seen.line}"
        report.skip(source.file, source.line,
                    f"duplicate document id {source.doc.id!r} (first at {where})")
    return kept


def write_documents(path: Path | str, docs: list[Document], fmt: str,
                    tag_scheme: str = "bio") -> None:
    """Write ``docs`` to ``path`` (a folder for brat and hf, else a file) in format ``fmt``."""
    FORMATS[fmt].write(Path(path), docs, tag_scheme)
