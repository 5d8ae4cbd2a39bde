"""Seeded, resumable Trainer: length-grouped batches whose order depends only on
(seed, epoch) and the global batch (so N processes see the steps one process sees with an
N-fold batch), and one evaluation skeleton for every stage.

A subclass implements ``score(dataset) -> dict`` (the stage's own evaluation) and sets
``metric_prefix``; ``evaluate`` runs it under the Trainer's autocast, logs the scores with
the prefix and fires the ``on_evaluate`` callbacks, as ``Trainer.evaluate`` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from transformers import Trainer, TrainerCallback
from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices


def sequence_lengths(rows) -> list[int]:
    """Token count of every train example (a dataset with ``lengths``, such as the dynamic
    masks of ``dapt.training.dynamic``, knows them without building the examples)."""
    lengths = getattr(rows, "lengths", None)
    return list(lengths) if lengths is not None else [len(row["input_ids"]) for row in rows]


class SeededLengthGroupedSampler(LengthGroupedSampler):
    """Length-grouped order drawn from ``(seed, epoch)`` alone.

    transformers' sampler draws from the global RNG when an epoch starts, which a run
    resumed mid-epoch cannot reproduce (it restores the RNG state only later); here the
    order of epoch ``e`` is a pure function of ``seed + e``, identical on every process.
    """

    def __init__(self, batch_size: int, lengths: list[int], seed: int):
        super().__init__(batch_size, lengths=lengths)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self):
        # SeedSequence, not seed + epoch: seeds 1 and 2 must not share epoch orders.
        state = np.random.SeedSequence([self.seed, self.epoch]).generate_state(1)[0]
        generator = torch.Generator().manual_seed(int(state))
        return iter(get_length_grouped_indices(self.lengths, self.batch_size,
                                               generator=generator))


class EpochSampler(TrainerCallback):
    """Tells the trainer's sampler, and a train dataset with ``set_epoch`` (dynamic masks),
    which epoch starts (also the first one after a resume)."""

    def __init__(self, trainer: SeededTrainer):
        self.trainer = trainer

    def on_epoch_begin(self, args, state, control, **kwargs):
        epoch = int(state.epoch or 0)
        sampler = getattr(self.trainer, "epoch_sampler", None)
        if sampler is not None:
            sampler.set_epoch(epoch)
        if hasattr(self.trainer.train_dataset, "set_epoch"):  # dapt.training.dynamic
            self.trainer.train_dataset.set_epoch(epoch)


class SeededTrainer(Trainer):
    """Trainer with seeded length-grouped batches and a ``score``-based evaluation."""

    metric_prefix = "eval"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.epoch_sampler: SeededLengthGroupedSampler | None = None
        self.add_callback(EpochSampler(self))

    def _get_train_sampler(self, train_dataset=None):
        rows = train_dataset if train_dataset is not None else self.train_dataset
        lengths = sequence_lengths(rows)
        # Grouped by the global batch of an optimiser step (all micro-batches of all
        # processes): accelerate deals consecutive batches of this order out to the
        # processes, so N processes of batch b train, step by step, on the sequences one
        # process trains on with batch N x b or with b and N-fold accumulation.
        args = self.args
        self.epoch_sampler = SeededLengthGroupedSampler(
            args.train_batch_size * args.gradient_accumulation_steps * args.world_size,
            lengths, args.seed)
        return self.epoch_sampler

    def score(self, dataset) -> dict[str, Any]:
        """The stage's evaluation of ``self.model`` on ``dataset`` (None values are dropped)."""
        raise NotImplementedError

    def evaluate(self, eval_dataset=None, ignore_keys=None,
                 metric_key_prefix: str | None = None) -> dict[str, Any]:
        data = eval_dataset if eval_dataset is not None else self.eval_dataset
        with self.accelerator.autocast():
            scores = self.score(data)
        self.model.train()
        prefix = metric_key_prefix or self.metric_prefix
        metrics = {f"{prefix}_{k}": v for k, v in scores.items() if v is not None}
        self.log(dict(metrics))  # log() adds "epoch" to the dict it gets
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control,
                                                         metrics)
        return metrics
