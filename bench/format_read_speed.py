"""Reading speed of every document format on a real-size corpus, side by side.

Not run in CI. Reads ``--data`` (brat: ``labeled/`` + ``unlabeled/``, by default the real TCM
data, 800 + 500 documents) once, writes all of it in every format of the registry
(``dapt.data.formats``) into a temporary folder (never into the repository), then times
``read_documents`` on each (explicit format, labels read, nested policy applied), the first
read and the best of ``--repeat``. brat is timed as the split stage reads it: the labeled
folder, then the unlabeled one. Every read is checked to give back the same documents.
Target (issue 24): each format in <= 2 s.

Usage: python -m bench.format_read_speed [--data ../shared/data/tcm_ner] [--repeat 3]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

from dapt.data.formats.base import ReadOptions
from dapt.data.formats.registry import FORMATS, read_documents, write_documents
from dapt.data.readers import ReadReport

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 2.0


def read_brat_corpus(data: Path) -> list:
    labeled, _ = read_documents(data / "labeled", ReadReport(), ReadOptions(), "brat")
    unlabeled, _ = read_documents(data / "unlabeled", ReadReport(), ReadOptions(labeled=False),
                                  "brat")
    return labeled + unlabeled


def timed(read) -> tuple[float, list]:
    start = time.perf_counter()
    docs = read()
    return time.perf_counter() - start, docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared/data/tcm_ner")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    docs = read_brat_corpus(args.data)
    expected = [d.to_json() for d in docs]
    chars = sum(len(d.text) for d in docs)
    print(f"{len(docs)} documents, {chars} characters, "
          f"{sum(len(d.entities) for d in docs)} entities from {args.data}; "
          f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"{'format':8} {'first s':>8} {'best s':>7} {'docs/s':>8}  <= {TARGET_S:.0f} s")
    with tempfile.TemporaryDirectory() as tmp:
        for name, fmt in FORMATS.items():
            if name == "brat":
                def read():
                    return read_brat_corpus(args.data)
            else:
                path = Path(tmp) / f"corpus{fmt.suffix}"
                write_documents(path, docs, name)

                def read(path=path, name=name):
                    return read_documents(path, ReadReport(), ReadOptions(), name)[0]
            runs = [timed(read) for _ in range(args.repeat)]
            for _, got in runs:
                if [d.to_json() for d in got] != expected:
                    raise SystemExit(f"{name}: the documents read back differ")
            first, best = runs[0][0], min(t for t, _ in runs)
            print(f"{name:8} {first:8.2f} {best:7.2f} {len(docs) / best:8.0f}  "
                  f"{'yes' if best <= TARGET_S else 'NO'}")


if __name__ == "__main__":
    main()
