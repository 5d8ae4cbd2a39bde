"""Input readers with validation: brat folders, raw corpus files and lexicon files.

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

Offsets: brat offsets count characters of the decoded file exactly as stored.
CRLF line ends are kept, so ``\\r`` is one character and offsets stay valid.
A UTF-8 byte-order mark is not part of the text: it is removed and offsets
refer to the text after it (as brat's own reader does with ``utf-8-sig``).
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
ENTITY_LINE = re.compile(r"^(T\d+)\t(\S+) (\d+ \d+(?:;\d+ \d+)*)\t(.*)$")
IGNORED_KINDS = ("#", "R", "A", "E", "M", "N", "*")
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
    """What a reader skipped and what it ignored on purpose."""

    on_error: str = "skip"
    skipped: list[Skip] = field(default_factory=list)
    ignored: Counter = field(default_factory=Counter)

    def skip(self, file: Path | str, line: int | None, reason: str) -> None:
        entry = Skip(str(file), line, reason)
        if self.on_error == "raise":
            raise InputError(str(entry))
        self.skipped.append(entry)


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


def parse_ann(path: Path, raw: str, text: str, report: ReadReport) -> list[Entity]:
    """Parse and validate one .ann file against its text; drop bad or overlapping spans."""
    candidates: list[tuple[Entity, int]] = []
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
        if start >= end:
            report.skip(path, line_no, f"empty or reversed span {start}-{end}")
            continue
        if end > len(text):
            report.skip(path, line_no, f"span {start}-{end} out of range ({len(text)} chars)")
            continue
        if text[start:end] != surface:
            report.skip(
                path, line_no, f"span text {surface!r} != document text {text[start:end]!r}"
            )
            continue
        candidates.append((Entity(start, end, etype, surface), line_no))
    return skip_conflicting_spans(path, candidates, report)


def skip_conflicting_spans(
    path: Path, candidates: list[tuple[Entity, int]], report: ReadReport
) -> list[Entity]:
    """Keep spans greedily by (start, longest first); skip duplicates and overlaps."""
    kept: list[Entity] = []
    for entity, line_no in sorted(candidates, key=lambda c: (c[0].start, -c[0].end, c[1])):
        if kept and entity.start < kept[-1].end:
            other = kept[-1]
            kind = "duplicate" if (entity.start, entity.end) == (other.start, other.end) else (
                "nested" if entity.end <= other.end else "overlapping"
            )
            report.skip(
                path, line_no, f"{kind} span {entity.start}-{entity.end} "
                f"({entity.type}) conflicts with {other.start}-{other.end} ({other.type})"
            )
            continue
        kept.append(entity)
    return kept


def valid_name(path: Path, report: ReadReport) -> bool:
    """File names become document ids: they must be valid UTF-8 (skipped otherwise)."""
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:
        report.skip(shown(path), None, "file name is not valid UTF-8")
        return False
    return True


def doc_id_of(path: Path) -> str:
    return path.stem


def read_brat_folder(
    folder: Path | str, report: ReadReport, labeled: bool = True, allow_empty_ann: bool = False
) -> list[Document]:
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
        entities: list[Entity] = []
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
            entities = parse_ann(ann_path, raw_ann, text, report)
        docs.append(Document(doc_id_of(txt_path), text, entities))
    return docs


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
