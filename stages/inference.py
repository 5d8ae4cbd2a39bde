"""Document-level NER prediction: overlapping windows in, character spans out.

Documents are encoded character by character (``stages.encoding``), cut into windows of
``max_len - 2`` tokens with a stride of half a window, and each token takes the label
predicted by the window in which it sits farthest from a cut edge (a window edge at the
start or end of the document is no cut: the context there is complete; ties go to the
earlier window). The resulting document-level BIO sequence is decoded once, so an entity
seen by two windows is reported once.

BIO repair rule: an ``I-X`` that does not continue an entity of type ``X`` (after ``O``,
at the start, or after another type) starts a new entity of type ``X``; a ``B-X`` always
starts one; ``O`` closes the open entity. Labels other than ``O``/``B-*``/``I-*`` are
rejected when the model is loaded.

Line breaks: a predicted entity never crosses a line break (``\\n`` or ``\\r``, dropped
like all whitespace). A decoded span whose characters straddle one is split into its
per-line parts, each keeping the type, so every span is one line of brat standoff.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from stages.documents import Document, Entity
from stages.encoding import CharEncoder

LINE_BREAKS = frozenset("\n\r")


def sliding_windows(n: int, size: int, stride: int) -> list[tuple[int, int]]:
    """Token ranges of at most ``size`` covering [0, n), successive starts ``stride`` apart."""
    if size < 1 or stride < 1:
        raise ValueError(f"window size and stride must be >= 1 (got {size}, {stride})")
    if n <= size:
        return [(0, n)]
    starts = list(range(0, n - size, stride)) + [n - size]
    return [(s, s + size) for s in starts]


def pick_labels(
    windows: list[tuple[int, int]], window_labels: list[list[int]], n: int
) -> list[int]:
    """One label per token from the window where the token is farthest from a cut edge."""
    best = [-1] * n
    labels = [0] * n
    for (start, end), predicted in zip(windows, window_labels):
        for i in range(start, end):
            left = i - start if start > 0 else n
            right = end - 1 - i if end < n else n
            margin = min(left, right)
            if margin > best[i]:
                best[i], labels[i] = margin, predicted[i - start]
    return labels


def decode_bio(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """Token spans (start, end exclusive, type) from BIO tags, with the repair rule above."""
    spans: list[tuple[int, int, str]] = []
    start, etype = None, None
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, label = tag.partition("-")
        continues = prefix == "I" and label == etype and start is not None
        if start is not None and not continues:
            spans.append((start, i, etype))
            start, etype = None, None
        if prefix == "B" or (prefix == "I" and not continues):
            start, etype = i, label
    return spans


def split_at_line_breaks(
    text: str, chars: Sequence[int], start: int, end: int
) -> list[tuple[int, int]]:
    """Split token span [start, end) where the text between two tokens holds a line break."""
    parts, first = [], start
    for k in range(start + 1, end):
        if any(c in LINE_BREAKS for c in text[chars[k - 1] + 1 : chars[k]]):
            parts.append((first, k))
            first = k
    parts.append((first, end))
    return parts


def to_entities(
    text: str, chars: Sequence[int], tags: Sequence[str]
) -> list[Entity]:
    """Character-offset entities of one document from its per-token tags."""
    entities = []
    for s, t, etype in decode_bio(tags):
        for a, b in split_at_line_breaks(text, chars, s, t):
            begin, finish = chars[a], chars[b - 1] + 1
            entities.append(Entity(begin, finish, etype, text[begin:finish]))
    return entities


def check_labels(id2label: dict[int, str]) -> None:
    """Raise unless every label is ``O``, ``B-TYPE`` or ``I-TYPE``."""
    bad = sorted(v for v in id2label.values()
                 if v != "O" and not (v[:2] in ("B-", "I-") and len(v) > 2))
    if bad:
        raise ValueError(f"model labels must be O/B-TYPE/I-TYPE (is config.id2label set?): {bad}")


class NerPredictor:
    """Wraps a token-classification model and its tokenizer for whole documents."""

    def __init__(self, model, tokenizer, max_len: int, batch_size: int = 32):
        if max_len < 3:
            raise ValueError(f"max_len must be >= 3 ([CLS] + token + [SEP]), got {max_len}")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.encoder = CharEncoder.from_tokenizer(tokenizer)
        self.size = max_len - 2
        self.stride = max(1, self.size // 2)
        self.batch_size = max(1, batch_size)
        self.id2label = {int(k): v for k, v in model.config.id2label.items()}
        check_labels(self.id2label)
        cls = tokenizer.cls_token_id
        sep = tokenizer.sep_token_id
        self.cls = cls if cls is not None else tokenizer.bos_token_id
        self.sep = sep if sep is not None else tokenizer.eos_token_id
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    @classmethod
    def from_pretrained(cls, model_dir: Path | str, max_len: int,
                        batch_size: int = 32) -> NerPredictor:
        """Load a ``save_pretrained`` token-classification folder (on GPU when present)."""
        from transformers import AutoModelForTokenClassification, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        model = AutoModelForTokenClassification.from_pretrained(str(model_dir))
        if torch.cuda.is_available():
            model = model.to("cuda")
        return cls(model, tokenizer, max_len=max_len, batch_size=batch_size)

    @torch.no_grad()
    def label_windows(self, windows: list[list[int]]) -> list[list[int]]:
        """Argmax label ids for each window's tokens (specials stripped)."""
        device = next(self.model.parameters()).device
        out: list[list[int]] = []
        for b in range(0, len(windows), self.batch_size):
            batch = windows[b : b + self.batch_size]
            width = max(len(w) for w in batch) + 2
            ids = torch.full((len(batch), width), self.pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for r, w in enumerate(batch):
                ids[r, : len(w) + 2] = torch.tensor([self.cls, *w, self.sep])
                mask[r, : len(w) + 2] = 1
            logits = self.model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            best = logits.argmax(-1).cpu().tolist()
            out += [row[1 : len(w) + 1] for row, w in zip(best, batch)]
        return out

    def predict(self, docs: Sequence[Document]) -> list[list[Entity]]:
        """Entities with document character offsets for each document."""
        encoded = [self.encoder.encode(d.text) for d in docs]
        plans = [sliding_windows(len(e.ids), self.size, self.stride) for e in encoded]
        flat = [e.ids[s:t] for e, plan in zip(encoded, plans) for s, t in plan if t > s]
        labelled = iter(self.label_windows(flat)) if flat else iter(())
        results = []
        for doc, enc, plan in zip(docs, encoded, plans):
            n = len(enc.ids)
            if n == 0:
                results.append([])
                continue
            labels = pick_labels(plan, [next(labelled) for _ in plan], n)
            tags = [self.id2label[i] for i in labels]
            results.append(to_entities(doc.text, enc.chars, tags))
        return results
