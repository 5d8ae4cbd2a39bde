"""What every input reader shares: the skip-or-raise report, decoding, span checks, and the
readers of raw corpus files and lexicon files (document formats: ``dapt.data.formats``).

Policy for bad input (documented in README "Input validation"):

* With ``on_error="skip"`` (the default) every problem is recorded as a
  :class:`Skip` (file, line, reason) and the offending unit is dropped:
  a whole document for file-level problems, one annotation for line-level ones.
  Stages write the list to their metrics (``metrics/data.json``; lexicon files:
  ``metrics/masking.json``); nothing is dropped silently.
* With ``on_error="raise"`` the first problem raises :class:`InputError`
  naming the file and line.

Binary input: text with a C0 control character other than ``\\t \\n \\v \\f \\r`` (a NUL byte,
an escape sequence, ...) is bad input like undecodable bytes, skipped at the line of the
first one. Other characters, private-use ones (category Co) included, are text.

Offsets count characters of the decoded text exactly as stored. CRLF line ends are kept,
so ``\\r`` is one character and offsets stay valid. A UTF-8 byte-order mark is not part of
the text: it is removed and offsets refer to the text after it (as brat's own reader does
with ``utf-8-sig``).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dapt.data.documents import Document, Entity

TYPE = re.compile(r"\S+")
CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")  # C0 controls but \t \n \v \f \r


class InputError(ValueError):
    """A problem in the input data, with the file (and line) it was found at."""


@dataclass(frozen=True)
class Skip:
    file: str
    line: int | None
    reason: str

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "reason": self.reason}

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.reason}"


@dataclass
class ReadReport:
    """What a reader skipped, repaired (invalid tag sequences) and ignored on purpose."""

    on_error: str = "skip"
    skipped: list[Skip] = field(default_factory=list)
    ignored: Counter = field(default_factory=Counter)
    repaired: list[Skip] = field(default_factory=list)
    nested: Counter = field(default_factory=Counter)  # spans data.nested dropped, per type
    nested_documents: int = 0

    def skip(self, file: Path | str, line: int | None, reason: str) -> None:
        entry = Skip(str(file), line, reason)
        if self.on_error == "raise":
            raise InputError(str(entry))
        self.skipped.append(entry)

    def repair(self, file: Path | str, line: int | None, reason: str) -> None:
        """Record a problem that was repaired, not skipped (raised like a skip)."""
        entry = Skip(str(file), line, reason)
        if self.on_error == "raise":
            raise InputError(str(entry))
        self.repaired.append(entry)


@dataclass
class SourceDoc:
    """A document as a format reader found it, before the nested policy: its entities may
    overlap; ``where`` is the file and line of the document, ``lines`` the line of each entity
    (for located errors)."""

    doc: Document
    file: str
    line: int | None = None
    lines: list[int | None] = field(default_factory=list)

    def add(self, entity: Entity, line: int | None) -> None:
        self.doc.entities.append(entity)
        self.lines.append(line)


def text_problem(text: str) -> str | None:
    """Why a decoded document text is bad input (a control character, as in binary data, or
    nothing but whitespace), or None."""
    if bad := CONTROL.search(text):
        return f"control character U+{ord(bad.group()):04X} in the text (binary data?)"
    return None if text.strip() else "empty text"


def check_span(text: str, start: object, end: object, etype: object, surface: str | None,
               file: str, line: int | None, report: ReadReport) -> Entity | None:
    """The entity ``text[start:end]`` of type ``etype``, or None (a recorded skip) when the
    offsets are not integers, empty, reversed or out of range, the type is not one word, the
    span crosses a line break, or ``surface`` (when the format gives one) differs from the
    text there."""
    if type(start) is not int or type(end) is not int:
        reason = f"offsets {start!r}-{end!r} are not integers"
    elif not isinstance(etype, str) or not TYPE.fullmatch(etype):
        reason = f"entity type {etype!r} is not one word"
    elif not 0 <= start < end:
        reason = f"empty or reversed span {start}-{end}"
    elif end > len(text):
        reason = f"span {start}-{end} out of range ({len(text)} chars)"
    elif surface is not None and text[start:end] != surface:
        reason = f"span text {surface!r} != document text {text[start:end]!r}"
    elif "\n" in text[start:end] or "\r" in text[start:end]:
        reason = f"span {start}-{end} crosses a line break"
    else:
        return Entity(start, end, etype, text[start:end])
    report.skip(file, line, reason)
    return None


def shown(path: Path) -> str:
    """A printable path, also for file names that are not valid UTF-8."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def decode_bytes(data: bytes, path: Path, report: ReadReport, first_line: int = 1) -> str | None:
    """Decode UTF-8 text, or record a skip at the line of the first bad byte or control
    character (``CONTROL``) and return None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = first_line + data[: exc.start].count(b"\n")
        report.skip(shown(path), line, f"not UTF-8 (byte {exc.start}: {exc.reason})")
        return None
    if bad := CONTROL.search(text):
        line = first_line + text.count("\n", 0, bad.start())
        report.skip(shown(path), line, f"control character U+{ord(bad.group()):04X} (binary data?)")
        return None
    return text


def decode_text(path: Path, report: ReadReport, count: bool = True) -> str | None:
    """Read a UTF-8 text file; strip a BOM; None (with a skip) if unreadable, not UTF-8 or
    binary (``decode_bytes``).

    With ``count``, BOMs and CRLF line ends are counted in ``report.ignored``.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        report.skip(shown(path), None, f"unreadable ({exc.strerror or exc})")
        return None
    text = decode_bytes(data, path, report)
    if text is None:
        return None
    if text.startswith("\ufeff"):
        text = text[1:]
        report.ignored["utf8_bom_removed"] += count
    if "\r\n" in text:
        report.ignored["crlf_documents"] += count
    return text


