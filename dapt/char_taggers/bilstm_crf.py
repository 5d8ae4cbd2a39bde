"""Character BiLSTM-CRF baseline from random initialisation (no pretraining at all).

Documents become whitespace-free character sequences (``dapt.char_taggers.chars``), cut into
chunks of at most ``max_len`` characters at sentence ends, never inside a gold entity for
training. Model: character embeddings -> dropout -> 1-layer BiLSTM -> dropout -> linear
emissions -> BIO-constrained CRF (``dapt.ner.crf``). Adam over batches of chunks of similar
length, in random order; after each epoch the dev strict span F1 is measured and the best
epoch's weights are kept (early stopping with patience).
Seeded: ``torch.manual_seed`` for init/dropout, a numpy Generator for the data order.
"""

from __future__ import annotations

import copy
import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from dapt.char_taggers.chars import CharSeq, label_set
from dapt.data.documents import Document
from dapt.ner.bilstm import padded_bilstm
from dapt.ner.crf import CRF, IGNORE_INDEX
from dapt.ner.scoring import doc_spans, score_spans

log = logging.getLogger("bilstm_crf")

PAD, UNK = "[PAD]", "[UNK]"


@dataclass
class Config:
    emb_dim: int = 128
    hidden: int = 192          # per direction
    dropout: float = 0.3
    lr: float = 2e-3
    epochs: int = 15
    patience: int = 4          # stop after this many epochs without a better dev F1
    batch_size: int = 32       # chunks per batch
    max_len: int = 256         # characters per chunk
    grad_clip: float = 5.0
    seed: int = 1
    threads: int = 2
    max_minutes: float | None = None  # wall-clock cap: no new epoch after this many minutes


