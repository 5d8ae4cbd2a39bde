"""Token-per-line (CoNLL-style) files: MSRA, People's Daily, Resume, Weibo, CoNLL-2003.

Reading: a line is ``token [columns ...] tag`` (columns split at spaces and tabs; the tag is
the last one, the token the first), a blank line ends a sentence, a ``-DOCSTART-`` line starts
a document (its second column, when it is not ``-X-``/``O``, is the document id, else
``<file stem>:<line>``); a file without one is one document (id: the file stem), and with
``data.conll_documents: sentences`` every sentence is one (id ``<file stem>:<line>``), for
corpora that ship no document boundaries. A document's text is its tokens joined without a
separator, its sentences joined by a line break (none after a sentence that ends with an
explicit line-break token). Tags: ``data.tag_scheme`` (``auto``: ``tags.detect`` per file);
an invalid sequence is repaired and listed under ``repaired`` in ``metrics/data.json``, or
raised with ``split.on_error: raise``; a tag of no known scheme skips the file.

Writing: one character a line, ``char TAG``, each document after ``-DOCSTART- <id>``; a
sentence ends after each line break of the text. Whitespace characters, which no column
can hold, are written as ``\\uXXXX`` (``\\u0020`` for a space) and read back as the character,
so a written file reads back to the same text, byte for byte. Nested spans do not fit: the
writer writes ``entities`` (the flat spans) only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from dapt.data.atomic import write_text
from dapt.data.documents import Document
from dapt.data.formats import tags as tag_schemes
from dapt.data.formats.base import Format, ReadOptions
from dapt.data.formats.json_records import data_files, required_files
from dapt.data.readers import (
    ReadReport,
    SourceDoc,
    check_span,
    decode_text,
    shown,
    text_problem,
)

DOCSTART = "-DOCSTART-"
COLUMNS = re.compile(r"[ \t]+")
ESCAPED = re.compile(r"\\u[0-9a-fA-F]{4}")
TAG = re.compile(r"O|[BIEMS]-\S+")
NOT_DATA = (".json", ".jsonl", ".ann")
NO_ID = ("-X-", "O")  # CoNLL-2003's filler columns after -DOCSTART-


@dataclass
class Sentence:
    tokens: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)


@dataclass
class RawDoc:
    id: str
    line: int
    sentences: list[Sentence] = field(default_factory=list)
    problem: tuple[int, str] | None = None  # the first malformed line: the document is skipped


def escape(text: str) -> str:
    """Whitespace and backslashes as ``\\uXXXX``, everything else as it is."""
    return "".join(f"\\u{ord(c):04x}" if c.isspace() or c == "\\" else c for c in text)


def escape_id(doc_id: str) -> str:
    """``escape`` for a ``-DOCSTART-`` id column; an id that reads as "no id" (``O``,
    ``-X-``) has its first character escaped too."""
    column = escape(doc_id)
    return f"\\u{ord(column[0]):04x}{column[1:]}" if column in NO_ID else column


def unescape(column: str) -> str:
    return ESCAPED.sub(lambda m: chr(int(m.group()[2:], 16)), column) \
        if "\\u" in column else column


def parse_file(file: Path, text: str, labeled: bool, by_sentence: bool) -> list[RawDoc]:
    """Documents of one file, each with its sentences (blank lines end them)."""
    docs: list[RawDoc] = []
    has_docstart = text.startswith(DOCSTART) or f"\n{DOCSTART}" in text
    sentence: Sentence | None = None
    for line_no, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r").strip(" \t")
        if not line:
            sentence = None
            continue
        cols = COLUMNS.split(line)
        if cols[0] == DOCSTART:
            given = cols[1] if len(cols) > 1 and cols[1] not in NO_ID else None
            docs.append(RawDoc(unescape(given) if given else f"{file.stem}:{line_no}", line_no))
            sentence = None
            continue
        if not docs or (by_sentence and sentence is None):
            docs.append(RawDoc(file.stem if not (has_docstart or by_sentence)
                               else f"{file.stem}:{line_no}", line_no))
        doc = docs[-1]
        if labeled and len(cols) < 2:
            doc.problem = doc.problem or (line_no, f"{len(cols)} column (want token and tag)")
            continue
        if sentence is None:
            sentence = Sentence()
            doc.sentences.append(sentence)
        sentence.tokens.append(unescape(cols[0]))
        sentence.tags.append(cols[-1] if labeled else "O")
        sentence.lines.append(line_no)
    return docs


def file_scheme(docs: list[RawDoc], where: str, scheme: str, report: ReadReport) -> str | None:
    """The file's tag scheme (``scheme`` unless ``auto``), None (a recorded skip) when a tag
    fits no scheme."""
    for doc in docs:
        for sentence in doc.sentences:
            for tag, line in zip(sentence.tags, sentence.lines):
                if not TAG.fullmatch(tag):
                    report.skip(where, line, f"tag {tag!r} is not O or B-/I-/E-/S-/M-TYPE: "
                                "unknown tag scheme (file skipped)")
                    return None
    if scheme != "auto":
        return scheme
    try:
        return tag_schemes.detect(s.tags for d in docs for s in d.sentences)
    except tag_schemes.TagSchemeError as exc:
        report.skip(where, None, f"unknown tag scheme: {exc} (file skipped)")
        return None


def to_source(doc: RawDoc, where: str, scheme: str, report: ReadReport) -> SourceDoc | None:
    """The document's text and entities, sentence by sentence."""
    pieces: list[str] = []
    starts: list[list[int]] = []
    pos = 0
    for k, sentence in enumerate(doc.sentences):
        if k and not pieces[-1].endswith("\n"):
            pieces.append("\n")
            pos += 1
        offsets = []
        for token in sentence.tokens:
            offsets.append(pos)
            pieces.append(token)
            pos += len(token)
        offsets.append(pos)
        starts.append(offsets)
    text = "".join(pieces)
    if problem := text_problem(text):
        report.skip(where, doc.line, problem)
        return None
    source = SourceDoc(Document(doc.id, text), where, doc.line)
    for sentence, offsets in zip(doc.sentences, starts):
        try:
            spans, problems = tag_schemes.decode(sentence.tags, scheme)
        except tag_schemes.TagSchemeError as exc:
            report.skip(where, sentence.lines[0], f"{exc} (document skipped)")
            return None
        for index, reason in problems:
            line = sentence.lines[min(index, len(sentence.lines) - 1)]
            report.repair(where, line, f"invalid {scheme.upper()} sequence: {reason}")
        for start, end, etype in spans:
            entity = check_span(text, offsets[start], offsets[end], etype, None, where,
                                sentence.lines[start], report)
            if entity is not None:
                source.add(entity, sentence.lines[start])
    return source


