"""convert: documents from one format to another, or the split to a Hugging Face DatasetDict.

  python -m dapt.convert INPUT OUTPUT --to FORMAT [--from auto] [options]

INPUT is read exactly as the split stage reads ``data.labeled_dir`` (the same checks, skips and
``--nested`` policy: ``dapt.data.formats``) and OUTPUT written in ``--to`` format: a folder for
brat and hf, a file for the others. Formats: brat, conll, cluener, cmeee, doccano, hf, jsonl
(docs/formats.md). Nested spans go to the formats that hold them (brat, CLUENER, CMeEE,
doccano, jsonl); CoNLL and hf get the flat spans ``--nested`` keeps.

When INPUT is the split stage's folder (``data/split``, with ``train/dev/test.jsonl``), its
labeled parts are exported together: ``--to hf`` writes one ``DatasetDict`` (splits
``train``, ``validation``, ``test``; columns ``id``, ``tokens``, ``ner_tags`` as a
``ClassLabel``) that a ``datasets``-based trainer loads with ``load_from_disk``; any other
``--to`` writes one file (or folder) per part into the OUTPUT folder.

Examples
  python -m dapt.convert ../CMeEE_train.json cmeee.conll --to conll --tag-scheme bioes
  python -m dapt.convert data/split exports/hf --to hf
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from dapt.cli import setup_logging
from dapt.data.contracts import LABELED_SPLITS, split_file
from dapt.data.documents import Document, read_jsonl
from dapt.data.formats import hf
from dapt.data.formats.base import ReadOptions
from dapt.data.formats.registry import FORMATS, NAMES, read_documents, write_documents
from dapt.data.formats.tags import SCHEMES
from dapt.data.nested import POLICIES
from dapt.data.readers import InputError, ReadReport

log = logging.getLogger("convert")
HF_SPLIT_NAMES = {"train": "train", "dev": "validation", "test": "test"}


def is_split_folder(path: Path) -> bool:
    return path.is_dir() and all(split_file(path, s).is_file() for s in LABELED_SPLITS)


def export_split(split_dir: Path, output: Path, fmt: str, tag_scheme: str) -> dict[str, int]:
    """The labeled parts of a split folder in ``fmt``: one DatasetDict for hf, else one
    output per part in the ``output`` folder; returns the documents per part."""
    parts = {s: read_jsonl(split_file(split_dir, s)) for s in LABELED_SPLITS}
    if fmt == "hf":
        hf.write_dict(output, {HF_SPLIT_NAMES[s]: docs for s, docs in parts.items()},
                      tag_scheme)
    else:
        output.mkdir(parents=True, exist_ok=True)
        for name, docs in parts.items():
            write_documents(output / f"{name}{FORMATS[fmt].suffix}", docs, fmt, tag_scheme)
    return {name: len(docs) for name, docs in parts.items()}


def convert(args: argparse.Namespace) -> list[Document]:
    """Read ``args.input`` and write it to ``args.output``; returns the documents written."""
    report = ReadReport(on_error=args.on_error)
    options = ReadOptions(tag_scheme=args.input_tag_scheme, conll_documents=args.conll_documents)
    docs, fmt = read_documents(args.input, report, options, args.source_format, args.nested)
    for entry in report.skipped:
        log.warning("skipped %s", entry)
    for entry in report.repaired:
        log.warning("repaired %s", entry)
    if not docs:
        raise InputError(f"{args.input}: no documents read")
    write_documents(args.output, docs, args.to, args.tag_scheme)
    log.info("%s (%s) -> %s (%s): %d documents, %d spans (%d nested spans %s), %d skipped, "
             "%d repaired", args.input, fmt, args.output, args.to, len(docs),
             sum(len(d.entities) for d in docs), sum(len(d.nested) for d in docs),
             "kept" if FORMATS[args.to].holds_nested else "left out (flat format)",
             len(report.skipped), len(report.repaired))
    return docs


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path, help="file or folder to read (or a split folder)")
    parser.add_argument("output", type=Path, help="file or folder to write")
    parser.add_argument("--to", required=True, choices=NAMES, help="output format")
    parser.add_argument("--from", dest="source_format", default="auto",
                        choices=("auto", *NAMES), help="input format (%(default)s)")
    parser.add_argument("--tag-scheme", default="bio", choices=SCHEMES,
                        help="tags written to conll and hf (%(default)s)")
    parser.add_argument("--input-tag-scheme", default="auto", choices=("auto", *SCHEMES),
                        help="tags of a conll or hf input (%(default)s: detected)")
    parser.add_argument("--conll-documents", default="auto", choices=("auto", "sentences"),
                        help="documents of a conll input (data.conll_documents)")
    parser.add_argument("--nested", default="outermost", choices=POLICIES,
                        help="flat spans for the tagger formats (data.nested, %(default)s)")
    parser.add_argument("--on-error", default="skip", choices=("skip", "raise"),
                        help="bad input: skip it (reported) or stop (%(default)s)")
    args = parser.parse_args(argv)
    if args.input.resolve() == args.output.resolve():
        parser.error("OUTPUT must differ from INPUT")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    setup_logging()
    try:
        if is_split_folder(args.input):
            counts = export_split(args.input, args.output, args.to, args.tag_scheme)
            log.info("split %s -> %s (%s): %s documents", args.input, args.output, args.to,
                     counts)
        else:
            convert(args)
    except InputError as exc:
        log.error("%s", exc)
        sys.exit(1)


if __name__ == "__main__":
    main()
