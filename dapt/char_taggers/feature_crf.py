"""Character feature CRF (python-crfsuite, L-BFGS with L1/L2), no pretraining at all: the
unit-tagger stage's model and the character-CRF reference row.

One CRF sequence per document over its non-whitespace characters. Features per position:
the character, its +-1 and +-2 neighbours, the bigrams around it, the character class
(digit/latin/punct/cjk/other) of it and of its +-1 neighbours, whether whitespace was
dropped right before/after it, and BOS/EOS. Training is deterministic (L-BFGS).
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pycrfsuite

from dapt.char_taggers.chars import CharSeq
from dapt.data.atomic import atomic_file
from dapt.data.documents import Document


def char_class(ch: str) -> str:
    if ch in ("<s>", "</s>"):
        return ch
    if ch.isdigit():
        return "digit"
    if ch.isascii() and ch.isalpha() or "\uff21" <= ch <= "\uff5a":
        return "latin"
    if "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf":
        return "cjk"
    if unicodedata.category(ch)[0] in "PS":
        return "punct"
    return "other"


def features(seq: CharSeq) -> list[list[str]]:
    """crfsuite attribute strings per position of ``seq``."""
    n = len(seq)
    pad = ["<s>", "<s>"] + seq.chars + ["</s>", "</s>"]
    out = []
    for i in range(n):
        p = i + 2
        c = pad[p - 2 : p + 3]  # c[2] is the character itself
        f = [
            "bias", f"c0={c[2]}", f"c-1={c[1]}", f"c-2={c[0]}", f"c+1={c[3]}", f"c+2={c[4]}",
            f"b-2={c[0]}{c[1]}", f"b-1={c[1]}{c[2]}", f"b+0={c[2]}{c[3]}", f"b+1={c[3]}{c[4]}",
            f"t0={char_class(c[2])}", f"t-1={char_class(c[1])}", f"t+1={char_class(c[3])}",
        ]
        if seq.gap_before[i]:
            f.append("sp-")
        if i + 1 < n and seq.gap_before[i + 1]:
            f.append("sp+")
        if i == 0:
            f.append("BOS")
        if i == n - 1:
            f.append("EOS")
        out.append(f)
    return out


def train(docs: list[Document], c1: float, c2: float, max_iterations: int,
          model_path: Path | str) -> Path:
    """Fit a CRF on ``docs`` (their gold entities) and write it to ``model_path``."""
    trainer = pycrfsuite.Trainer(verbose=False)
    for doc in docs:
        seq = CharSeq.from_doc(doc)
        if len(seq):
            trainer.append(features(seq), seq.bio_tags())
    trainer.select("lbfgs")
    trainer.set_params({"c1": c1, "c2": c2, "max_iterations": max_iterations,
                        "feature.possible_transitions": True})
    model_path = Path(model_path)
    with atomic_file(model_path) as tmp:
        trainer.train(str(tmp))
    return model_path


def predict(model_path: Path | str, docs: list[Document]) -> list[Document]:
    """Documents with the CRF's predicted entities (exact document offsets) instead of gold."""
    tagger = pycrfsuite.Tagger()
    tagger.open(str(model_path))
    out = []
    try:
        for doc in docs:
            seq = CharSeq.from_doc(doc)
            ents = seq.entities(tagger.tag(features(seq))) if len(seq) else []
            out.append(Document(doc.id, doc.text, ents))
    finally:
        tagger.close()
    return out
