"""A fixed vocabulary in the BERT-Chinese layout, built from Unicode ranges (no network).

``bert-base-chinese`` and ``hfl/chinese-roberta-wwm-ext`` (21,128 entries) use one token per
CJK character plus ASCII, common symbols and ``##`` word pieces. This module writes the same
layout deterministically, independent of any corpus, so a small general BERT trained here
covers the domain's characters the way a real Chinese checkpoint would:

  0          [PAD]
  1..99      [unused1] .. [unused99]
  100..103   [UNK] [CLS] [SEP] [MASK]            (the ids of BERT-Chinese)
  104..      ASCII printable characters (no space, no upper case: do_lower_case), then
             symbols: Latin-1 signs (° ± × · ...), Greek, general punctuation, letterlike
             (℃ №), Roman numerals, arrows, mathematical operators, enclosed numbers
             (① ⑴ ⒈), box/geometric shapes, CJK symbols and punctuation (U+3001-U+303F),
             kana, enclosed CJK (㈠), CJK compatibility units (㎎ ㎡), full-width forms
             (，（１ａ), ￥
  then       every CJK Unified Ideograph U+4E00..U+9FFF, one per line, in code point order
  then       ``##`` continuation pieces for ASCII letters and digits (``10ml`` -> 1 ##0 ##m ##l)

Only characters that ``BertTokenizerFast(do_lower_case=True)`` can look up are listed:
no whitespace/control/format characters (the encoder drops those), no upper-case letters,
and no character whose lower case differs from itself. ``##`` pieces of CJK characters,
which BERT-Chinese also lists, are left out: the tokenizer splits CJK text into single
characters, so they would never be produced and only widen the MLM output layer.

``vocab_tokens(size=HUB_SIZE)`` gives the *shape* of the hub checkpoints' vocabulary
instead (21,128 entries, as in ``hfl/chinese-roberta-wwm-ext``): the same specials and
symbols, only the CJK characters of GB2312 or Big5 (the common simplified and traditional
sets), the ASCII ``##`` pieces, then ``##`` pieces of GB2312 characters up to ``size``. The
hub's own character set differs (it was learned from Wikipedia); tests use this layout for
an offline stand-in of a hub folder (``tests/helpers.py``).

    python -m dapt.data.chinese_vocab OUT_DIR    # OUT_DIR/vocab.txt + tokenizer.json
"""

from __future__ import annotations

import argparse
import unicodedata
from pathlib import Path

from transformers import BertTokenizerFast

from dapt.data.atomic import write_text

SPECIALS = ["[PAD]", *(f"[unused{i}]" for i in range(1, 100)), "[UNK]", "[CLS]", "[SEP]",
            "[MASK]"]
CJK_RANGE = (0x4E00, 0x9FFF)
HUB_SIZE = 21128  # vocab.txt lines of bert-base-chinese / hfl/chinese-roberta-wwm-ext
# Inclusive code point ranges of the symbol block, in vocabulary order.
SYMBOL_RANGES = [
    (0x0021, 0x007E),  # ASCII printable (upper case filtered out below)
    (0x00A1, 0x00BF),  # Latin-1 signs: ¡ ¢ £ ¥ § ° ± ² ³ µ · ¹ º ¼ ½ ¾ ¿ ...
    (0x00D7, 0x00D7),  # ×
    (0x00F7, 0x00F7),  # ÷
    (0x02C7, 0x02C9),  # ˇ ˈ ˉ (caron, macron used in pinyin tables)
    (0x03B1, 0x03C9),  # Greek small letters α..ω
    (0x0430, 0x044F),  # Cyrillic small letters (in GB2312 and BERT-Chinese)
    (0x2010, 0x2027),  # dashes, quotes ‘ ’ “ ”, bullets, … (ellipsis)
    (0x2030, 0x203B),  # ‰ ′ ″ ※ ...
    (0x2103, 0x2103),  # ℃
    (0x2109, 0x2109),  # ℉
    (0x2116, 0x2116),  # №
    (0x2121, 0x2122),  # ℡ ™
    (0x2160, 0x217F),  # Roman numerals Ⅰ..Ⅻ, ⅰ..ⅻ
    (0x2190, 0x2199),  # arrows
    (0x2200, 0x22FF),  # mathematical operators ∑ √ ∞ ≈ ≤ ≥ ...
    (0x2460, 0x249B),  # enclosed numbers ① ⑴ ⒈
    (0x2500, 0x257F),  # box drawing
    (0x25A0, 0x25FF),  # geometric shapes ■ □ ▲ △ ◆ ◇ ○ ◎ ●
    (0x2605, 0x2606),  # ★ ☆
    (0x2640, 0x2642),  # ♀ ♂
    (0x3001, 0x303F),  # CJK symbols and punctuation 、 。 《 》 「 」 【 】 〔 〕 ...
    (0x3041, 0x3096),  # hiragana
    (0x309B, 0x309E),
    (0x30A1, 0x30FE),  # katakana
    (0x3220, 0x3229),  # ㈠..㈩
    (0x3231, 0x3231),  # ㈱
    (0x32A3, 0x32A3),  # ㊣
    (0x338E, 0x33D5),  # CJK compatibility units ㎎ ㎏ ㎜ ㎝ ㎞ ㎡ ㏄ ...
    (0xFE30, 0xFE4F),  # CJK compatibility forms ︰ ︱ ...
    (0xFF01, 0xFF5E),  # full-width forms ！ （ ） ， ． ０..９ ： ； ？ ａ..ｚ ～
    (0xFF5F, 0xFF65),  # ｟ ｠ ｡ ｢ ｣ ､ ･
    (0xFFE0, 0xFFE5),  # ￠ ￡ ￢ ￣ ￤ ￥
]
CONTINUATION = "abcdefghijklmnopqrstuvwxyz0123456789"


