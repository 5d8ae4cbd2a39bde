"""predict: run a fine-tuned NER model on new documents, write brat standoff.

Input (``--input``)
  a folder   its ``*.txt`` files, one document each (id = file name without ``.txt``);
             unreadable or empty files are reported on stderr and skipped (or, with
             ``--on-error raise``, stop the run); any ``.ann`` files there are ignored
  a file     plain UTF-8 text, one document per non-empty line (id = ``<stem>_<line>``,
             the 1-based line number; blank lines are skipped)

Output (``--output``): ``<id>.txt`` (the document text) and ``<id>.ann`` (predicted
entities ``T<k>\\tTYPE start end\\tsurface``, character offsets into the ``.txt``) per
document, a folder that ``stages.readers.read_brat_folder`` loads. Documents of any length
are predicted with overlapping windows of ``--max-len`` tokens (``stages.inference``).

Example
  python -m stages.predict --model models/ner --input leaflets/ --output predicted/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stages.brat_writer import write_brat_folder
from stages.common import load_params, setup_logging
from stages.documents import Document
from stages.inference import NerPredictor
from stages.readers import ReadReport, read_brat_folder, read_corpus_file

log = setup_logging("predict")


def read_input(path: Path, report: ReadReport) -> list[Document]:
    """Documents of a brat folder (text only) or of a one-document-per-line text file."""
    if path.is_dir():
        return read_brat_folder(path, report, labeled=False)
    if path.is_file():
        return read_corpus_file(path, report)
    raise FileNotFoundError(f"{path}: no such file or folder")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml",
                        help="defaults for --max-len (tokenize.max_len) and --batch-size "
                             "(evaluate.batch_size) when the file exists")
    parser.add_argument("--model", default="models/ner", help="save_pretrained NER folder")
    parser.add_argument("--input", required=True, type=Path, help="brat folder or text file")
    parser.add_argument("--output", required=True, type=Path, help="brat output folder")
    parser.add_argument("--max-len", type=int, help="tokens per window incl. [CLS]/[SEP]")
    parser.add_argument("--batch-size", type=int, help="windows per forward pass")
    parser.add_argument("--on-error", choices=("skip", "raise"), default="skip")
    args = parser.parse_args(argv)

    params = load_params(args.params) if Path(args.params).is_file() else {}
    max_len = args.max_len or params.get("tokenize", {}).get("max_len", 128)
    batch_size = args.batch_size or params.get("evaluate", {}).get("batch_size", 32)
    if args.input.resolve() == args.output.resolve():
        parser.error("--output must differ from --input (it would overwrite the inputs)")

    report = ReadReport(on_error=args.on_error)
    docs = read_input(args.input, report)
    for entry in report.skipped:
        log.warning("skipped %s", entry)
    if not docs:
        log.error("%s: no documents to predict", args.input)
        sys.exit(1)
    predictor = NerPredictor.from_pretrained(args.model, max_len, batch_size)
    predicted = predictor.predict(docs)
    out_docs = [Document(d.id, d.text, ents) for d, ents in zip(docs, predicted)]
    write_brat_folder(args.output, out_docs)
    log.info("%d documents, %d entities written to %s (%d input problems skipped)",
             len(out_docs), sum(len(e) for e in predicted), args.output, len(report.skipped))


if __name__ == "__main__":
    main()