def read(path: Path, report: ReadReport, options: ReadOptions) -> list[SourceDoc]:
    out = []
    for file in required_files(path, None, NOT_DATA):
        text = decode_text(file, report)
        if text is None:
            continue
        where = shown(file)
        docs = parse_file(file, text, options.labeled, options.conll_documents == "sentences")
        scheme = file_scheme(docs, where, options.tag_scheme, report) if options.labeled \
            else "bio"
        if scheme is None:
            continue
        for doc in docs:
            if doc.problem:
                report.skip(where, doc.problem[0], f"{doc.problem[1]}: document skipped")
                continue
            source = to_source(doc, where, scheme, report)
            if source is not None:
                out.append(source)
    return out


def document_lines(doc: Document, scheme: str) -> list[str]:
    text = doc.text
    spans = [(e.start, e.end, e.type) for e in doc.entities]
    tags = tag_schemes.encode(spans, len(text), scheme)
    lines = [f"{DOCSTART} {escape_id(doc.id)}", ""]
    for ch, tag in zip(text, tags):
        lines.append(f"{escape(ch)} {tag}")
        if ch == "\n":
            lines.append("")
    if lines[-1]:
        lines.append("")
    return lines


def write(path: Path, docs: list[Document], tag_scheme: str = "bio") -> None:
    """One file of every document, tags in ``tag_scheme`` (``auto`` writes BIO)."""
    scheme = "bio" if tag_scheme == "auto" else tag_scheme
    write_text(path, "".join(line + "\n" for d in docs for line in document_lines(d, scheme)))


def sniff(path: Path) -> int:
    """2 if the first data file's first lines are all ``token ... tag`` or ``-DOCSTART-``."""
    if path.is_dir() and any(path.glob("*.ann")):
        return 0
    try:
        files = [f for f in data_files(path, None) if f.suffix not in NOT_DATA]
        head = files[0].read_bytes()[:8192].decode("utf-8", "ignore") if files else ""
    except (OSError, ValueError):
        return 0
    lines = [line.strip(" \t\r\ufeff") for line in head.split("\n")[:40]]
    lines = [line for line in lines[:-1] if line]  # the last one may be cut
    token_lines = [COLUMNS.split(line) for line in lines if not line.startswith(DOCSTART)]
    if token_lines and all(len(c) >= 2 and TAG.fullmatch(c[-1]) for c in token_lines):
        return 2
    return 0


FORMAT = Format("conll", read, write, sniff, holds_nested=False, suffix=".conll")
