"""The shape every document format has in the registry (``dapt.data.formats``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dapt.data.documents import Document
from dapt.data.readers import ReadReport, SourceDoc


@dataclass(frozen=True)
class ReadOptions:
    """``labeled``: read the annotations (False: text only, labels ignored); ``tag_scheme``
    and ``conll_documents``: the ``data`` params of the token-per-line formats."""

    labeled: bool = True
    tag_scheme: str = "auto"
    conll_documents: str = "auto"


@dataclass(frozen=True)
class Format:
    """A format's reader, writer and detector.

    ``read(path, report, options)`` returns documents as found (spans may nest: the caller
    applies ``data.nested``); ``write(path, docs, tag_scheme)`` writes documents (their full
    gold where ``holds_nested``, else ``entities`` only) to a folder (``suffix`` "") or a file;
    ``sniff(path)`` says 2 (this format), 1 (could be: no labels seen) or 0 (not this one).
    """

    name: str
    read: Callable[[Path, ReadReport, ReadOptions], list[SourceDoc]]
    write: Callable[[Path, list[Document], str], None]
    sniff: Callable[[Path], int]
    holds_nested: bool
    suffix: str  # of the file the writer writes; "" for a folder
