"""mask-annotate stage: find masking units and draw static MLM masks, stored as data.

Reads ``data/tokenized/mlm.parquet``, ``models/tokenizer``, the unit-tagger's predictions
(``data/units``) and the dev documents (``data/split/dev.jsonl``); writes

  data/masked/train.parquet   ``mask_dupe`` masked copies of every non-held-out sequence
  data/masked/eval.parquet    ``mask.eval_sequences`` held-out sequences, one copy each
  data/masked/masking.json    the masking params and headline rates (for model cards)
  metrics/masking.json        mask rate, entity shares, lexicon size/matches, per type,
                              unit quality

Each row is one masked copy: ``seq_id``, ``copy``, ``input_ids``, ``labels``, ``mask_unit``,
``mask_kind``, ``in_entity`` (meanings in ``dapt.data.contracts``), ordered by copy, then
seq_id.

Entity units are the gold entities of train sequences and, in all other sequences, the
units of ``mask.unlabeled_units``: ``lexicon`` (longest matches of a lexicon built from the
train sequences' gold entities only, plus ``data.lexicon_file``), ``tagger`` (the spans the
unit-tagger stage, trained on the train split only, predicts) or ``none``. Dev/test
annotations never reach the masks: the dev gold only scores each unit source
(``unit_quality``: strict P/R/F1 of the spans each source finds in the dev documents' text,
as if it were unlabeled). The held-out sequences are drawn with ``mask.eval_seed`` (not
``seed``), so a seed sweep is evaluated on the same sequences. See
``dapt.masking.strategies`` for the strategies and the per-(seed, seq_id, copy) RNG.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
from tqdm import tqdm

from dapt.cli import path_flag, stage_main
from dapt.data.contracts import (
    DEV,
    MASKED_SCHEMA,
    MASKING_RECORD,
    TEST,
    TRAIN,
    UNLABELED,
    split_file,
    write_json,
    write_table,
)
from dapt.data.documents import Document, Entity, read_jsonl
from dapt.data.readers import ReadReport, read_lexicon_file
from dapt.masking.sequences import Sequences, read_sequences, segment_index
from dapt.masking.stats import mask_stats
from dapt.masking.strategies import MaskConfig, Masked, Masker, Vocab
from dapt.masking.units import (
    Lexicon,
    Units,
    build_lexicon,
    covered,
    gold_units,
    lexicon_units,
    tagged_units,
    word_units,
)
from dapt.ner.scoring import doc_spans, score_spans
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

UNIT_SOURCES = ("lexicon", "tagger", "none")


def eval_rows(n: int, size: int, eval_seed: int) -> np.ndarray:
    """Sorted row indices of the held-out sequences (a seeded draw)."""
    if not 0 <= size < n:
        raise ValueError(f"mask.eval_sequences must be in [0, {n - 1}] for {n} sequences, "
                         f"got {size}")
    return np.sort(np.random.default_rng([eval_seed, n]).choice(n, size, replace=False))


def masked_table(seqs: Sequences, rows: np.ndarray, copies: list[tuple[int, Masked]],
                 in_entity: np.ndarray, kind_names: list[str]) -> pa.Table:
    """One row per (copy, sequence), copy-major, in the output schema."""
    idx, off = segment_index(seqs.offsets, rows)
    total = int(off[-1])
    offsets = np.concatenate([off[:-1] + i * total for i in range(len(copies))]
                             + [[total * len(copies)]]).astype(np.int32)

    def column(values: list[np.ndarray], type_: pa.DataType, mask=None) -> pa.ListArray:
        flat = np.concatenate(values) if values else np.empty(0)
        arr = pa.array(flat, type=type_, mask=mask)
        return pa.ListArray.from_arrays(pa.array(offsets), arr)

    codes = np.concatenate([m.kind[idx] for _, m in copies]) if copies else np.empty(0, int)
    kinds = pa.array(kind_names, pa.string()).take(pa.array(codes, pa.int32(), mask=codes < 0))
    columns = {
        "seq_id": pa.array(np.tile(seqs.seq_id[rows], len(copies)), pa.int32()),
        "copy": pa.array(np.repeat([c for c, _ in copies], len(rows)), pa.int32()),
        "input_ids": column([m.input_ids[idx] for _, m in copies], pa.int32()),
        "labels": column([m.labels[idx] for _, m in copies], pa.int32()),
        "mask_unit": column([m.mask_unit[idx] for _, m in copies], pa.int32()),
        "mask_kind": pa.ListArray.from_arrays(pa.array(offsets), kinds),
        "in_entity": column([in_entity[idx]] * len(copies), pa.bool_()),
    }
    return pa.table(columns, schema=MASKED_SCHEMA)


def external_entries(params: Params) -> tuple[list[tuple[str, str]], dict]:
    """Entries of ``data.lexicon_file`` (null: none), bad lines handled per ``split.on_error``,
    and what was read."""
    path = params["data"]["lexicon_file"]
    if path is None:
        return [], {"entries": 0, "skipped": []}
    report = ReadReport(on_error=params["split"]["on_error"])
    entries = read_lexicon_file(path, report)
    for entry in report.skipped:
        log.warning("skipped %s", entry)
    return entries, {"entries": len(set(entries)),
                     "skipped": [s.as_dict() for s in report.skipped]}


def read_tagged(folder: str) -> dict[tuple[str, str], Document]:
    """The unit-tagger's predicted documents by (split, doc id)."""
    return {(split, d.id): d for split in (DEV, TEST, UNLABELED)
            for d in read_jsonl(split_file(folder, split))}