def read_lines(path: Path, report: ReadReport) -> Iterator[tuple[int, str]]:
    """Numbered lines of a UTF-8 text file, BOM and ``\\r`` removed; a line that is not
    UTF-8 is skipped (recorded), an unreadable file raises ``InputError``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: unreadable ({exc.strerror or exc})") from exc
    for line_no, raw in enumerate(data.removeprefix(b"\xef\xbb\xbf").split(b"\n"), 1):
        line = decode_bytes(raw, path, report, first_line=line_no)  # bad line: that line only
        if line is not None:
            yield line_no, line.rstrip("\r")


def read_corpus_file(path: Path | str, report: ReadReport) -> list[Document]:
    """Read a raw corpus, one document per line (blank lines skipped and counted)."""
    path = Path(path)
    docs = []
    for line_no, line in read_lines(path, report):
        if not line.strip():
            report.ignored["corpus_blank_lines"] += 1
            continue
        docs.append(Document(f"{path.stem}:{line_no}", line))
    return docs


def read_lexicon_file(path: Path | str, report: ReadReport) -> list[tuple[str, str]]:
    """``(surface, type)`` entries of a lexicon file: one ``surface<TAB>TYPE`` per line.

    Blank lines and lines starting with ``#`` are ignored. A line with another
    shape, an empty or space-padded surface, or a type holding whitespace is skipped
    (recorded) or raises, per ``report.on_error``.
    """
    path = Path(path)
    entries = []
    for line_no, line in read_lines(path, report):
        if not line.strip() or line.startswith("#"):
            continue
        surface, tab, etype = line.partition("\t")
        if not tab or not surface or surface != surface.strip() or not TYPE.fullmatch(etype):
            report.skip(path, line_no, "malformed lexicon line (want surface TAB TYPE, "
                        f"no padding, no whitespace in TYPE): {line!r}")
            continue
        entries.append((surface, etype))
    return entries


def sort_key(stem: str) -> tuple[int, int, str]:
    """Numeric ids sort numerically, others after them alphabetically."""
    return (0, int(stem), stem) if stem.isascii() and stem.isdigit() else (1, 0, stem)


def drop_duplicate_ids(docs: list[Document], report: ReadReport, source: str) -> list[Document]:
    """Skip every document whose id was already seen (first occurrence wins)."""
    seen: set[str] = set()
    unique = []
    for doc in docs:
        if doc.id in seen:
            report.skip(source, None, f"duplicate document id {doc.id!r}")
            continue
        seen.add(doc.id)
        unique.append(doc)
    return unique
