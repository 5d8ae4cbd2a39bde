"""Linear-chain CRF over BIO labels with hard transition constraints (torch).

Forbidden moves (``O -> I-x``, ``B-x/I-x -> I-y`` for ``x != y``, ``start -> I-x``) get a
large negative constant (``NEG``, -1e4) instead of -inf, so scores stay finite in
bf16/fp16; the CRF itself always computes in float32. Decoding therefore never yields a
forbidden move as long as some allowed path exists (with BIO there always is one: all O).

Shapes: ``B`` batch, ``T`` time, ``L`` labels. Masks are prefix masks: each row is
``1...1 0...0`` with at least one 1 (asserted); positions after a row's length are ignored.
Gold tag sequences must be valid BIO (a forbidden gold move costs ~1e4 in the loss).
"""

from __future__ import annotations

import torch
from torch import nn

NEG = -1e4
IGNORE_INDEX = -100


def bio_constraints(labels: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """(allowed[L, L] with allowed[i, j] = move i -> j is legal, start_allowed[L]).

    Labels are ``"O"`` or ``"B-<type>"``/``"I-<type>"``; anything else raises.
    """
    for lab in labels:
        if lab != "O" and not (lab[:2] in ("B-", "I-") and len(lab) > 2):
            raise ValueError(f"not a BIO label: {lab!r}")
    n = len(labels)
    allowed = torch.ones(n, n, dtype=torch.bool)
    start = torch.ones(n, dtype=torch.bool)
    for j, to in enumerate(labels):
        if not to.startswith("I-"):
            continue
        start[j] = False
        for i, frm in enumerate(labels):
            allowed[i, j] = frm != "O" and frm[2:] == to[2:]
    return allowed, start


class CRF(nn.Module):
    """Linear-chain CRF with learned transition/start/end scores and BIO constraints.

    ``emissions`` are unnormalised per-position label scores ``[B, T, L]`` (any float
    dtype; cast to float32 here).
    """

    def __init__(self, labels: list[str]) -> None:
        super().__init__()
        self.labels = list(labels)
        allowed, start_allowed = bio_constraints(self.labels)
        # Persistent: transformers 5 loads models on the meta device and would leave
        # non-persistent buffers uninitialised.
        self.register_buffer("allowed", allowed)
        self.register_buffer("start_allowed", start_allowed)
        n = len(self.labels)
        self.transitions = nn.Parameter(torch.zeros(n, n))  # [from, to]
        self.start = nn.Parameter(torch.zeros(n))
        self.end = nn.Parameter(torch.zeros(n))

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    def constrained(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(transitions[L, L], start[L], end[L]) with forbidden moves set to ``NEG``."""
        return (self.transitions.masked_fill(~self.allowed, NEG),
                self.start.masked_fill(~self.start_allowed, NEG), self.end)

    @staticmethod
    def _lengths(mask: torch.Tensor, T: int) -> torch.Tensor:
        mask = mask.bool()
        lengths = mask.sum(1)
        prefix = torch.arange(T, device=mask.device)[None, :] < lengths[:, None]
        assert torch.equal(mask, prefix), "CRF mask must be a prefix mask (1...1 0...0) per row"
        assert bool((lengths > 0).all()), "every CRF row needs at least one unmasked position"
        return lengths

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log Z per row, ``[B]``, over all label paths of each row's length."""
        em = emissions.float()
        B, T, L = em.shape
        self._lengths(mask, T)
        trans, start, end = self.constrained()
        # unbind, not em[:, t]: the backward of T slices would add T zero-filled [B, T, L]
        # gradients (quadratic in T); unbind's backward stacks the T steps once.
        steps, keep = em.unbind(1), mask.bool().unbind(1)
        alpha = start[None] + steps[0]
        for t in range(1, T):
            nxt = torch.logsumexp(alpha[:, :, None] + trans[None], dim=1) + steps[t]
            alpha = torch.where(keep[t][:, None], nxt, alpha)
        return torch.logsumexp(alpha + end[None], dim=1)

    def path_score(self, emissions: torch.Tensor, tags: torch.Tensor,
                   mask: torch.Tensor) -> torch.Tensor:
        """Unnormalised score of the given tag path per row, ``[B]`` (prefix mask)."""
        em = emissions.float()
        B, T, L = em.shape
        lengths = self._lengths(mask, T)
        trans, start, end = self.constrained()
        m = mask.bool()
        tags = tags.masked_fill(~m, 0)
        score = start[tags[:, 0]] + em.gather(2, tags[:, :, None]).squeeze(2).masked_fill(
            ~m, 0.0).sum(1)
        if T > 1:
            step = trans[tags[:, :-1], tags[:, 1:]]
            score = score + step.masked_fill(~m[:, 1:], 0.0).sum(1)
        last = tags.gather(1, (lengths - 1)[:, None]).squeeze(1)
        return score + end[last]

    def neg_log_likelihood(self, emissions: torch.Tensor, tags: torch.Tensor,
                           mask: torch.Tensor | None = None) -> torch.Tensor:
        """Mean over the batch of ``log Z - score(gold)``.

        ``tags[B, T]`` are label ids; ``IGNORE_INDEX`` (-100) marks excluded positions and
        is combined with ``mask`` (default: all ones). The combined mask must be a prefix
        mask per row (asserted).
        """
        keep = tags != IGNORE_INDEX
        if mask is not None:
            keep = keep & mask.bool()
        return (self.log_partition(emissions, keep)
                - self.path_score(emissions, tags, keep)).mean()

    forward = neg_log_likelihood

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor | None = None
               ) -> list[list[int]]:
        """Viterbi: best label id path per row, of each row's length (prefix mask)."""
        em = emissions.float()
        B, T, L = em.shape
        if mask is None:
            mask = torch.ones(B, T, dtype=torch.bool, device=em.device)
        lengths = self._lengths(mask, T)
        mask = mask.bool()
        trans, start, end = self.constrained()
        score = start[None] + em[:, 0]
        history = []
        for t in range(1, T):
            best, idx = (score[:, :, None] + trans[None]).max(dim=1)
            history.append(idx)
            score = torch.where(mask[:, t, None], best + em[:, t], score)
        cur = (score + end[None]).argmax(dim=1)
        path = torch.empty(B, T, dtype=torch.long, device=em.device)
        path[:, T - 1] = cur
        for t in range(T - 1, 0, -1):
            prev = history[t - 1].gather(1, cur[:, None]).squeeze(1)
            cur = torch.where(mask[:, t], prev, cur)
            path[:, t - 1] = cur
        rows = path.tolist()
        return [row[:n] for row, n in zip(rows, lengths.tolist())]
