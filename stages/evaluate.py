"""evaluate stage: document-level NER predictions on the test split, strict span scores.

Every test document is predicted with overlapping windows and merged back to document
character spans (``stages.inference``: per-token label from the most central window, one
BIO decode per document, repair rule documented there). Scores are strict: a prediction
counts only if type, start and end all equal a gold span (``stages.spans``).

Outputs
  metrics/eval.json            {"test": {f1, precision, recall, macro_f1, per_type, support,
                               predicted, errors, boundary_error_share, type_error_share,
                               documents}}
  plots/per_type_f1.json       [{"type", "f1", "support"}], one row per entity type
  plots/type_confusion.json    [{"actual", "predicted"}], one row per predicted span whose
                               boundaries match a gold span
  data/predictions/            brat folder: <id>.txt (copy) + <id>.ann (predicted spans)
"""

from __future__ import annotations

from pathlib import Path

from stages.brat_writer import write_brat_folder
from stages.common import load_params, setup_logging, stage_parser, write_json
from stages.documents import Document, read_jsonl
from stages.inference import NerPredictor
from stages.spans import doc_spans, score_spans, type_confusion

log = setup_logging("evaluate")


def clear_brat_folder(folder: Path) -> None:
    """Remove stale predictions (``*.txt``/``*.ann``) so the folder matches this run."""
    for path in sorted(folder.glob("*.ann")) + sorted(folder.glob("*.txt")):
        path.unlink()


def evaluate(gold_docs: list[Document], pred_docs: list[Document]) -> tuple[dict, list, list]:
    """(scores, per-type F1 rows, confusion rows) of predictions against gold documents."""
    gold, pred = doc_spans(gold_docs), doc_spans(pred_docs)
    scores = score_spans(gold, pred)
    scores["documents"] = len(gold_docs)
    per_type = [{"type": t, "f1": v["f1"], "support": v["support"]}
                for t, v in scores["per_type"].items()]
    return scores, per_type, type_confusion(gold, pred)


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--model", default="models/ner")
    parser.add_argument("--test", default="data/split/test.jsonl")
    parser.add_argument("--metrics", default="metrics/eval.json")
    parser.add_argument("--plots", default="plots", help="folder for the two plot files")
    parser.add_argument("--predictions", default="data/predictions",
                        help="brat output folder (its old .txt/.ann files are removed)")
    args = parser.parse_args()
    params = load_params(args.params)

    gold_docs = read_jsonl(args.test)
    predictor = NerPredictor.from_pretrained(args.model, params["tokenize"]["max_len"],
                                             params["evaluate"]["batch_size"])
    predicted = predictor.predict(gold_docs)
    pred_docs = [Document(d.id, d.text, ents) for d, ents in zip(gold_docs, predicted)]

    clear_brat_folder(Path(args.predictions))
    write_brat_folder(args.predictions, pred_docs)
    scores, per_type, confusion = evaluate(gold_docs, pred_docs)
    write_json(args.metrics, {"test": scores})
    write_json(Path(args.plots) / "per_type_f1.json", per_type)
    write_json(Path(args.plots) / "type_confusion.json", confusion)
    log.info("%d documents: strict F1 %.4f (P %.4f, R %.4f), macro F1 %.4f; "
             "%d gold, %d predicted spans; [UNK] rate %.4f", len(gold_docs), scores["f1"],
             scores["precision"], scores["recall"], scores["macro_f1"], scores["support"],
             scores["predicted"], predictor.encoder.stats()["unk_rate"])


if __name__ == "__main__":
    main()
