"""A bidirectional ``nn.LSTM`` over right-padded rows of unequal length.

On CUDA this is ``pack_padded_sequence`` (cuDNN, ``packed_bilstm``), and so it is while
tracing for ONNX export (``dapt.export``): the exporter maps a packed LSTM to ONNX's ``LSTM``
with per-row ``sequence_lens``, for any batch and length. On CPU the backward of a packed LSTM
costs time quadratic in the row length: each time step's input is a ``narrow`` of all
packed tokens' gate inputs, and its backward zero-fills and adds a ``[tokens, 4 * hidden]``
gradient per step. So on CPU each direction runs as a one-directional LSTM over the padded
rows instead (step inputs are an ``unbind``, whose backward stacks once): the forward
direction as is (padding follows a row's tokens, so it never reaches them), the backward
direction on each row reversed within its length. Both paths use the bidirectional
module's own parameters (state-dict keys unchanged) and return the same values: zeros past
each row's length.
"""

from __future__ import annotations

import functools

import torch
from torch import nn
from torch.func import functional_call


def reverse_within_lengths(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``x[B, T, ...]`` with the first ``lengths[b]`` steps of each row ``b`` reversed."""
    steps = torch.arange(x.shape[1], device=x.device)[None, :]
    lengths = lengths.to(x.device)[:, None]
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)
    return x.gather(1, index.view(*index.shape, *[1] * (x.dim() - 2)).expand_as(x))


@functools.cache
def one_direction(input_size: int, hidden_size: int, bias: bool) -> nn.LSTM:
    """A weightless (meta-device) one-directional LSTM: only its computation is used, with
    a direction's weights swapped in by ``functional_call``."""
    with torch.device("meta"):
        return nn.LSTM(input_size, hidden_size, batch_first=True, bias=bias)


def packed_bilstm(lstm: nn.LSTM, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``padded_bilstm`` through ``pack_padded_sequence`` (zeros past each row's length)."""
    packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True,
                                               enforce_sorted=False)
    out, _ = lstm(packed)
    return nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0]


def padded_bilstm(lstm: nn.LSTM, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Outputs ``[B, T, 2 * hidden]`` of a one-layer, ``batch_first``, bidirectional
    ``lstm`` for ``x[B, T, input]`` whose row ``b`` has ``lengths[b]`` (>= 1) real steps;
    zeros past each row's length."""
    if not (lstm.bidirectional and lstm.batch_first and lstm.num_layers == 1):
        raise ValueError("padded_bilstm needs a one-layer, batch_first, bidirectional LSTM")
    if x.is_cuda or torch.jit.is_tracing():
        return packed_bilstm(lstm, x, lengths)
    T = x.shape[1]
    twin = one_direction(lstm.input_size, lstm.hidden_size, lstm.bias)

    def run(inputs: torch.Tensor, suffix: str) -> torch.Tensor:
        weights = {name: getattr(lstm, name + suffix) for name in twin._flat_weights_names}
        return functional_call(twin, weights, (inputs,))[0]

    out = torch.cat([run(x, ""), reverse_within_lengths(
        run(reverse_within_lengths(x, lengths), "_reverse"), lengths)], dim=-1)
    valid = torch.arange(T)[None, :] < lengths.cpu()[:, None]
    return out * valid[:, :, None].to(out.dtype)
