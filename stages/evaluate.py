"""evaluate stage: document-level NER predictions on the test split, strict span scores.

Every test document is predicted with overlapping windows and merged back to document
character spans (``dapt.ner.inference``). Scores are strict: a prediction counts only if
type, start and end all equal a gold span (``dapt.ner.scoring``).

Outputs
  metrics/eval.json            {"test": {f1, precision, recall, macro_f1, per_type, support,
                               predicted, errors, boundary_error_share, type_error_share,
                               documents, full_gold: {f1, precision, recall, support}}}:
                               scored against the flat gold the model was trained on
                               (``entities``) and, under ``full_gold``, against the full
                               gold with the spans ``data.nested`` set aside (the ceiling a
                               flat head can reach; equal when nothing nests)
  plots/per_type_f1.json       [{"type", "f1", "support"}], one row per entity type
  plots/type_confusion.json    [{"actual", "predicted"}], one row per predicted span whose
                               boundaries match a gold span
  data/predictions/            brat folder: <id>.txt (copy) + <id>.ann (predicted spans),
                               holding only this run's documents
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from dapt.cli import path_flag, stage_main
from dapt.data.contracts import write_json
from dapt.data.documents import Document, read_jsonl
from dapt.data.formats.brat import write_brat_folder
from dapt.ner.inference import NerPredictor
from dapt.ner.scoring import doc_spans, score_spans, type_confusion
from dapt.params import Params, as_params
from dapt.training.devices import claim_gpu

log = logging.getLogger("evaluate")


@dataclass
class Paths:
    model: str = path_flag("models/ner", "NER model folder")
    test: str = path_flag("data/split/test.jsonl", "test documents")
    metrics: str = path_flag("metrics/eval.json", "test metrics", output=True)
    plots: str = path_flag("plots", "folder for the two plot files", output=True)
    predictions: str = path_flag("data/predictions", "brat output folder (its old .txt/.ann "
                                 "files are removed)", output=True)


def evaluate(gold_docs: list[Document], pred_docs: list[Document]) -> tuple[dict, list, list]:
    """(scores, per-type F1 rows, confusion rows) of predictions against gold documents."""
    gold, pred = doc_spans(gold_docs), doc_spans(pred_docs)
    scores = score_spans(gold, pred)
    scores["documents"] = len(gold_docs)
    full = score_spans(doc_spans(gold_docs, (d.full_gold for d in gold_docs)), pred)
    scores["full_gold"] = {k: full[k] for k in ("f1", "precision", "recall", "support")}
    per_type = [{"type": t, "f1": v["f1"], "support": v["support"]}
                for t, v in scores["per_type"].items()]
    return scores, per_type, type_confusion(gold, pred)


def run(params: Params, paths: Paths) -> dict:
    """Predict and score the test documents; returns the metrics."""
    params = as_params(params)
    gold_docs = read_jsonl(paths.test)
    predictor = NerPredictor.from_pretrained(paths.model, params["tokenize"]["max_len"],
                                             params["evaluate"]["batch_size"])
    predicted = predictor.predict(gold_docs)
    pred_docs = [Document(d.id, d.text, ents) for d, ents in zip(gold_docs, predicted)]

    write_brat_folder(paths.predictions, pred_docs)
    scores, per_type, confusion = evaluate(gold_docs, pred_docs)
    metrics = {"test": scores}
    write_json(paths.metrics, metrics)
    write_json(Path(paths.plots) / "per_type_f1.json", per_type)
    write_json(Path(paths.plots) / "type_confusion.json", confusion)
    log.info("%d documents: strict F1 %.4f (P %.4f, R %.4f), macro F1 %.4f; "
             "%d gold, %d predicted spans; [UNK] rate %.4f; against the full gold (%d spans, "
             "nested included) F1 %.4f", len(gold_docs), scores["f1"], scores["precision"],
             scores["recall"], scores["macro_f1"], scores["support"], scores["predicted"],
             predictor.encoder.stats()["unk_rate"], scores["full_gold"]["support"],
             scores["full_gold"]["f1"])
    return metrics


def main(argv: list[str] | None = None) -> None:
    stage_main(__doc__, Paths, run, argv, before_run=claim_gpu)


if __name__ == "__main__":
    main()
