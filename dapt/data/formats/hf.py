"""Hugging Face ``datasets`` folders (``save_to_disk``) with ``tokens`` and ``ner_tags``.

Reading: a ``Dataset`` or a ``DatasetDict`` (its splits in their order); each row is a
document whose text is its tokens joined without a separator (character-level Chinese data),
tags as ``ClassLabel`` names or strings in ``data.tag_scheme`` (``auto``: detected per
split). The id is the row's ``id`` column (prefixed ``<split>:`` in a ``DatasetDict``), else
``<split or "row">:<row number>``; problems are located as ``<folder>[<split>]:<row>``.

Writing: a ``Dataset`` (``write``) or a ``DatasetDict`` of named parts (``write_dict``) with
columns ``id``, ``tokens`` (every character of the text, whitespace included, so the text
comes back exactly) and ``ner_tags`` (a ``ClassLabel`` over the tags of the types present).
Nested spans do not fit: ``entities`` only. Needs the ``datasets`` package (the ``hf``
extra: ``pip install -e '.[hf]'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dapt.data.atomic import atomic_dir
from dapt.data.documents import Document
from dapt.data.formats import tags as tag_schemes
from dapt.data.formats.base import Format, ReadOptions
from dapt.data.readers import (
    InputError,
    ReadReport,
    SourceDoc,
    check_span,
    shown,
    text_problem,
)


def import_datasets() -> Any:
    try:
        import datasets
    except ImportError as exc:
        raise InputError("the hf format needs the datasets package: pip install -e '.[hf]'") \
            from exc
    return datasets


def row_tags(ds: Any, labeled: bool) -> list[list[str]]:
    """Every row's tags as strings (ClassLabel ids mapped to their names)."""
    if not labeled:
        return [["O"] * len(tokens) for tokens in ds["tokens"]]
    feature = ds.features["ner_tags"]
    names = getattr(getattr(feature, "feature", None), "names", None)
    rows = ds["ner_tags"]
    return [[names[t] for t in tags] for tags in rows] if names else \
        [[str(t) for t in tags] for tags in rows]


def read_part(ds: Any, split: str | None, where: str, report: ReadReport,
              options: ReadOptions) -> list[SourceDoc]:
    missing = [c for c in ("tokens", "ner_tags")[: 2 if options.labeled else 1]
               if c not in ds.column_names]
    if missing:
        raise InputError(f"{where}: no {' or '.join(missing)} column (has {ds.column_names})")
    tokens_rows, tag_rows = ds["tokens"], row_tags(ds, options.labeled)
    ids = [str(i) for i in ds["id"]] if "id" in ds.column_names else None
    scheme = options.tag_scheme
    if scheme == "auto" and options.labeled:
        try:
            scheme = tag_schemes.detect(tag_rows)
        except tag_schemes.TagSchemeError as exc:
            report.skip(where, None, f"unknown tag scheme: {exc} (split skipped)")
            return []
    out = []
    for row, (tokens, tags) in enumerate(zip(tokens_rows, tag_rows), 1):
        doc_id = f"{split or 'row'}:{row}" if ids is None else \
            (f"{split}:{ids[row - 1]}" if split else ids[row - 1])
        if len(tokens) != len(tags):
            report.skip(where, row, f"{len(tokens)} tokens but {len(tags)} tags")
            continue
        if not all(isinstance(t, str) for t in tokens):
            report.skip(where, row, "a token is not a string")
            continue
        text = "".join(tokens)
        if problem := text_problem(text):
            report.skip(where, row, problem)
            continue
        offsets = [0]
        for token in tokens:
            offsets.append(offsets[-1] + len(token))
        source = SourceDoc(Document(doc_id, text), where, row)
        if options.labeled:
            try:
                spans, problems = tag_schemes.decode(tags, "bio" if scheme == "auto" else scheme)
            except tag_schemes.TagSchemeError as exc:
                report.skip(where, row, f"{exc} (document skipped)")
                continue
            for _, reason in problems:
                report.repair(where, row, f"invalid {scheme.upper()} sequence: {reason}")
            for start, end, etype in spans:
                entity = check_span(text, offsets[start], offsets[end], etype, None, where,
                                    row, report)
                if entity is not None:
                    source.add(entity, row)
        out.append(source)
    return out


def read(path: Path, report: ReadReport, options: ReadOptions) -> list[SourceDoc]:
    datasets = import_datasets()
    try:
        loaded = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as exc:
        raise InputError(f"{shown(path)}: not a saved Hugging Face dataset ({exc})") from exc
    parts = list(loaded.items()) if isinstance(loaded, datasets.DatasetDict) else [(None, loaded)]
    out = []
    for split, ds in parts:
        where = f"{shown(path)}[{split}]" if split else shown(path)
        out += read_part(ds, split, where, report, options)
    return out


def to_dataset(docs: list[Document], scheme: str, names: list[str]) -> Any:
    datasets = import_datasets()
    datasets.disable_progress_bars()  # a few rows: the save bar is noise
    index = {name: i for i, name in enumerate(names)}
    rows: dict[str, list] = {"id": [], "tokens": [], "ner_tags": []}
    for doc in docs:
        spans = [(e.start, e.end, e.type) for e in doc.entities]
        rows["id"].append(doc.id)
        rows["tokens"].append(list(doc.text))
        rows["ner_tags"].append([index[t] for t in tag_schemes.encode(spans, len(doc.text),
                                                                       scheme)])
    features = datasets.Features({
        "id": datasets.Value("string"),
        "tokens": datasets.List(datasets.Value("string")),
        "ner_tags": datasets.List(datasets.ClassLabel(names=names)),
    })
    return datasets.Dataset.from_dict(rows, features=features)


def write_dict(path: Path, parts: dict[str, list[Document]], tag_scheme: str = "bio") -> None:
    """A ``DatasetDict`` with one split per part, one ``ClassLabel`` over all their types."""
    datasets = import_datasets()
    scheme = "bio" if tag_scheme == "auto" else tag_scheme
    types = {e.type for docs in parts.values() for d in docs for e in d.entities}
    names = tag_schemes.label_names(types, scheme)
    data = datasets.DatasetDict({k: to_dataset(v, scheme, names) for k, v in parts.items()})
    with atomic_dir(path) as tmp:
        data.save_to_disk(str(tmp))


def write(path: Path, docs: list[Document], tag_scheme: str = "bio") -> None:
    scheme = "bio" if tag_scheme == "auto" else tag_scheme
    names = tag_schemes.label_names({e.type for d in docs for e in d.entities}, scheme)
    dataset = to_dataset(docs, scheme, names)
    with atomic_dir(path) as tmp:
        dataset.save_to_disk(str(tmp))


def sniff(path: Path) -> int:
    return 2 if path.is_dir() and any(
        (path / name).is_file() for name in ("dataset_dict.json", "state.json")) else 0


FORMAT = Format("hf", read, write, sniff, holds_nested=False, suffix="")
