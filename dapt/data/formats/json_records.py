"""JSON record files as the JSON formats (CLUENER, CMeEE, doccano, the project's JSONL) ship
them: one object per line (JSONL), or one array of objects (CMeEE's ``*.json``), each record
with the line it starts on, so that every problem is reported as ``file:line``.

A line that is not JSON (JSONL) is skipped at that line; an array that breaks off (truncated
file, bad syntax) keeps the records before the break and skips the rest at its line. A
record that is not an object is skipped. Decoding, BOM and binary checks: ``decode_text``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dapt.data.atomic import write_text
from dapt.data.documents import Document
from dapt.data.formats.base import ReadOptions
from dapt.data.readers import (
    InputError,
    ReadReport,
    SourceDoc,
    check_span,
    decode_text,
    shown,
    text_problem,
)

WHITESPACE = " \t\r\n"
SUFFIXES = (".json", ".jsonl")
Record = tuple[int, dict]


def data_files(path: Path, suffixes: Iterable[str] | None) -> list[Path]:
    """``path`` itself if it is a file; else its non-hidden files with one of ``suffixes``
    (any suffix when None; ``README*`` and ``*.md`` never), sorted by name."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(f"{path}: no such file or folder")
    wanted = tuple(suffixes) if suffixes is not None else None
    return sorted(
        p for p in path.iterdir()
        if p.is_file() and not p.name.startswith(".") and not p.name.upper().startswith("README")
        and p.suffix != ".md" and (wanted is None or p.suffix in wanted)
    )


def required_files(path: Path, suffixes: Iterable[str] | None,
                   excluded: Iterable[str] = ()) -> list[Path]:
    """``data_files`` without ``excluded`` suffixes; raises ``InputError`` when none is left."""
    files = [f for f in data_files(path, suffixes) if f.suffix not in tuple(excluded)]
    if not files:
        kind = f"{'/'.join(suffixes)} " if suffixes else ""
        raise InputError(f"{shown(path)}: no {kind}data files in this folder")
    return files


class LineCounter:
    """Line number of character positions, counted incrementally (positions ascend)."""

    def __init__(self, text: str) -> None:
        self.text, self.pos, self.line = text, 0, 1

    def at(self, pos: int) -> int:
        self.line += self.text.count("\n", self.pos, pos)
        self.pos = pos
        return self.line


def skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in WHITESPACE:
        pos += 1
    return pos


def array_records(text: str, path: Path, report: ReadReport) -> Iterator[Record]:
    decoder, lines = json.JSONDecoder(), LineCounter(text)
    pos = skip_space(text, skip_space(text, 0) + 1)  # after "["
    if pos < len(text) and text[pos] == "]":
        return
    while True:
        try:
            record, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            report.skip(shown(path), lines.at(exc.pos), f"invalid JSON ({exc.msg}): the rest "
                        "of the file is skipped")
            return
        line = lines.at(pos)
        if isinstance(record, dict):
            yield line, record
        else:
            report.skip(shown(path), line, f"record is a JSON {type(record).__name__}, "
                        "not an object")
        pos = skip_space(text, end)
        if pos < len(text) and text[pos] == ",":
            pos = skip_space(text, pos + 1)
            continue
        if pos < len(text) and text[pos] == "]":
            return
        report.skip(shown(path), lines.at(pos), "invalid JSON (expected ',' or ']' after a "
                    "record): the rest of the file is skipped")
        return


def line_records(text: str, path: Path, report: ReadReport) -> Iterator[Record]:
    for line_no, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            report.skip(shown(path), line_no, f"invalid JSON ({exc.msg})")
            continue
        if isinstance(record, dict):
            yield line_no, record
        else:
            report.skip(shown(path), line_no, f"record is a JSON {type(record).__name__}, "
                        "not an object")


def text_records(text: str, path: Path, report: ReadReport) -> Iterator[Record]:
    first = skip_space(text, 0)
    if first < len(text) and text[first] == "[":
        yield from array_records(text, path, report)
    else:
        yield from line_records(text, path, report)


def records(path: Path, report: ReadReport) -> Iterator[Record]:
    """``(line, record)`` of every object in a JSONL file or a JSON array file."""
    text = decode_text(path, report)
    if text is not None:
        yield from text_records(text, path, report)


