"""split stage: read and validate the raw inputs, split labeled documents by document.

Writes ``data/split/{train,dev,test,unlabeled}.jsonl`` and ``metrics/data.json`` (documents,
characters and entities per split; every skipped input with its file, line and reason).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sklearn.model_selection import train_test_split

from dapt.cli import path_flag, stage_main
from dapt.data.contracts import SPLITS, UNLABELED, split_file, write_json
from dapt.data.documents import Document, entity_counts, write_jsonl
from dapt.data.readers import ReadReport, drop_duplicate_ids, read_brat_folder, read_corpus_file
from dapt.params import Params

log = logging.getLogger("split")


@dataclass
class Paths:
    out: str = path_flag("data/split", "folder of the split JSONL files", output=True)
    metrics: str = path_flag("metrics/data.json", "data report", output=True)


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


def read_inputs(data: Params, on_error: str) -> tuple[list[Document], list[Document],
                                                       ReadReport]:
    """Read labeled and unlabeled inputs named by the ``data`` params."""
    report = ReadReport(on_error=on_error)
    labeled = read_brat_folder(data["labeled_dir"], report, labeled=True)
    unlabeled: list[Document] = []
    if data["unlabeled_dir"]:
        unlabeled += read_brat_folder(data["unlabeled_dir"], report, labeled=False)
    if data["corpus_file"]:
        unlabeled += read_corpus_file(data["corpus_file"], report)
    everything = drop_duplicate_ids(labeled + unlabeled, report, "inputs")
    kept = {id(d) for d in everything}
    labeled = [d for d in labeled if id(d) in kept]
    unlabeled = [d for d in unlabeled if id(d) in kept]
    return labeled, unlabeled, report


def run(params: Params, paths: Paths) -> dict:
    """Read, validate and split the inputs; returns the data report."""
    cfg = params["split"]
    labeled, unlabeled, report = read_inputs(params["data"], cfg["on_error"])
    parts = split_labeled(labeled, cfg["dev_size"], cfg["test_size"], cfg["seed"])
    parts[UNLABELED] = unlabeled
    for name in SPLITS:
        write_jsonl(split_file(paths.out, name), parts[name])
        log.info("%s: %d documents", name, len(parts[name]))
    for entry in report.skipped:
        log.warning("skipped %s", entry)
    metrics = {name: corpus_summary(parts[name]) for name in SPLITS}
    metrics["skipped"] = [s.as_dict() for s in report.skipped]
    metrics["ignored"] = dict(sorted(report.ignored.items()))
    write_json(paths.metrics, metrics)
    log.info("%d skipped, ignored: %s", len(report.skipped), metrics["ignored"])
    return metrics


def main(argv: list[str] | None = None) -> None:
    stage_main(__doc__, Paths, run, argv)


if __name__ == "__main__":
    main()
