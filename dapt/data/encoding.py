"""Character-level encoding of Chinese text with a BERT vocabulary.

Every character becomes at most one token, so each token maps back to exactly one
document character (``char_start``/``char_end`` = i, i+1) and entity boundaries always
fall between tokens. This sidesteps the known traps of BERT tokenizers on Chinese:

* whitespace (incl. U+3000 and U+00A0) and control/format characters produce no token:
  they are *dropped* (counted), and never start or end an entity span we predict;
* full-width Latin/digits (``ＡＢ``) would be merged into one token by word-piece: here each
  character is looked up on its own, after a per-character normalisation
  (as is, lower case, NFKC, NFKC lower case, accents stripped);
* characters outside the vocabulary become ``[UNK]`` (counted, so the rate is reported).

The normalisation is reversible by construction: it never changes offsets, only which
vocabulary entry a character uses.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field


def is_dropped(ch: str) -> bool:
    """Characters that produce no token: whitespace, controls, format characters."""
    return ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zs", "Zl", "Zp")


def normal_forms(ch: str) -> list[str]:
    """Candidate vocabulary keys for one character, most faithful first."""
    nfkc = unicodedata.normalize("NFKC", ch)
    stripped = "".join(
        c for c in unicodedata.normalize("NFD", nfkc.lower()) if unicodedata.category(c) != "Mn"
    )
    return [ch, ch.lower(), nfkc, nfkc.lower(), stripped]


@dataclass
class Encoded:
    """Token ids of one text with the character index of each token."""

    ids: list[int]
    chars: list[int]


@dataclass
class CharEncoder:
    """Maps characters to vocabulary ids, caching every decision."""

    vocab: dict[str, int]
    unk_id: int
    cache: dict[str, int | None] = field(default_factory=dict)
    n_chars: int = 0
    n_dropped: int = 0
    n_unk: int = 0

    @classmethod
    def from_tokenizer(cls, tokenizer) -> CharEncoder:
        return cls(vocab=tokenizer.get_vocab(), unk_id=tokenizer.unk_token_id)

    def char_id(self, ch: str) -> int | None:
        if ch not in self.cache:
            self.cache[ch] = None if is_dropped(ch) else next(
                (self.vocab[f] for f in normal_forms(ch) if f in self.vocab), self.unk_id
            )
        return self.cache[ch]

    def encode(self, text: str) -> Encoded:
        ids, chars = [], []
        for i, ch in enumerate(text):
            tid = self.char_id(ch)
            if tid is None:
                continue
            ids.append(tid)
            chars.append(i)
        self.n_chars += len(text)
        self.n_dropped += len(text) - len(ids)
        self.n_unk += sum(1 for t in ids if t == self.unk_id)
        return Encoded(ids, chars)

    def stats(self) -> dict:
        tokens = self.n_chars - self.n_dropped
        return {
            "characters": self.n_chars,
            "dropped_characters": self.n_dropped,
            "tokens": tokens,
            "unk_tokens": self.n_unk,
            "unk_rate": self.n_unk / tokens if tokens else 0.0,
            "unk_characters": sorted(
                ch for ch, tid in self.cache.items() if tid == self.unk_id
            )[:200],
        }