def first_records(path: Path, limit: int = 50, head: int = 1 << 18) -> list[dict]:
    """Up to ``limit`` records from the first ``head`` bytes of the first JSON data file of
    ``path`` (for detection: a file that does not start with ``{`` or ``[`` has none)."""
    files = data_files(path, SUFFIXES)
    if not files:
        return []
    try:
        with open(files[0], "rb") as f:
            text = f.read(head).decode("utf-8", "ignore").lstrip("\ufeff")
    except OSError:
        return []
    if text.lstrip(WHITESPACE)[:1] not in ("{", "["):
        return []
    lines = text.split("\n")
    if len(lines) > 1:
        text = "\n".join(lines[:-1])  # the last line may be cut
    out: list[dict] = []
    for _, record in text_records(text, files[0], ReadReport()):
        out.append(record)
        if len(out) >= limit:
            break
    return out


def sniff_records(path: Path, consistent: Callable[[dict], bool],
                  evidence: Callable[[dict], bool]) -> int:
    """2 if the sampled records all fit a format and one shows its labels, 1 if they all fit
    but none has labels, 0 otherwise."""
    try:
        sample = first_records(path)
    except InputError:
        return 0
    if not sample or not all(consistent(r) for r in sample):
        return 0
    return 2 if any(evidence(r) for r in sample) else 1


def write_records(path: Path, rows: list[dict], array: bool) -> None:
    """A JSON array (one record a line inside ``[...]``) or JSONL, UTF-8, atomically."""
    lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    if array:
        text = "[\n" + ",\n".join(lines) + "\n]\n" if lines else "[]\n"
    else:
        text = "".join(line + "\n" for line in lines)
    write_text(path, text)


@dataclass(frozen=True)
class RawSpan:
    """A span as a record states it: offsets not yet checked, end in the file's convention,
    the surface text when the format gives one."""

    type: object
    start: object
    end: object
    surface: str | None = None


def record_text(record: dict) -> str:
    """The record's text (``text``, or ``data`` as older doccano exports name it)."""
    text = record.get("text", record.get("data"))
    if not isinstance(text, str):
        raise ValueError("record has no \"text\" string")
    return text


def record_id(record: dict, file: Path, line: int) -> str:
    """The record's ``id`` when it has one, else ``<file stem>:<line>``."""
    value = record.get("id")
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else \
        f"{file.stem}:{line}"


def end_shift(rows: list[tuple[str, list[RawSpan]]], default: int) -> int:
    """1 if the spans of a file end inclusively (``text[start:end + 1] == surface``), 0 if
    exclusively: the convention more spans fit, ``default`` on a tie or with no surfaces."""
    fits = [0, 0]
    for text, spans in rows:
        for span in spans:
            if span.surface is None or type(span.start) is not int or type(span.end) is not int:
                continue
            for shift in (0, 1):
                fits[shift] += span.end + shift <= len(text) and \
                    text[span.start : span.end + shift] == span.surface
    if fits[0] == fits[1]:
        return default
    return int(fits[1] > fits[0])


def read_json_format(path: Path, report: ReadReport, options: ReadOptions,
                     parse_spans: Callable[[dict], list[RawSpan]],
                     default_shift: int | None) -> list[SourceDoc]:
    """Documents of the JSON record files at ``path``. ``parse_spans`` reads a record's spans
    (raising ``ValueError`` on a bad shape: the record is skipped at its line);
    ``default_shift`` None: ends are exclusive, else the file's convention is decided by
    ``end_shift`` (counted in ``ignored`` as ``files_with_inclusive_ends``)."""
    out = []
    for file in required_files(path, SUFFIXES):
        where = shown(file)
        rows = []
        for line, record in records(file, report):
            try:
                text = record_text(record)
                spans = parse_spans(record) if options.labeled else []
            except ValueError as exc:
                report.skip(where, line, str(exc))
                continue
            if problem := text_problem(text):
                report.skip(where, line, problem)
            else:
                rows.append((line, record_id(record, file, line), text, spans))
        shift = 0 if default_shift is None else end_shift([r[2:] for r in rows], default_shift)
        if shift:
            report.ignored["files_with_inclusive_ends"] += 1
        for line, doc_id, text, spans in rows:
            source = SourceDoc(Document(doc_id, text), where, line)
            for span in spans:
                end = span.end + shift if type(span.end) is int else span.end
                entity = check_span(text, span.start, end, span.type, span.surface, where, line,
                                    report)
                if entity is not None:
                    source.add(entity, line)
            out.append(source)
    return out
