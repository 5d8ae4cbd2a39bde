"""predict: run a fine-tuned NER model on new documents, write them with their entities in
brat standoff (default) or another format (``--format``).

Model (``--model``): a ``save_pretrained`` NER folder, or an ONNX export of one
(``python -m dapt.export --onnx``: run by ONNX Runtime on CPU with ``--threads`` intra-op
threads, same predictions), loaded before the input is read. A path (anything that exists,
contains ``/`` or starts with ``.``) never goes to the network: a missing folder, or one
without config.json, weights or tokenizer files, fails at once naming the folder and the
missing piece. A bare name is a hub id (``dapt.ner.heads``).
``--max-len`` must lie between 3 and the model's ``max_position_embeddings``. The windows of
all documents are batched together by length (``dapt.ner.inference``); the run ends by
logging documents/s and characters/s of the prediction itself (model loading, reading and
writing excluded).

Input (``--input``; ``--input-format text``, the default)
  a folder   its ``*.txt`` files, one document each (id = file name without ``.txt``);
             any ``.ann`` files there are ignored
  a file     plain UTF-8 text, one document per non-empty line (id = ``<stem>:<line>``,
             the 1-based line number; blank lines are skipped)
With ``--input-format auto|conll|cluener|cmeee|doccano|hf|jsonl`` the input is read in that
format (``dapt.data.formats``), its labels ignored: e.g. CMeEE's unlabeled test file.
Unreadable, non-UTF-8, binary (a C0 control character other than tab, line feed, vertical
tab, form feed, carriage return) and empty files are skipped (in a corpus file: the bad
line), each reported on stderr as ``file:line: reason`` and counted; with ``--on-error
raise`` the first one stops the run with ``InputError`` (``dapt.data.readers``).

Output (``--output``), ``--format conll|cluener|cmeee|doccano``: one file in that format
(``--tag-scheme`` for CoNLL tags; CLUENER and CMeEE with their inclusive ends).
``--format brat`` (default): a folder, per document ``<name>.txt`` (its text) and ``<name>.ann``
(predicted entities ``T<k>\\tTYPE start end\\tsurface``, character offsets into the
``.txt``), a folder that ``dapt.data.readers.read_brat_folder`` loads. For a folder input
``<name>`` is the input file's own (``a b.txt`` stays ``a b.txt``). Corpus ids are renamed
(``:`` is no portable file-name character): characters outside letters, digits, ``_ . -``
become ``_`` (``corpus:3`` -> ``corpus_3``); the renames are logged, and ``manifest.tsv`` in
the output folder maps every id to its file, a header and one row per document:

    id<TAB>file
    corpus:3<TAB>corpus_3.txt

Names that would clash (equal ignoring case: one file on macOS and Windows) stop the run
before anything is written. The folder holds only this run's documents: ``.txt``/``.ann``
files and the ``manifest.tsv`` of an earlier run are removed, other files are kept
(``dapt.data.brat_writer``). Documents of any length are predicted with overlapping windows
of ``--max-len`` tokens (``dapt.ner.inference``); ``--max-len`` and ``--batch-size``
default to ``tokenize.max_len`` and ``evaluate.batch_size`` of the params file.

Examples
  python -m dapt.predict --model models/ner --input leaflets/ --output predicted/
  python -m dapt.predict --input CMeEE_test.json --input-format cmeee --format cmeee \\
      --output CMeEE_test_pred.json
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import NoReturn

from dapt import numerics
from dapt.cli import setup_logging
from dapt.data.documents import Document
from dapt.data.formats.base import ReadOptions
from dapt.data.formats.brat import MANIFEST, file_names, read_brat_folder, write_brat_folder
from dapt.data.formats.registry import NAMES, read_documents, write_documents
from dapt.data.formats.tags import SCHEMES
from dapt.data.readers import ReadReport, read_corpus_file
from dapt.ner.heads import ModelFolderError
from dapt.ner.inference import NerPredictor
from dapt.params import PARAMS_FILE, load_params

log = logging.getLogger("predict")
RENAMES_SHOWN = 10  # renames logged one by one; the manifest holds them all


def read_input(path: Path, report: ReadReport, fmt: str = "text") -> list[Document]:
    """Documents of a folder of ``.txt`` files or a one-document-per-line text file
    (``text``), or of a file or folder in a registry format (labels ignored)."""
    if fmt != "text":
        return read_documents(path, report, ReadOptions(labeled=False), fmt)[0]
    if path.is_dir():
        return read_brat_folder(path, report, labeled=False)
    if path.is_file():
        return read_corpus_file(path, report)
    raise FileNotFoundError(f"{path}: no such file or folder")


def run_settings(args: argparse.Namespace) -> tuple[int, int, int | None]:
    """(max_len, batch_size, threads): the flags, else the params file's values
    (``tokenize.max_len``, ``evaluate.batch_size``, ``threads``); the file is read only when
    ``--max-len`` or ``--batch-size`` is missing (threads None: torch's default)."""
    if args.max_len is not None and args.batch_size is not None:
        return args.max_len, args.batch_size, args.threads
    params = load_params(args.params)
    max_len = args.max_len if args.max_len is not None else params["tokenize"]["max_len"]
    batch = args.batch_size if args.batch_size is not None else params["evaluate"]["batch_size"]
    return max_len, batch, args.threads if args.threads is not None else params["threads"]


def fail(message: str) -> NoReturn:
    log.error("%s", message)
    sys.exit(1)


def log_renames(docs: list[Document], names: list[str], output: Path) -> None:
    """Log the documents whose file name differs from their id (the manifest has all)."""
    renamed = [(d.id, name) for d, name in zip(docs, names) if name != d.id]
    if renamed:
        log.info("%d document ids written under other file names (all in %s):",
                 len(renamed), output / MANIFEST)
    for doc_id, name in renamed[:RENAMES_SHOWN]:
        log.info("  %s -> %s.txt", doc_id, name)
    if len(renamed) > RENAMES_SHOWN:
        log.info("  ... and %d more", len(renamed) - RENAMES_SHOWN)


def log_speed(docs: list[Document], seconds: float) -> None:
    """Log documents/s and characters/s of a prediction that took ``seconds``."""
    chars = sum(len(d.text) for d in docs)
    rate = 1.0 / max(seconds, 1e-9)
    log.info("predicted %d documents (%d characters) in %.2f s: %.1f documents/s, "
             "%.0f characters/s", len(docs), chars, seconds, len(docs) * rate, chars * rate)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default=str(PARAMS_FILE),
                        help="source of the --max-len (tokenize.max_len), --batch-size "
                             "(evaluate.batch_size) and --threads (threads) defaults "
                             "(%(default)s)")
    parser.add_argument("--model", default="models/ner",
                        help="save_pretrained NER folder or its ONNX export (%(default)s)")
    parser.add_argument("--input", required=True, type=Path,
                        help="folder of .txt files or text file, or --input-format data")
    parser.add_argument("--input-format", default="text", choices=("text", "auto", *NAMES),
                        help="how to read --input (%(default)s: see above)")
    parser.add_argument("--output", required=True, type=Path,
                        help="output folder (brat) or file (other formats)")
    parser.add_argument("--format", default="brat",
                        choices=("brat", "conll", "cluener", "cmeee", "doccano", "jsonl"),
                        help="output format (%(default)s)")
    parser.add_argument("--tag-scheme", default="bio", choices=SCHEMES,
                        help="tags of --format conll (%(default)s)")
    parser.add_argument("--max-len", type=int, help="tokens per window incl. [CLS]/[SEP]")
    parser.add_argument("--batch-size", type=int, help="windows per forward pass")
    parser.add_argument("--threads", type=int,
                        help="torch threads (dapt.numerics); ONNX Runtime intra-op threads")
    parser.add_argument("--on-error", choices=("skip", "raise"), default="skip")
    args = parser.parse_args(argv)
    setup_logging()
    if args.input.resolve() == args.output.resolve():
        parser.error("--output must differ from --input (it would overwrite the inputs)")
    max_len, batch_size, threads = run_settings(args)
    if threads is not None:
        numerics.use_threads(threads)
    setting = "--max-len" if args.max_len is not None else f"{args.params}: tokenize.max_len"
    try:
        predictor = NerPredictor.from_pretrained(args.model, max_len, batch_size, setting,
                                                 threads)
    except ModelFolderError as exc:
        fail(f"--model {exc}")
    except ValueError as exc:
        fail(str(exc))

    report = ReadReport(on_error=args.on_error)
    docs = read_input(args.input, report, args.input_format)
    for entry in report.skipped:
        log.warning("skipped %s", entry)
    if not docs:
        fail(f"{args.input}: no documents to predict")
    verbatim = args.input.is_dir() and args.input_format == "text"  # ids are file stems
    if args.format == "brat":
        try:
            names = file_names(docs, verbatim)
        except ValueError as exc:
            fail(str(exc))
        log_renames(docs, names, args.output)
    start = time.perf_counter()
    predicted = predictor.predict(docs)
    log_speed(docs, time.perf_counter() - start)
    out_docs = [Document(d.id, d.text, ents) for d, ents in zip(docs, predicted)]
    if args.format == "brat":
        write_brat_folder(args.output, out_docs, verbatim)
    else:
        write_documents(args.output, out_docs, args.format, args.tag_scheme)
    log.info("%d documents, %d entities written to %s (%d input problems skipped)",
             len(out_docs), sum(len(e) for e in predicted), args.output, len(report.skipped))


if __name__ == "__main__":
    main()
