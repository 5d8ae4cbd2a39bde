"""[UNK] rates of a tokenizer on the general corpus and on the real domain data.

Not run in CI. Encodes text exactly as the tokenize stage does (``dapt.data.encoding.CharEncoder``:
one token per non-whitespace character) and prints, per corpus, the [UNK] rate over tokens
and the most frequent unknown characters. Corpora:

* general: ``general/data/split/unlabeled.jsonl`` (the corpus stage of general/dvc.yaml)
* domain:  every ``*.txt`` of ``--data``/labeled and ``--data``/unlabeled (brat folders, read
  with the project's reader; the data are only read, never copied)

Tokenizers: ``--tokenizer`` (default: the fixed BERT-Chinese-layout vocabulary of
``dapt.data.chinese_vocab``) and, with ``--wordpiece``, for contrast, the project's scratch
WordPiece vocabulary trained on the general corpus (tokenize.vocab_size / min_frequency of
params.yaml), i.e. what a corpus-built vocabulary would leave unknown in the domain.

Usage: python -m bench.unk_rates [--data ../shared/data/tcm_ner] [--tokenizer DIR] [--wordpiece]
"""

from __future__ import annotations

import argparse
import unicodedata
from collections import Counter
from pathlib import Path

from dapt.data.chinese_vocab import chinese_tokenizer
from dapt.data.documents import read_jsonl
from dapt.data.encoding import CharEncoder
from dapt.data.formats.brat import read_brat_folder
from dapt.data.readers import ReadReport
from dapt.data.tokenizer_io import load_tokenizer, train_scratch_tokenizer
from dapt.params import load_params

REPO = Path(__file__).resolve().parents[1]


def unk_report(name: str, tokenizer, texts: list[str], top: int) -> None:
    enc = CharEncoder.from_tokenizer(tokenizer)
    counts: Counter = Counter()
    for text in texts:
        ids = enc.encode(text).ids
        if enc.unk_id in ids:
            counts.update(ch for ch in text if enc.char_id(ch) == enc.unk_id)
    s = enc.stats()
    print(f"  {name}: {len(texts)} documents, {s['tokens']} tokens, {s['unk_tokens']} [UNK] "
          f"(rate {s['unk_rate']:.2e}), {len(counts)} distinct unknown characters")
    if counts:
        shown = ", ".join(f"{ch} U+{ord(ch):04X} {unicodedata.name(ch, '?')} x{n}"
                          for ch, n in counts.most_common(top))
        print(f"    top unknown: {shown}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(REPO.parent / "shared/data/tcm_ner"))
    ap.add_argument("--general", default=str(REPO / "general/data/split/unlabeled.jsonl"))
    ap.add_argument("--tokenizer", default=None, help="tokenizer folder (default: chinese)")
    ap.add_argument("--wordpiece", action="store_true",
                    help="also a WordPiece vocabulary trained on the general corpus")
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args()

    general = [d.text for d in read_jsonl(args.general)]
    report = ReadReport(on_error="skip")
    data = Path(args.data)
    domain = [d.text for sub in ("labeled", "unlabeled") if (data / sub).is_dir()
              for d in read_brat_folder(data / sub, report, labeled=False)]
    tokenizers = {"chinese vocab" if args.tokenizer is None else args.tokenizer:
                  chinese_tokenizer() if args.tokenizer is None else load_tokenizer(args.tokenizer)}
    if args.wordpiece:
        cfg = load_params(REPO / "params.yaml")["tokenize"]
        tokenizers["wordpiece on general corpus"] = train_scratch_tokenizer(
            general, cfg["vocab_size"], cfg["min_frequency"])
    for label, tokenizer in tokenizers.items():
        print(f"{label} ({len(tokenizer)} entries)")
        unk_report("general corpus", tokenizer, general, args.top)
        unk_report(f"domain {data.name}", tokenizer, domain, args.top)


if __name__ == "__main__":
    main()
