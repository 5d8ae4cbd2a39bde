"""Checkpoint I/O: the config and fast tokenizer of a hub id or local folder, or a BERT
WordPiece vocabulary trained from scratch.

Older exports (TF-converted BERTs) have a config.json without ``model_type``; transformers
5.x then refuses the config and cannot pick a tokenizer class for a folder that ships only
``vocab.txt``. ``checkpoint_config`` takes the type from the config's ``architectures``
instead, and every loader passes that config on.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers
from transformers import (
    AutoConfig,
    AutoTokenizer,
    BertTokenizerFast,
    PretrainedConfig,
    PreTrainedTokenizerBase,
)
from transformers.models.auto import modeling_auto

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


def architecture_model_type(architectures: list[str], source: str) -> str:
    """The ``model_type`` whose model classes include one of ``architectures``."""
    found = {model_type
             for name in dir(modeling_auto) if name.endswith("_MAPPING_NAMES")
             for model_type, classes in getattr(modeling_auto, name).items()
             for cls in (classes if isinstance(classes, (list, tuple)) else [classes])
             if cls in architectures}
    if len(found) != 1:
        raise ValueError(f"{source}: config.json has no model_type and its architectures "
                         f"{architectures} give {sorted(found) or 'none'}; add "
                         '"model_type" (e.g. "bert") to config.json')
    return found.pop()


def checkpoint_config(name_or_path: str | Path) -> PretrainedConfig | None:
    """The config of a hub id or local folder (None without a config.json), with
    ``model_type`` taken from ``architectures`` when config.json lacks it."""
    source = str(name_or_path)
    config_dict, _ = PretrainedConfig.get_config_dict(source)
    if not config_dict:
        return None
    if "model_type" in config_dict:
        return AutoConfig.from_pretrained(source)
    model_type = architecture_model_type(config_dict.get("architectures") or [], source)
    return AutoConfig.for_model(model_type, **config_dict)


def load_tokenizer(name_or_path: str | Path) -> PreTrainedTokenizerBase:
    """A fast tokenizer from a hub id or local folder (raises if only a slow one exists);
    a folder with only ``vocab.txt`` gets the tokenizer class of its model type."""
    tokenizer = AutoTokenizer.from_pretrained(str(name_or_path),
                                              config=checkpoint_config(name_or_path))
    if not tokenizer.is_fast:
        raise ValueError(f"{name_or_path}: a fast tokenizer is required")
    return tokenizer
