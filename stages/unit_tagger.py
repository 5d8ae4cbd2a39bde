"""unit-tagger stage: a character CRF, trained on the train split only, tags every other
document; its spans are the entity units of ``mask.unlabeled_units: tagger``.

Reads ``data/split``; writes

  models/unit_tagger/crf.crfsuite   the CRF (``dapt.char_taggers.feature_crf``, python-crfsuite)
  data/units/{dev,test,unlabeled}.jsonl
                                    those documents with the predicted entities instead of
                                    gold (document offsets; dev: for mask-annotate's unit
                                    quality score; test: for ``tokenize.mlm_include_eval_text``)
  metrics/unit_tagger.json          train size and predicted entities per split

The stage always runs, whatever ``mask.unlabeled_units`` says, so that switching the unit
source reruns mask-annotate only and every run reports the tagger's unit quality. Training
(L-BFGS) draws nothing at random, so it needs no seed: reruns give identical bytes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from dapt.char_taggers import feature_crf
from dapt.cli import path_flag, stage_main
from dapt.data.atomic import atomic_dir
from dapt.data.contracts import DEV, TEST, TRAIN, UNLABELED, split_file, write_json
from dapt.data.documents import entity_counts, read_jsonl, write_jsonl
from dapt.params import Params, as_params

log = logging.getLogger("unit-tagger")


@dataclass
class Paths:
    split_dir: str = path_flag("data/split", "split JSONL folder")
    model: str = path_flag("models/unit_tagger", "model folder", output=True)
    out: str = path_flag("data/units", "folder of the tagged {dev,test,unlabeled}.jsonl",
                         output=True)
    metrics: str | None = path_flag("metrics/unit_tagger.json", "metrics JSON", output=True)


def run(params: Params, paths: Paths) -> dict:
    """Train on the train split, tag dev, test and unlabeled; returns the metrics."""
    params = as_params(params)
    cfg = params["unit_tagger"]
    train = read_jsonl(split_file(paths.split_dir, TRAIN))
    log.info("training a char CRF on %d train documents (c1 %s, c2 %s, %s iterations)",
             len(train), cfg["c1"], cfg["c2"], cfg["max_iterations"])
    model = feature_crf.train(train, float(cfg["c1"]), float(cfg["c2"]),
                           int(cfg["max_iterations"]), Path(paths.model) / "crf.crfsuite")
    metrics = {"train": {"documents": len(train), "entities": entity_counts(train)}}
    with atomic_dir(paths.out) as out:
        for split in (DEV, TEST, UNLABELED):
            tagged = feature_crf.predict(model, read_jsonl(split_file(paths.split_dir, split)))
            write_jsonl(split_file(out, split), tagged)
            metrics[split] = {"documents": len(tagged), "entities": entity_counts(tagged)}
            log.info("%s: %d documents, %d predicted entities", split, len(tagged),
                     sum(len(d.entities) for d in tagged))
    if paths.metrics is not None:
        write_json(paths.metrics, metrics)
    return metrics


def main(argv: list[str] | None = None) -> None:
    stage_main(__doc__, Paths, run, argv)


if __name__ == "__main__":
    main()
