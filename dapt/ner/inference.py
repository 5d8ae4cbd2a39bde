"""Document-level NER prediction: overlapping windows in, character spans out.

Documents are encoded character by character (``dapt.data.encoding``), cut into windows of
``max_len - 2`` tokens with a stride of half a window, and each token takes the label
predicted by the window in which it sits farthest from a cut edge (a window edge at the
start or end of the document is no cut: the context there is complete; ties go to the
earlier window). The resulting document-level BIO sequence is decoded once, so an entity
seen by two windows is reported once.

The windows of all documents given to ``predict`` are batched together, sorted by length
(longest first, ties in document order), so a batch pads to nearly its own length; each
window's labels do not depend on its batch. Forward passes run under
``torch.inference_mode``. A folder written by ``python -m dapt.export --onnx`` (it holds
``model.onnx``) loads as the same predictor, its windows scored by ONNX Runtime on CPU
(``dapt.ner.onnx_runtime``).

Tags are decoded with ``dapt.ner.bio`` (repair rule and line-break splitting there);
labels other than ``O``/``B-*``/``I-*`` are rejected when the model is loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from dapt.data.documents import Document, Entity
from dapt.data.encoding import CharEncoder
from dapt.ner.bio import check_labels, to_entities
from dapt.ner.heads import load_token_classifier, model_source

ONNX_GRAPH = "model.onnx"  # marks an export folder of ``dapt.export --onnx``


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


class NerPredictor:
    """Wraps a token-classification model and its tokenizer for whole documents."""

    def __init__(self, model, tokenizer, max_len: int, batch_size: int = 32,
                 setting: str = "max_len"):
        """Raises ValueError unless 3 <= ``max_len`` <= the model's
        ``max_position_embeddings``; messages call the value ``setting`` (a flag or key)."""
        if max_len < 3:
            raise ValueError(f"{setting} must be >= 3 ([CLS] + token + [SEP]), got {max_len}")
        limit = getattr(model.config, "max_position_embeddings", None)
        if limit is not None and max_len > limit:
            raise ValueError(f"{setting} {max_len} is above the model's limit of {limit} "
                             f"positions (max_position_embeddings of "
                             f"{getattr(model.config, 'name_or_path', '') or 'the model'})")
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
    def from_pretrained(cls, model_dir: Path | str, max_len: int, batch_size: int = 32,
                        setting: str = "max_len", threads: int | None = None) -> NerPredictor:
        """Load a ``save_pretrained`` token-classification folder (on GPU when present), or
        an ONNX export folder (ONNX Runtime on CPU with ``threads`` intra-op threads, default
        torch's thread count); raises ``ModelFolderError`` for a local folder that lacks a
        piece, never going to the network for it (``dapt.ner.heads``), and ValueError for
        ``max_len`` (``__init__``)."""
        from transformers import AutoTokenizer

        if (Path(model_dir) / ONNX_GRAPH).is_file():
            from dapt.ner.onnx_runtime import load_onnx_classifier

            model, source = load_onnx_classifier(model_dir, threads), {"local_files_only": True}
        else:
            source = model_source(model_dir)
            model = load_token_classifier(model_dir)
            if torch.cuda.is_available():
                model = model.to("cuda")
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir), **source)
        return cls(model, tokenizer, max_len=max_len, batch_size=batch_size, setting=setting)

    def device(self) -> torch.device:
        """Where the model's inputs go: its ``device``, else its first parameter's."""
        device = getattr(self.model, "device", None)
        return device if device is not None else next(self.model.parameters()).device

    @torch.inference_mode()
    def label_windows(self, windows: list[list[int]]) -> list[list[int]]:
        """Label ids for each window's tokens (specials stripped), in the order given:
        Viterbi for a CRF head (a model with ``decode``), else the argmax. Batches hold
        windows of similar length (longest first)."""
        device = self.device()
        order = sorted(range(len(windows)), key=lambda i: -len(windows[i]))
        out: list[list[int]] = [[] for _ in windows]
        for b in range(0, len(order), self.batch_size):
            rows = order[b : b + self.batch_size]
            batch = [windows[i] for i in rows]
            width = max(len(w) for w in batch) + 2
            ids = torch.full((len(batch), width), self.pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for r, w in enumerate(batch):
                ids[r, : len(w) + 2] = torch.tensor([self.cls, *w, self.sep])
                mask[r, : len(w) + 2] = 1
            ids, mask = ids.to(device), mask.to(device)
            if hasattr(self.model, "decode"):
                labels = self.model.decode(ids, mask)
            else:
                best = self.model(input_ids=ids, attention_mask=mask).logits.argmax(-1)
                labels = [row[1 : len(w) + 1] for row, w in zip(best.cpu().tolist(), batch)]
            for i, row in zip(rows, labels):
                out[i] = row
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