def listable(ch: str) -> bool:
    """A character the lower-casing BERT tokenizer can emit as itself."""
    if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Cn", "Co", "Cs", "Zs", "Zl",
                                                     "Zp", "Mn"):
        return False
    return ch.lower() == ch


def encodable(ch: str, *codecs: str) -> bool:
    """``ch`` is in one of the character sets ``codecs`` (e.g. ``gb2312``, ``big5``)."""
    for codec in codecs:
        try:
            ch.encode(codec)
            return True
        except UnicodeEncodeError:
            pass
    return False


def vocab_tokens(size: int | None = None) -> list[str]:
    """The vocabulary in id order (deterministic: fixed ranges in code point order).

    ``size=None``: every CJK character (22,344 entries); an int: the hub layout of the
    module docstring with exactly ``size`` entries.
    """
    tokens = list(SPECIALS)
    for lo, hi in SYMBOL_RANGES:
        tokens += [chr(cp) for cp in range(lo, hi + 1) if listable(chr(cp))]
    # The whole block, whatever the Unicode version of this Python assigns in it.
    cjk = [chr(cp) for cp in range(CJK_RANGE[0], CJK_RANGE[1] + 1)]
    if size is not None:
        cjk = [ch for ch in cjk if encodable(ch, "gb2312", "big5")]
    tokens += cjk + [f"##{c}" for c in CONTINUATION]
    if size is not None:
        pieces = [f"##{ch}" for ch in cjk if encodable(ch, "gb2312")]
        if not len(tokens) <= size <= len(tokens) + len(pieces):
            raise ValueError(f"size must be in [{len(tokens)}, {len(tokens) + len(pieces)}]")
        tokens += pieces[: size - len(tokens)]
    if len(set(tokens)) != len(tokens):
        dupes = sorted({t for t in tokens if tokens.count(t) > 1})
        raise AssertionError(f"duplicate vocabulary entries: {dupes[:10]}")
    return tokens


def chinese_tokenizer() -> BertTokenizerFast:
    """``BertTokenizerFast`` over :func:`vocab_tokens` (lower case, CJK characters split).

    transformers 5.x ignores ``vocab_file=`` here, so the vocabulary goes in as a dict.
    """
    vocab = {tok: i for i, tok in enumerate(vocab_tokens())}
    return BertTokenizerFast(vocab=vocab, do_lower_case=True, tokenize_chinese_chars=True)


def write_vocab(path: Path | str, size: int | None = None) -> int:
    """Write ``vocab.txt`` (one entry a line, UTF-8, ``\\n``); returns the entry count."""
    tokens = vocab_tokens(size)
    write_text(path, "".join(f"{t}\n" for t in tokens))
    return len(tokens)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="folder for vocab.txt and the tokenizer files")
    args = parser.parse_args()
    tokenizer = chinese_tokenizer()
    tokenizer.save_pretrained(args.out)  # tokenizer.json (transformers 5.x writes no vocab.txt)
    write_vocab(Path(args.out) / "vocab.txt")
    print(f"{len(tokenizer)} entries written to {args.out}")


if __name__ == "__main__":
    main()