def unit_quality(dev: list[Document], lexicon: Lexicon,
                 tagged: dict[tuple[str, str], Document] | None) -> dict:
    """Strict span scores (``score_spans``) of each unit source's spans in the dev documents'
    whole text, found as if it were unlabeled, against the dev gold."""
    found = {"lexicon": [[Entity(s, e, t, d.text[s:e]) for s, e, t in matches]
                         for d, matches in zip(dev, lexicon.matches(d.text for d in dev))]}
    if tagged is not None:
        preds = [tagged.get((DEV, d.id)) for d in dev]
        if any(p is None or p.text != d.text for p, d in zip(preds, dev)):
            raise ValueError("the unit-tagger's dev predictions do not match the dev documents "
                             "(rerun the unit-tagger stage)")
        found["tagger"] = [p.entities for p in preds]
    gold = doc_spans(dev)
    return {name: score_spans(gold, doc_spans(dev, ents)) for name, ents in found.items()}


def find_units(seqs: Sequences, params: Params, paths: Paths
               ) -> tuple[Units, Units | None, dict]:
    """Entity units (gold + the unlabeled-text source), jieba words when needed, and unit
    statistics (unit quality when dev documents are given)."""
    mcfg = params["mask"]
    source = mcfg["unlabeled_units"]
    if source not in UNIT_SOURCES:
        raise mcfg.error("unlabeled_units", f"must be one of {UNIT_SOURCES}")
    gold, overlaps = gold_units(seqs)
    extra, file_info = external_entries(params)
    lexicon = build_lexicon(seqs, int(mcfg["lexicon_min_len"]), mcfg["lexicon_conflict"], extra)
    lex = lexicon_units(seqs, lexicon)
    tagged = read_tagged(paths.units) if paths.units else None
    other, cut = lex, 0
    if source == "tagger":
        if tagged is None:
            raise mcfg.error("unlabeled_units", "needs the unit-tagger's predictions (--units)")
        other, cut = tagged_units(seqs, tagged)
    elif source == "none":
        other = Units.empty()
    entities = Units.concat(gold, other)
    words = word_units(seqs, mcfg["jieba_user_dict"]) if params["mask_strategy"] == "wwm" else None
    info = {
        "lexicon_size": len(lexicon),
        "lexicon_matches": len(lex),
        "lexicon": lexicon.stats,
        "lexicon_file": file_info,
        "gold_units": len(gold),
        "gold_overlaps_dropped": overlaps,
        "unlabeled_units": {"source": source, "units": len(other), "cut_spans": cut},
        "word_units": None if words is None else len(words),
    }
    if paths.dev:
        info["unit_quality"] = unit_quality(read_jsonl(paths.dev), lexicon, tagged)
    log.info("%d gold entity units, lexicon of %d surfaces, %d lexicon matches, %d %s units",
             len(gold), len(lexicon), len(lex), len(other), source)
    return entities, words, info


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
    entities, words, info = find_units(seqs, params, paths)
    source = info["unlabeled_units"]["source"]
    masker = Masker(seqs, cfg, vocab, entities, words)
    in_entity = covered(seqs, entities)
    held_out = eval_rows(len(seqs), int(params["mask"]["eval_sequences"]),
                         int(params["mask"]["eval_seed"]))
    train_rows = np.setdiff1d(np.arange(len(seqs)), held_out)
    copies = [masker.copy(c) for c in tqdm(range(dupe), desc="mask copies", mininterval=2)]

    out = Path(paths.out)
    write_table(masked_table(seqs, train_rows, list(enumerate(copies)), in_entity,
                             masker.kind_names), out / "train.parquet")
    write_table(masked_table(seqs, held_out, [(0, copies[0])], in_entity, masker.kind_names),
                out / "eval.parquet")

    metrics = {"strategy": cfg.strategy, "mask_prob": cfg.prob, "mask_budget": cfg.budget,
               **info, **mask_stats(masker, copies, train_rows, entities, in_entity, source)}
    metrics["eval"] = mask_stats(masker, copies[:1], held_out, entities, in_entity, source)
    write_json(out / MASKING_RECORD, {
        "strategy": cfg.strategy, "mask_prob": cfg.prob, "mask_budget": cfg.budget,
        "mask_dupe": dupe, "seed": params["seed"], "mask": params["mask"].to_dict(),
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
