"""mask-annotate stage: find masking units and draw MLM masks (and sentence pairs), stored
as data.

Reads ``data/tokenized/mlm.parquet``, ``models/tokenizer``, the unit-tagger's predictions
(``data/units``) and the dev documents (``data/split/dev.jsonl``); writes

  data/masked/train.parquet   ``mask_dupe`` masked copies of every non-held-out sequence
                              (``mask_mode: static``)
  data/masked/units.parquet   ``mask_mode: dynamic``: those sequences unmasked, with the
                              strategy's candidate units (pretrain draws the masks)
  data/masked/eval.parquet    ``mask.eval_sequences`` held-out sequences, one copy each
  data/masked/masking.json    the masking params and headline rates (for model cards)
  metrics/masking.json        mask rate, entity shares, lexicon size/matches, per type,
                              unit quality; ``pairs`` with a pair task; for dynamic masks
                              the statistics of epoch 0's draw and ``expected_mask_rate``

Each row is one masked copy: ``seq_id``, ``copy``, ``input_ids``, ``labels``, ``mask_unit``,
``mask_kind``, ``in_entity`` (meanings in ``dapt.data.contracts``), ordered by copy, then
seq_id.

Entity units are the gold entities of train sequences and, in all other sequences, the
units of ``mask.unlabeled_units``: ``lexicon`` (longest matches of a lexicon built from the
train sequences' gold entities only, plus ``data.lexicon_file``), ``tagger`` (the spans the
unit-tagger stage, trained on the train split only, predicts) or ``none``
(``dapt.masking.annotate``; dev/test annotations never reach the masks, the dev gold only
scores each unit source). The held-out sequences are drawn with ``mask.eval_seed`` (not
``seed``), so a seed sweep is evaluated on the same sequences. See
``dapt.masking.strategies`` for the strategies and the per-(seed, seq_id, copy) RNG.

With ``pretrain.pair_task`` (sop | nsp) every stored row is a sentence pair laid out from a
masked sequence (``dapt.masking.pairs``: drawn per sequence and copy, NSP partners from the
same partition); the masking statistics describe the sequences before the layout and
``pairs`` counts the pairs, the unpaired one-sentence sequences and the trimmed tokens.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dapt.cli import path_flag, stage_main
from dapt.data.contracts import DYNAMIC_UNITS, MASKING_RECORD, TRAIN, write_json, write_table
from dapt.masking.annotate import find_units, held_out_rows, masked_table, units_table
from dapt.masking.pairs import lay_out
from dapt.masking.sequences import read_sequences
from dapt.masking.stats import expected_mask_rate, mask_stats
from dapt.masking.strategies import MaskConfig, Masker, Vocab
from dapt.masking.units import covered
from dapt.params import Params, as_params

log = logging.getLogger("mask-annotate")


@dataclass
class Paths:
    mlm: str = path_flag("data/tokenized/mlm.parquet", "MLM sequences from tokenize")
    tokenizer: str = path_flag("models/tokenizer",
                               "tokenizer folder: [MASK], special and random ids")
    units: str | None = path_flag("data/units", "unit-tagger predictions, "
                                  "{dev,test,unlabeled}.jsonl ('' for none)")
    dev: str | None = path_flag("data/split/dev.jsonl", "dev documents: their gold only "
                                "scores the unit sources ('' for none)")
    out: str = path_flag("data/masked", "output folder", output=True)
    metrics: str | None = path_flag("metrics/masking.json", "metrics JSON", output=True)


def run(params: Params, paths: Paths) -> dict:
    """The whole stage; returns the metrics."""
    from transformers import AutoTokenizer

    params = as_params(params)
    cfg = MaskConfig.from_params(params)
    dupe = int(params["mask_dupe"])
    seqs = read_sequences(paths.mlm)
    if not len(seqs):
        raise ValueError(f"{paths.mlm}: no MLM sequences")
    tokenizer = AutoTokenizer.from_pretrained(str(paths.tokenizer))
    vocab = Vocab.from_tokenizer(tokenizer)
    if len(seqs.ids) and int(seqs.ids.max()) >= len(tokenizer):
        raise ValueError(f"{paths.mlm}: token id {int(seqs.ids.max())} is outside the "
                         f"vocabulary of {paths.tokenizer} ({len(tokenizer)} ids): rerun tokenize")
    log.info("%d sequences (%d train), strategy %s, mask_prob %s, budget %s, %d copies",
             len(seqs), int((seqs.source == TRAIN).sum()), cfg.strategy, cfg.prob, cfg.budget,
             dupe)
    if cfg.budget is not None and cfg.strategy not in ("entity", "entity_token"):
        log.warning("mask_budget only caps entity units: ignored by strategy %s", cfg.strategy)
    entities, words, info = find_units(seqs, params, paths.units, paths.dev)
    source = info["unlabeled_units"]["source"]
    masker = Masker(seqs, cfg, vocab, entities, words)
    in_entity = covered(seqs, entities)
    held_out = held_out_rows(len(seqs), int(params["mask"]["eval_sequences"]),
                         int(params["mask"]["eval_seed"]))
    train_rows = np.setdiff1d(np.arange(len(seqs)), held_out)
    mode, task = params["mask_mode"], params["pretrain"]["pair_task"]
    draws = 1 if mode == "dynamic" else dupe  # dynamic: epoch 0's draw, for the statistics
    copies = [masker.copy(c) for c in tqdm(range(draws), desc="mask copies", mininterval=2)]
    layouts, pair_info = lay_out(seqs, train_rows, held_out, task, int(params["seed"]),
                                 int(params["tokenize"]["max_len"]), draws)

    out = Path(paths.out)
    sep_id = int(tokenizer.sep_token_id)
    if mode == "dynamic":
        write_table(units_table(seqs, train_rows, masker, in_entity), out / DYNAMIC_UNITS)
        (out / "train.parquet").unlink(missing_ok=True)
    else:
        write_table(masked_table([(c, m, lay) for c, (m, lay) in enumerate(zip(copies, layouts))],
                                 in_entity, masker.kind_names, sep_id), out / "train.parquet")
        (out / DYNAMIC_UNITS).unlink(missing_ok=True)
    write_table(masked_table([(0, copies[0], layouts[-1])], in_entity, masker.kind_names,
                             sep_id), out / "eval.parquet")

    metrics = {"strategy": cfg.strategy, "mask_prob": cfg.prob, "mask_budget": cfg.budget,
               "mask_mode": mode,
               **info, **mask_stats(masker, copies, train_rows, entities, in_entity, source)}
    if mode == "dynamic":
        metrics["expected_mask_rate"] = expected_mask_rate(masker, train_rows)
        metrics["stats_from"] = "epoch 0's draw (pretrain reports the run's realised rate)"
    if pair_info:
        metrics["pairs"] = pair_info
    metrics["eval"] = mask_stats(masker, copies[:1], held_out, entities, in_entity, source)
    write_json(out / MASKING_RECORD, {
        "strategy": cfg.strategy, "mask_prob": cfg.prob, "mask_budget": cfg.budget,
        "mask_dupe": dupe, "mask_mode": mode, "pair_task": task, "seed": params["seed"],
        "mask": params["mask"].to_dict(),
        **{k: metrics[k] for k in ("mask_rate", "entity_masked_share", "no_mask_share")}})
    if paths.metrics is not None:
        write_json(paths.metrics, metrics)
    log.info("train: %d sequences x %d copies, mask rate %.4f, entity masked share %.4f, "
             "masked in entity %.4f, %d copies without a mask; eval: %d sequences",
             len(train_rows), dupe, metrics["mask_rate"], metrics["entity_masked_share"],
             metrics["masked_in_entity_share"], metrics["no_mask_sequences"], len(held_out))
    return metrics


def main(argv: list[str] | None = None) -> None:
    stage_main(__doc__, Paths, run, argv)


if __name__ == "__main__":
    main()
