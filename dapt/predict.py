"""predict: run a fine-tuned NER model on new documents, write brat standoff.

Input (``--input``)
  a folder   its ``*.txt`` files, one document each (id = file name without ``.txt``);
             unreadable or empty files are reported on stderr and skipped (or, with
             ``--on-error raise``, stop the run); any ``.ann`` files there are ignored
  a file     plain UTF-8 text, one document per non-empty line (id = ``<stem>:<line>``,
             the 1-based line number, written as ``<stem>_<line>.txt``/``.ann`` since file
             names replace characters outside letters, digits, ``_ . -`` by ``_``; blank
             lines are skipped)

Output (``--output``): ``<id>.txt`` (the document text) and ``<id>.ann`` (predicted
entities ``T<k>\\tTYPE start end\\tsurface``, character offsets into the ``.txt``) per
document, a folder that ``dapt.data.readers.read_brat_folder`` loads. The folder holds only
this run's documents: ``.txt``/``.ann`` files of an earlier run are removed. Documents of
any length are predicted with overlapping windows of ``--max-len`` tokens
(``dapt.ner.inference``); ``--max-len`` and ``--batch-size`` default to
``tokenize.max_len`` and ``evaluate.batch_size`` of the params file.

Example
  python -m dapt.predict --model models/ner --input leaflets/ --output predicted/
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from dapt.cli import setup_logging
from dapt.data.brat_writer import write_brat_folder
from dapt.data.documents import Document
from dapt.data.readers import ReadReport, read_brat_folder, read_corpus_file
from dapt.ner.inference import NerPredictor
from dapt.params import PARAMS_FILE, load_params

log = logging.getLogger("predict")


def read_input(path: Path, report: ReadReport) -> list[Document]:
    """Documents of a brat folder (text only) or of a one-document-per-line text file."""
    if path.is_dir():
        return read_brat_folder(path, report, labeled=False)
    if path.is_file():
        return read_corpus_file(path, report)
    raise FileNotFoundError(f"{path}: no such file or folder")


def window_settings(args: argparse.Namespace) -> tuple[int, int]:
    """(max_len, batch_size): the flags, else the params file's values."""
    if args.max_len is not None and args.batch_size is not None:
        return args.max_len, args.batch_size
    params = load_params(args.params)
    max_len = args.max_len if args.max_len is not None else params["tokenize"]["max_len"]
    batch = args.batch_size if args.batch_size is not None else params["evaluate"]["batch_size"]
    return max_len, batch


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default=str(PARAMS_FILE),
                        help="source of the --max-len (tokenize.max_len) and --batch-size "
                             "(evaluate.batch_size) defaults (%(default)s)")
    parser.add_argument("--model", default="models/ner", help="save_pretrained NER folder")
    parser.add_argument("--input", required=True, type=Path, help="brat folder or text file")
    parser.add_argument("--output", required=True, type=Path, help="brat output folder")
    parser.add_argument("--max-len", type=int, help="tokens per window incl. [CLS]/[SEP]")
    parser.add_argument("--batch-size", type=int, help="windows per forward pass")
    parser.add_argument("--on-error", choices=("skip", "raise"), default="skip")
    args = parser.parse_args(argv)
    setup_logging()
    if args.input.resolve() == args.output.resolve():
        parser.error("--output must differ from --input (it would overwrite the inputs)")
    max_len, batch_size = window_settings(args)

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