class BiLSTMCRF(nn.Module):
    def __init__(self, vocab: list[str], labels: list[str], cfg: Config) -> None:
        super().__init__()
        self.vocab, self.labels, self.cfg = list(vocab), list(labels), cfg
        self.index = {ch: i for i, ch in enumerate(self.vocab)}
        self.embed = nn.Embedding(len(self.vocab), cfg.emb_dim, padding_idx=0)
        self.lstm = nn.LSTM(cfg.emb_dim, cfg.hidden, batch_first=True, bidirectional=True)
        self.drop = nn.Dropout(cfg.dropout)
        self.proj = nn.Linear(2 * cfg.hidden, len(self.labels))
        self.crf = CRF(self.labels)

    def ids(self, chars: list[str]) -> list[int]:
        unk = self.index[UNK]
        return [self.index.get(c, unk) for c in chars]

    def emissions(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out = padded_bilstm(self.lstm, self.drop(self.embed(ids)), lengths)
        return self.proj(self.drop(out))


def build_vocab(docs: list[Document]) -> list[str]:
    """[PAD], [UNK], then every kept training character (min count 1), by count then char."""
    counts = Counter(ch for d in docs for ch in CharSeq.from_doc(d).chars)
    return [PAD, UNK] + sorted(counts, key=lambda c: (-counts[c], c))


def _batch(model: BiLSTMCRF, rows: list[tuple[list[int], list[int] | None]]):
    lengths = torch.tensor([len(r[0]) for r in rows])
    T = int(lengths.max())
    ids = torch.zeros(len(rows), T, dtype=torch.long)
    tags = torch.full((len(rows), T), IGNORE_INDEX, dtype=torch.long)
    for i, (x, y) in enumerate(rows):
        ids[i, : len(x)] = torch.tensor(x)
        if y is not None:
            tags[i, : len(y)] = torch.tensor(y)
    return ids, tags, lengths


def length_batches(lengths: list[int], size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch's batches of row indices: rows of similar length together (little padding
    for the LSTM and CRF steps), ties broken at random, batches in random order."""
    order = np.lexsort((rng.permutation(len(lengths)), np.asarray(lengths)))
    batches = [order[k : k + size] for k in range(0, len(order), size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def training_chunks(model: BiLSTMCRF, docs: list[Document]) -> list[tuple[list[int], list[int]]]:
    lab = {t: i for i, t in enumerate(model.labels)}
    rows = []
    for doc in docs:
        seq = CharSeq.from_doc(doc)
        tags = seq.bio_tags()
        for a, b in seq.chunks(model.cfg.max_len, tags):
            rows.append((model.ids(seq.chars[a:b]), [lab[t] for t in tags[a:b]]))
    return rows


@torch.no_grad()
def predict(model: BiLSTMCRF, docs: list[Document], batch_size: int = 64) -> list[Document]:
    """Documents with predicted entities (exact document offsets) instead of gold."""
    model.eval()
    seqs = [CharSeq.from_doc(d) for d in docs]
    pieces = [(i, a, b) for i, s in enumerate(seqs) for a, b in s.chunks(model.cfg.max_len)]
    pieces.sort(key=lambda p: p[2] - p[1])  # similar lengths per batch: less padding
    tags: list[list[str]] = [["O"] * len(s) for s in seqs]
    for k in range(0, len(pieces), batch_size):
        part = pieces[k : k + batch_size]
        ids, _, lengths = _batch(model, [(model.ids(seqs[i].chars[a:b]), None)
                                         for i, a, b in part])
        mask = torch.arange(ids.shape[1])[None, :] < lengths[:, None]
        paths = model.crf.decode(model.emissions(ids, lengths), mask)
        for (i, a, b), path in zip(part, paths):
            tags[i][a:b] = [model.labels[j] for j in path]
    return [Document(d.id, d.text, s.entities(t)) for d, s, t in zip(docs, seqs, tags)]


def dev_f1(model: BiLSTMCRF, docs: list[Document]) -> float:
    return score_spans(doc_spans(docs), doc_spans(predict(model, docs)))["f1"]


def fit(train_docs: list[Document], dev_docs: list[Document], cfg: Config,
        types: list[str] | None = None) -> tuple[BiLSTMCRF, dict]:
    """Train; returns the best-dev-F1 model and a history
    ``{"config", "epochs": [{"epoch", "loss", "dev_f1", "seconds"}], "best_epoch",
    "best_dev_f1", "minutes", "stopped"}`` (``stopped``: epochs, patience or max_minutes)."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    types = types or sorted({e.type for d in train_docs for e in d.entities})
    model = BiLSTMCRF(build_vocab(train_docs), label_set(types), cfg)
    rows = training_chunks(model, train_docs)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    history = {"config": asdict(cfg), "epochs": [], "train_chunks": len(rows), "stopped": "epochs"}
    best_f1, best_state, best_epoch, stale = -1.0, None, 0, 0
    t_start = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        total, n_batches = 0.0, 0
        for batch in length_batches([len(r[0]) for r in rows], cfg.batch_size, rng):
            ids, tags, lengths = _batch(model, [rows[j] for j in batch])
            mask = torch.arange(ids.shape[1])[None, :] < lengths[:, None]
            loss = model.crf.neg_log_likelihood(model.emissions(ids, lengths), tags, mask)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            total += loss.item()
            n_batches += 1
        f1 = dev_f1(model, dev_docs)
        secs = time.perf_counter() - t0
        history["epochs"].append({"epoch": epoch, "loss": total / max(n_batches, 1),
                                  "dev_f1": f1, "seconds": secs})
        log.info("seed %d lr %g epoch %d: loss %.3f dev F1 %.4f (%.0f s)", cfg.seed, cfg.lr,
                 epoch, total / max(n_batches, 1), f1, secs)
        if f1 > best_f1:
            best_f1, best_epoch, stale = f1, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
            if stale >= cfg.patience:
                history["stopped"] = "patience"
                break
        if cfg.max_minutes is not None and time.perf_counter() - t_start >= 60 * cfg.max_minutes:
            history["stopped"] = "max_minutes"
            break
    model.load_state_dict(best_state)
    history.update(best_epoch=best_epoch, best_dev_f1=best_f1,
                   minutes=(time.perf_counter() - t_start) / 60)
    return model, history
