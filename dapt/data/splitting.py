"""The split stage's logic: read the labeled and unlabeled inputs the ``data`` params name,
split the labeled documents by document (seeded), and summarise each part."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sklearn.model_selection import train_test_split

from dapt.data.documents import Document, entity_counts
from dapt.data.formats.base import ReadOptions
from dapt.data.formats.registry import read_documents
from dapt.data.readers import ReadReport, drop_duplicate_ids, read_corpus_file


def split_labeled(
    docs: list[Document], dev_size: float, test_size: float, seed: int
) -> dict[str, list[Document]]:
    """Seeded document-level split; each part keeps the input (id) order."""
    if len(docs) < 3:
        raise ValueError(f"need at least 3 labeled documents to split, got {len(docs)}")
    index = list(range(len(docs)))
    rest, test = train_test_split(index, test_size=test_size, random_state=seed)
    dev_share = dev_size / (1.0 - test_size)
    train, dev = train_test_split(rest, test_size=dev_share, random_state=seed)
    return {name: [docs[i] for i in sorted(part)] for name, part in
            (("train", train), ("dev", dev), ("test", test))}


def corpus_summary(docs: list[Document]) -> dict:
    """Documents, characters and entities per type of one split."""
    return {
        "documents": len(docs),
        "characters": sum(len(d.text) for d in docs),
        "entities": entity_counts(docs),
    }


def read_inputs(data: Mapping[str, Any], on_error: str
                ) -> tuple[list[Document], list[Document], ReadReport, dict[str, str]]:
    """Labeled and unlabeled documents named by the ``data`` params (files or folders in
    ``data.format`` and ``data.unlabeled_format``, corpus file), spans made flat by
    ``data.nested``, a document id seen twice kept once; the report lists what was skipped,
    the dict the format each input was read in."""
    report = ReadReport(on_error=on_error)
    options = ReadOptions(labeled=True, tag_scheme=data["tag_scheme"],
                          conll_documents=data["conll_documents"])
    labeled, fmt = read_documents(data["labeled_dir"], report, options, data["format"],
                                  data["nested"])
    read_as = {"labeled": fmt}
    unlabeled: list[Document] = []
    if data["unlabeled_dir"]:
        unlabeled, read_as["unlabeled"] = read_documents(
            data["unlabeled_dir"], report, replace(options, labeled=False),
            data["unlabeled_format"], data["nested"])
    if data["corpus_file"]:
        unlabeled += read_corpus_file(data["corpus_file"], report)
    everything = drop_duplicate_ids(labeled + unlabeled, report, "inputs")
    kept = {id(d) for d in everything}
    labeled = [d for d in labeled if id(d) in kept]
    unlabeled = [d for d in unlabeled if id(d) in kept]
    return labeled, unlabeled, report, read_as


def nested_summary(policy: str, report: ReadReport) -> dict:
    """What the ``data.nested`` policy dropped: documents touched, spans per type."""
    return {"policy": policy, "documents": report.nested_documents,
            "dropped": dict(sorted(report.nested.items()))}
