"""Sequence packing for pretraining: several short masked sequences in one window, each
still attending only to itself (``pretrain.packing``).

``pack_groups`` bins sequences by length (best-fit decreasing, ties by index: a pure function
of the lengths); ``PackedRows`` serves each bin as one row, the concatenation of its
sequences (each keeps its own [CLS] and [SEP]) with ``segments`` (their lengths), over the
stored copies or the dynamic masks (``set_epoch`` passed on). ``PositionsCollator``
(``dapt.training.mlm``) turns ``segments`` into ``position_ids`` that restart at 0 for every
sequence and ``segment_ids`` (1, 2, ... per sequence, 0 on padding); the model turns those
into a block-diagonal attention mask (``segment_attention_mask``). A token so sees the
positions and keys it sees unpacked, and its outputs equal the unpacked ones up to float
summation order. What changes is the batch: ``pretrain.batch_size`` counts windows of up to
``tokenize.max_len`` tokens, and almost none of them is padding.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

import torch

from dapt.training.trainer import sequence_lengths


def pack_groups(lengths: Sequence[int], max_len: int) -> list[list[int]]:
    """Indices of ``lengths`` in bins of total length <= ``max_len``: longest first, each
    into the fullest bin it fits (a new one when none), bins in order of creation and
    indices within a bin in order of placement."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    bins: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (room left, bin number), sorted
    for i in order:
        n = int(lengths[i])
        if n > max_len:
            raise ValueError(f"sequence {i} has {n} tokens, more than the {max_len} of a window")
        k = bisect.bisect_left(free, (n, -1))
        if k == len(free):
            bins.append([i])
            room, b = max_len - n, len(bins) - 1
        else:
            room, b = free.pop(k)
            bins[b].append(i)
            room -= n
        bisect.insort(free, (room, b))
    return bins


class PackedRows(torch.utils.data.Dataset):
    """Rows of ``rows`` packed into windows of at most ``max_len`` tokens; ``lengths`` are the
    windows' token counts (for the length-grouped sampler)."""

    def __init__(self, rows, max_len: int):
        self.rows = rows
        lengths = sequence_lengths(rows)
        self.groups = pack_groups(lengths, max_len)
        self.lengths = [sum(lengths[i] for i in group) for group in self.groups]

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, index: int) -> dict[str, Any]:
        parts = [self.rows[i] for i in self.groups[index]]
        return {"input_ids": [t for p in parts for t in p["input_ids"]],
                "labels": [t for p in parts for t in p["labels"]],
                "segments": [len(p["input_ids"]) for p in parts]}

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.rows, "set_epoch"):  # dynamic masks draw each epoch's masks
            self.rows.set_epoch(epoch)


def segment_tensors(segments: list[list[int]], width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``position_ids`` (restarting at 0 per sequence) and ``segment_ids`` (1.. per sequence,
    0 on padding), both ``[B, width]``, of packed rows with these sequence lengths."""
    positions = torch.zeros(len(segments), width, dtype=torch.long)
    ids = torch.zeros(len(segments), width, dtype=torch.long)
    for row, lengths in enumerate(segments):
        start = 0
        for k, n in enumerate(lengths, start=1):
            positions[row, start : start + n] = torch.arange(n)
            ids[row, start : start + n] = k
            start += n
    return positions, ids


def segment_attention_mask(segment_ids: torch.Tensor, implementation: str,
                           dtype: torch.dtype) -> torch.Tensor:
    """``[B, 1, T, T]`` mask letting a token attend to the tokens of its own sequence only
    (padding to itself, so no row is empty): boolean for ``sdpa``, additive (0 or the
    dtype's minimum) for ``eager``, the two attention kernels BERT runs a prepared mask
    with."""
    same = segment_ids[:, :, None] == segment_ids[:, None, :]
    keep = (same & (segment_ids[:, None, :] > 0)) | torch.eye(
        segment_ids.shape[1], dtype=torch.bool, device=segment_ids.device)
    keep = keep[:, None]
    if implementation == "sdpa":
        return keep
    if implementation == "eager":
        return torch.zeros(keep.shape, dtype=dtype, device=keep.device).masked_fill(
            ~keep, torch.finfo(dtype).min)
    raise ValueError(f"pretrain.packing needs the sdpa or eager attention kernel, the model "
                     f"uses {implementation!r}")
