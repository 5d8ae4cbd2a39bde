"""Load a pretrained fast tokenizer, or train a BERT WordPiece vocabulary from scratch."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers
from transformers import AutoTokenizer, BertTokenizerFast, PreTrainedTokenizerBase

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_scratch_tokenizer(
    texts: Iterable[str], vocab_size: int, min_frequency: int
) -> BertTokenizerFast:
    """Train a character-level WordPiece vocabulary and wrap it as ``BertTokenizerFast``.

    Every character is its own pre-token, matching the project's character-level encoding;
    the BERT normaliser (lower case, CJK spacing, control-character cleanup) is applied
    first, so the vocabulary is what ``BertTokenizerFast`` itself will look up.
    """
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True)
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex("."), "isolated")]
    )
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=SPECIAL_TOKENS,
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    vocab = dict(sorted(tok.get_vocab().items(), key=lambda kv: kv[1]))
    # Continuation pieces let the stock BERT word-piece split Latin runs such as "10ml"
    # (pipeline() and other standard callers); CJK characters are always split anyway.
    for piece in [p for p in vocab if len(p) == 1 and not is_cjk(p)]:
        vocab.setdefault(f"##{piece}", len(vocab))
    return BertTokenizerFast(vocab=vocab, do_lower_case=True, tokenize_chinese_chars=True)


def is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2FA1F


def load_tokenizer(name_or_path: str | Path) -> PreTrainedTokenizerBase:
    """A fast tokenizer from a hub id or local folder (raises if only a slow one exists)."""
    tokenizer = AutoTokenizer.from_pretrained(str(name_or_path))
    if not tokenizer.is_fast:
        raise ValueError(f"{name_or_path}: a fast tokenizer is required")
    return tokenizer
