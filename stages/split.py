"""split stage: read and validate the raw inputs, split labeled documents by document.

Writes ``data/split/{train,dev,test,unlabeled}.jsonl`` and ``metrics/data.json`` (documents,
characters and entities per split; the format each input was read in; what the nested
policy dropped; every skipped or repaired input with its file, line and reason).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from dapt.cli import path_flag, stage_main
from dapt.data.contracts import SPLITS, UNLABELED, split_file, write_json
from dapt.data.documents import write_jsonl
from dapt.data.splitting import corpus_summary, nested_summary, read_inputs, split_labeled
from dapt.params import Params, as_params

log = logging.getLogger("split")


@dataclass
class Paths:
    out: str = path_flag("data/split", "folder of the split JSONL files", output=True)
    metrics: str = path_flag("metrics/data.json", "data report", output=True)


def run(params: Params, paths: Paths) -> dict:
    """Read, validate and split the inputs; returns the data report."""
    params = as_params(params)
    cfg = params["split"]
    labeled, unlabeled, report, read_as = read_inputs(params["data"], cfg["on_error"])
    parts = split_labeled(labeled, cfg["dev_size"], cfg["test_size"], cfg["seed"])
    parts[UNLABELED] = unlabeled
    for name in SPLITS:
        write_jsonl(split_file(paths.out, name), parts[name])
        log.info("%s: %d documents", name, len(parts[name]))
    for entry in report.skipped:
        log.warning("skipped %s", entry)
    for entry in report.repaired:
        log.warning("repaired %s", entry)
    metrics = {name: corpus_summary(parts[name]) for name in SPLITS}
    metrics["format"] = read_as
    metrics["nested"] = nested_summary(params["data"]["nested"], report)
    metrics["skipped"] = [s.as_dict() for s in report.skipped]
    metrics["repaired"] = [s.as_dict() for s in report.repaired]
    metrics["ignored"] = dict(sorted(report.ignored.items()))
    write_json(paths.metrics, metrics)
    log.info("read %s; %d skipped, %d repaired, %d nested spans dropped (%s); ignored: %s",
             read_as, len(report.skipped), len(report.repaired), sum(report.nested.values()),
             metrics["nested"]["policy"], metrics["ignored"])
    return metrics


def main(argv: list[str] | None = None) -> None:
    stage_main(__doc__, Paths, run, argv)


if __name__ == "__main__":
    main()
