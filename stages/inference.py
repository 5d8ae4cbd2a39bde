"""Document-level NER prediction: overlapping windows in, character spans out.

Documents are encoded character by character (``stages.encoding``), cut into windows of
``max_len - 2`` tokens with a stride of half a window, and each token takes the label
predicted by the window in which it sits farthest from an edge (ties: the earlier window).
The resulting document-level BIO sequence is decoded once, so an entity seen by two
windows is reported once.

BIO repair rule: an ``I-X`` that does not continue an entity of type ``X`` starts a new
entity of type ``X``; a ``B-X`` always starts one; ``O`` closes the open entity.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from stages.documents import Document, Entity
from stages.encoding import CharEncoder


def sliding_windows(n: int, size: int, stride: int) -> list[tuple[int, int]]:
    """Token ranges of at most ``size`` covering [0, n), successive starts ``stride`` apart."""
    if n <= size:
        return [(0, n)]
    starts = list(range(0, n - size, stride)) + [n - size]
    return [(s, s + size) for s in starts]


def pick_labels(
    windows: list[tuple[int, int]], window_labels: list[list[int]], n: int
) -> list[int]:
    """One label per token from the window where the token is most central."""
    best = [-1] * n
    labels = [0] * n
    for (start, end), predicted in zip(windows, window_labels):
        for i in range(start, end):
            margin = min(i - start, end - 1 - i)
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


class NerPredictor:
    """Wraps a token-classification model and its tokenizer for whole documents."""

    def __init__(self, model, tokenizer, max_len: int, batch_size: int = 32):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.encoder = CharEncoder.from_tokenizer(tokenizer)
        self.size = max_len - 2
        self.stride = max(1, self.size // 2)
        self.batch_size = batch_size
        self.id2label = {int(k): v for k, v in model.config.id2label.items()}

    @torch.no_grad()
    def label_windows(self, windows: list[list[int]]) -> list[list[int]]:
        """Argmax label ids for each window's tokens (specials stripped)."""
        device = next(self.model.parameters()).device
        out: list[list[int]] = []
        cls, sep, pad = (self.tokenizer.cls_token_id, self.tokenizer.sep_token_id,
                         self.tokenizer.pad_token_id)
        for b in range(0, len(windows), self.batch_size):
            batch = windows[b : b + self.batch_size]
            width = max(len(w) for w in batch) + 2
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for r, w in enumerate(batch):
                ids[r, : len(w) + 2] = torch.tensor([cls, *w, sep])
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
            entities = []
            for s, t, etype in decode_bio(tags):
                start, end = enc.chars[s], enc.chars[t - 1] + 1
                entities.append(Entity(start, end, etype, doc.text[start:end]))
            results.append(entities)
        return results
