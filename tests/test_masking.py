"""Masking units and strategies on synthetic MLM sequences built in the test."""

from __future__ import annotations

import bisect
import math
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dapt.data.contracts import IGNORE_LABEL, MASKED_SCHEMA
from dapt.masking.annotate import held_out_rows
from dapt.masking.sequences import read_sequences
from dapt.masking.strategies import (
    KEEP,
    MASK,
    RANDOM,
    MaskConfig,
    Masked,
    Masker,
    Vocab,
    draw_spans,
    span_length,
)
from dapt.masking.units import (
    Units,
    build_lexicon,
    char_spans_to_tokens,
    covered,
    gold_units,
    lexicon_units,
    longest_matches,
    word_units,
)
from stages.mask_annotate import Paths, run

ROOT = Path(__file__).resolve().parents[1]
ENTITIES = {
    "SYMPTOM": ["头痛", "月经不调", "腹痛腹泻", "恶心呕吐", "失眠"],
    "PERSON_GROUP": ["孕妇", "儿童", "哺乳期妇女"],
    "DRUG_EFFICACY": ["活血调经", "清热解毒", "健脾和胃"],
}
FILLER = ["用于", "禁用", "本品", "口服", "一次", "每日", "两次", "服用", "。", "，", " ", "忌食",
          "生冷", "食物", "所致", "的", "症见", "温开水", "送服"]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def synth_docs(n: int, seed: int, train_share: float = 0.6, max_chars: int = 110):
    """(source, text, [(start, end, type)]) leaflets mixing entities and filler words."""
    rnd = random.Random(seed)
    docs = []
    for i in range(n):
        text, ents = "", []
        while len(text) < max_chars - 6:
            if rnd.random() < 0.3:
                typ = rnd.choice(sorted(ENTITIES))
                surface = rnd.choice(ENTITIES[typ])
                ents.append((len(text), len(text) + len(surface), typ))
                text += surface
            else:
                text += rnd.choice(FILLER)
        source = "train" if i < train_share * n else "unlabeled"
        docs.append((source, text, ents if source == "train" else []))
    return docs


class CharVocab:
    """A tiny stand-in for the tokenizer: one id per character, whitespace dropped."""

    def __init__(self, texts: list[str]):
        chars = sorted({c for t in texts for c in t if not c.isspace()} - {"?"})
        self.vocab = {tok: i for i, tok in enumerate(SPECIALS + chars)}

    def vocab_info(self) -> Vocab:
        return Vocab(4, np.arange(5, dtype=np.int32), np.arange(5, len(self.vocab), dtype=np.int32))


def mlm_table(docs, vocab: dict[str, int]) -> pa.Table:
    """Rows in the tokenize stage's mlm.parquet contract, one sequence per document."""
    rows = []
    for k, (source, text, ents) in enumerate(docs):
        chars = [i for i, c in enumerate(text) if not c.isspace()]
        ids = [vocab.get(text[i], 1) for i in chars]
        spans = [(bisect.bisect_left(chars, s) + 1, bisect.bisect_left(chars, e) + 1, t)
                 for s, e, t in ents]
        rows.append({
            "seq_id": k, "doc_id": str(k), "source": source, "input_ids": [2, *ids, 3],
            "char_start": [-1, *chars, -1], "char_end": [-1, *(c + 1 for c in chars), -1],
            "text": text[chars[0] : chars[-1] + 1], "text_start": chars[0],
            "entity_start": [s for s, _, _ in spans], "entity_end": [e for _, e, _ in spans],
            "entity_type": [t for _, _, t in spans],
        })
    from dapt.data.contracts import MLM_SCHEMA

    return pa.Table.from_pylist(rows, schema=MLM_SCHEMA)


def write_mlm(tmp_path: Path, docs, name: str = "mlm.parquet") -> tuple[Path, CharVocab]:
    cv = CharVocab([t for _, t, _ in docs])
    path = tmp_path / name
    pq.write_table(mlm_table(docs, cv.vocab), path)
    return path, cv


def params(**over) -> dict:
    p = {"seed": 42, "mask_strategy": "entity", "mask_prob": 0.5, "mask_budget": None,
         "mask_dupe": 3, "mask_mode": "static", "data": {"lexicon_file": None},
         "split": {"on_error": "skip"}, "pretrain": {"pair_task": "none"},
         "tokenize": {"max_len": 128},
         "mask": {"token_prob": 0.15, "replace_mask": 0.8, "replace_random": 0.1,
                  "unlabeled_units": "lexicon", "lexicon_min_len": 2,
                  "lexicon_conflict": "majority", "jieba_user_dict": None, "span_p": 0.2,
                  "span_max": 10, "eval_sequences": 4, "eval_seed": 0}}
    for key, value in over.items():
        next((p[s] for s in ("mask", "data", "split", "pretrain", "tokenize") if key in p[s]),
             p)[key] = value
    return p


def setup(tmp_path, docs, **over):
    path, cv = write_mlm(tmp_path, docs)
    seqs = read_sequences(path)
    p = params(**over)
    gold, _ = gold_units(seqs)
    lexicon = build_lexicon(seqs, 2, "majority")
    entities = Units.concat(gold, lexicon_units(seqs, lexicon))
    words = word_units(seqs) if p["mask_strategy"] == "wwm" else None
    masker = Masker(seqs, MaskConfig.from_params(p), cv.vocab_info(), entities, words)
    return seqs, masker, entities


def expected_stats(docs, rows: list[dict]) -> dict:
    """Masking statistics recounted from written rows (``train.parquet``) of ``docs`` that are
    all train documents, so their gold spans are the only entity units; also checks each
    row's ``in_entity`` against those spans."""
    copies = len({r["copy"] for r in rows})
    maskable = masked = masked_in = in_entity = no_mask = 0
    units: Counter = Counter()  # per copy
    hit: Counter = Counter()
    for r in rows:
        source, text, ents = docs[r["seq_id"]]
        assert source == "train"
        chars = [i for i, c in enumerate(text) if not c.isspace()]  # tokens after [CLS]
        flags = [lab != IGNORE_LABEL for lab in r["labels"]]
        inside = [False, *(any(s <= i < e for s, e, _ in ents) for i in chars), False]
        assert r["in_entity"] == inside
        maskable += len(chars)  # all but [CLS] and [SEP]: no [UNK] in these rows
        masked += sum(flags)
        masked_in += sum(f and x for f, x in zip(flags, inside))
        in_entity += sum(inside)
        no_mask += not any(flags)
        for s, e, t in ents:
            units[t] += 1
            hit[t] += all(flags[k + 1] for k, i in enumerate(chars) if s <= i < e)
    return {
        "sequences": len(rows) // copies, "copies": copies, "maskable_tokens": maskable,
        "masked_tokens": masked, "mask_rate": masked / maskable,
        "entity_units": sum(units.values()) // copies,
        "entity_masked_share": sum(hit.values()) / sum(units.values()),
        "masked_in_entity_share": masked_in / masked, "entity_token_share": in_entity / maskable,
        "no_mask_sequences": no_mask, "no_mask_share": no_mask / len(rows),
        "per_type": {t: {"units": units[t] // copies, "gold": units[t] // copies, "lexicon": 0,
                         "masked": hit[t], "masked_share": hit[t] / units[t]}
                     for t in sorted(units)},
    }


def unit_masked_counts(seqs, units: Units, m: Masked) -> np.ndarray:
    cum = np.concatenate([[0], np.cumsum(m.labels != IGNORE_LABEL)])
    base = seqs.offsets[units.row]
    return cum[base + units.end] - cum[base + units.start]


@pytest.fixture(scope="module")
def docs():
    return synth_docs(400, seed=1)


# --- units -----------------------------------------------------------------------------


def test_char_spans_map_to_tokens_across_dropped_whitespace(tmp_path):
    docs = [("unlabeled", "  孕妇 禁用。 头痛", [])]
    seqs = read_sequences(write_mlm(tmp_path, docs)[0])
    assert seqs.text[0] == "孕妇 禁用。 头痛" and seqs.text_start[0] == 2
    # text positions: 孕0 妇1 _2 禁3 用4 。5 _6 头7 痛8 ; tokens: [CLS]=0, 孕=1 ... 痛=7
    start, end = char_spans_to_tokens(seqs, np.zeros(4, int), np.array([0, 2, 1, 6]),
                                      np.array([2, 3, 5, 9]))
    assert start.tolist() == [1, 3, 2, 6] and end.tolist() == [3, 3, 5, 8]  # "_" -> no token


def test_lexicon_from_train_only_with_min_len_and_conflicts(tmp_path):
    docs = [("train", "孕妇禁用头痛", [(0, 2, "PERSON_GROUP"), (4, 6, "SYMPTOM")]),
            ("train", "头痛恶心", [(0, 2, "DISEASE"), (2, 4, "SYMPTOM")]),
            ("train", "头痛恶", [(0, 2, "SYMPTOM"), (2, 3, "SYMPTOM")]),
            ("unlabeled", "孕妇头痛恶心", [])]
    seqs = read_sequences(write_mlm(tmp_path, docs)[0])
    major = build_lexicon(seqs, 2, "majority")
    assert major.entries == {"孕妇": "PERSON_GROUP", "头痛": "SYMPTOM", "恶心": "SYMPTOM"}
    assert major.stats["type_conflicts"] == 1 and major.stats["too_short"] == 1
    assert build_lexicon(seqs, 2, "skip").entries == {"孕妇": "PERSON_GROUP", "恶心": "SYMPTOM"}
    units = lexicon_units(seqs, major)
    assert set(units.row.tolist()) == {3}  # train rows keep their gold entities only
    assert list(zip(units.start.tolist(), units.end.tolist(), units.kind.tolist())) == [
        (1, 3, "PERSON_GROUP"), (3, 5, "SYMPTOM"), (5, 7, "SYMPTOM")]


def test_longest_match_wins_then_leftmost():
    import ahocorasick

    a = ahocorasick.Automaton()
    for w, t in [("腹痛", "A"), ("腹痛腹泻", "B"), ("泻下", "C"), ("痛腹", "D")]:
        a.add_word(w, (len(w), t))
    a.make_automaton()
    assert longest_matches(a, "腹痛腹泻下痛腹") == [(0, 4, "B"), (5, 7, "D")]


def test_gold_entities_outside_train_are_rejected(tmp_path):
    docs = [("train", "孕妇禁用", [(0, 2, "PERSON_GROUP")])]
    table = mlm_table(docs, CharVocab(["孕妇禁用"]).vocab)
    table = table.set_column(2, "source", pa.array(["dev"]))
    pq.write_table(table, tmp_path / "m.parquet")
    with pytest.raises(ValueError, match="leakage"):
        build_lexicon(read_sequences(tmp_path / "m.parquet"), 2, "majority")


def test_jieba_words_are_real_words(tmp_path):
    seqs = read_sequences(write_mlm(tmp_path, [("unlabeled", "孕妇禁用。用于月经不调", [])])[0])
    words = word_units(seqs)
    text = seqs.text[0]
    got = ["".join(text[i - 1] for i in range(s, e)) for s, e in zip(words.start, words.end)]
    assert got == ["孕妇", "禁用", "。", "用于", "月经不调"]


# --- strategies converge to their definitions -------------------------------------------


def test_token_rate_replacement_and_specials(tmp_path, docs):
    docs = docs + [("unlabeled", "孕妇??禁用", [])]  # "?" -> [UNK], never masked
    seqs, masker, _ = setup(tmp_path, docs, mask_strategy="token", mask_prob=0.15)
    ms = [masker.copy(c) for c in range(5)]
    masked = np.stack([m.labels != IGNORE_LABEL for m in ms])
    maskable = ~np.isin(seqs.ids, np.arange(5))
    assert not masked[:, ~maskable].any()  # [CLS], [SEP], [UNK]
    assert abs(masked.sum() / (maskable.sum() * 5) - 0.15) < 0.005
    t = np.concatenate([m.treatment[m.labels != IGNORE_LABEL] for m in ms])
    for code, share in ((MASK, 0.8), (RANDOM, 0.1), (KEEP, 0.1)):
        assert abs((t == code).mean() - share) < 0.01
    for m in ms:
        sel = m.labels != IGNORE_LABEL
        assert (m.labels[sel] == seqs.ids[sel]).all()
        assert (m.input_ids[m.treatment == MASK] == 4).all()
        assert (m.input_ids[m.treatment == RANDOM] >= 5).all()
        assert (m.input_ids[~sel] == seqs.ids[~sel]).all()


def test_real_tokenizer_vocab_never_masks_unk(tmp_path):
    """``Vocab.from_tokenizer`` of a tokenizer built the real way (``train_scratch_tokenizer``)
    counts [UNK] among the special ids: token masking at p = 1 masks every token but [CLS],
    [SEP] and [UNK], and random replacements never draw a special id."""
    from dapt.data.tokenizer_io import train_scratch_tokenizer

    tok = train_scratch_tokenizer(["孕妇禁用，头痛"] * 3, 100, 1)
    vocab = Vocab.from_tokenizer(tok)
    specials = tok.convert_tokens_to_ids(SPECIALS)
    assert tok.unk_token_id == specials[1] and vocab.mask_id == tok.mask_token_id == specials[4]
    assert vocab.special_ids.tolist() == sorted(specials)
    assert vocab.random_ids.tolist() == sorted(set(range(len(tok))) - set(specials))
    # 吃 and 药 are not in the vocabulary: [UNK] (mlm_table's fallback id is [UNK]'s)
    pq.write_table(mlm_table([("unlabeled", "孕妇吃药禁用", [])], tok.get_vocab()),
                   tmp_path / "mlm.parquet")
    seqs = read_sequences(tmp_path / "mlm.parquet")
    assert (seqs.ids == tok.unk_token_id).tolist() == [False, False, False, True, True,
                                                       False, False, False]
    cfg = MaskConfig.from_params(params(mask_strategy="token", mask_prob=1.0))
    masker = Masker(seqs, cfg, vocab, Units.empty())
    for c in range(4):
        m = masker.copy(c)
        assert (m.labels != IGNORE_LABEL).tolist() == [False, True, True, False, False,
                                                       True, True, False]


def test_entity_share_converges_and_units_are_whole(tmp_path, docs):
    seqs, masker, entities = setup(tmp_path, docs, mask_prob=0.5)
    in_ent = covered(seqs, entities)
    shares = []
    for c in range(5):
        m = masker.copy(c)
        n_masked = unit_masked_counts(seqs, entities, m)
        lens = entities.end - entities.start
        assert np.isin(n_masked - lens * (n_masked > 0), 0).all()  # all or nothing
        assert not (m.labels != IGNORE_LABEL)[~in_ent].any()  # only entity tokens
        shares.append((n_masked > 0).mean())
        # one replacement per unit
        for code in (MASK, RANDOM, KEEP):
            units = {(r, u) for r, u in zip(seqs.row_of_token[m.treatment == code],
                                           m.mask_unit[m.treatment == code])}
            other = {(r, u) for r, u in zip(seqs.row_of_token[(m.treatment >= 0)
                                                              & (m.treatment != code)],
                                           m.mask_unit[(m.treatment >= 0) & (m.treatment != code)])}
            assert not units & other
    assert abs(np.mean(shares) - 0.5) < 0.02
    assert (entities.row[seqs.source[entities.row] != "train"].size > 0)  # lexicon units exist


def test_budget_is_never_exceeded(tmp_path, docs):
    seqs, masker, entities = setup(tmp_path, docs, mask_prob=1.0, mask_budget=0.2)
    in_ent = covered(seqs, entities)
    for c in range(3):
        m = masker.copy(c)
        per_row = np.add.reduceat((m.labels != IGNORE_LABEL).astype(int), seqs.offsets[:-1])
        cap = np.floor(0.2 * masker.n_maskable + 1e-9)
        assert (per_row <= cap).all() and m.budget_limited.any()
        counts = unit_masked_counts(seqs, entities, m)
        lens = entities.end - entities.start
        assert ((counts == 0) | (counts == lens)).all()
        assert not (m.labels != IGNORE_LABEL)[~in_ent].any()
        # mask_prob 1 selects every unit, so skip-and-continue leaves out only units that
        # no longer fit: each unmasked one is longer than the room left in its row
        room = (cap - per_row)[entities.row]
        assert (lens[counts == 0] > room[counts == 0]).all()


# Hand-worked budget case. Tokens: [CLS] 哺乳期妇女 禁 失眠症 痛 [SEP] (10 maskable), gold
# units L = 1..5 (5 tokens), A = 7..9 (3), B = 10 (1); mask_budget 0.4 -> cap 4. With
# mask_prob 1 all three are selected. In every order L never fits and A + B fill the cap
# exactly, so the masks are A and B whatever the seeded order: `<` instead of `<=` at the
# cap, or stopping at the first unit that does not fit, lose A or B in some copy.
# Second row: 失眠症 + 7 filler tokens, one unit of 3 <= cap 4: masked, not limited.
BUDGET_DOCS = [
    ("train", "哺乳期妇女禁失眠症痛", [(0, 5, "PERSON_GROUP"), (6, 9, "SYMPTOM"),
                                      (9, 10, "SYMPTOM")]),
    ("train", "失眠症禁禁禁禁禁禁禁", [(0, 3, "SYMPTOM")]),
]


@pytest.mark.parametrize("strategy,token_prob,expected", [
    ("entity", 0.15, [[7, 8, 9, 10], [1, 2, 3]]),
    ("entity_token", 0.0, [[7, 8, 9, 10], [1, 2, 3]]),
    # non-entity tokens are outside the budget: 禁 is masked on top of a full cap
    ("entity_token", 1.0, [[6, 7, 8, 9, 10], list(range(1, 11))]),
])
def test_budget_fills_the_cap_and_skips_units_that_do_not_fit(tmp_path, strategy, token_prob,
                                                              expected):
    seqs, masker, _ = setup(tmp_path, BUDGET_DOCS, mask_strategy=strategy, mask_prob=1.0,
                            mask_budget=0.4, token_prob=token_prob)
    assert masker.n_maskable.tolist() == [10, 10]
    for c in range(8):
        m = masker.copy(c)
        masked = [np.flatnonzero(m.labels[a:b] != IGNORE_LABEL).tolist()
                  for a, b in zip(seqs.offsets[:-1], seqs.offsets[1:])]
        assert masked == expected, c
        assert m.budget_limited.tolist() == [True, False]


def test_entity_token_masks_every_sequence(tmp_path, docs):
    seqs, masker, entities = setup(tmp_path, docs, mask_strategy="entity_token",
                                   mask_prob=0.5, token_prob=0.15)
    in_ent = covered(seqs, entities)
    maskable = ~np.isin(seqs.ids, np.arange(5))
    ms = [masker.copy(c) for c in range(5)]
    masked = np.stack([m.labels != IGNORE_LABEL for m in ms])
    outside = maskable & ~in_ent
    assert abs(masked[:, outside].mean() - 0.15) < 0.01
    assert abs(np.mean([(unit_masked_counts(seqs, entities, m) > 0).mean() for m in ms])
               - 0.5) < 0.02
    kinds = np.array(masker.kind_names)
    for m in ms:
        sel = m.labels != IGNORE_LABEL
        assert set(kinds[m.kind[sel & ~in_ent]]) == {"token"}
        assert "token" not in set(kinds[m.kind[sel & in_ent]])


def test_wwm_masks_whole_jieba_words(tmp_path, docs):
    seqs, masker, _ = setup(tmp_path, docs, mask_strategy="wwm", mask_prob=0.3)
    words = masker.units
    ms = [masker.copy(c) for c in range(4)]
    fractions = []
    for m in ms:
        counts = unit_masked_counts(seqs, words, m)
        assert ((counts == 0) | (counts == masker.unit_len)).all()
        fractions.append((counts > 0)[masker.unit_len > 0].mean())
        sel = m.labels != IGNORE_LABEL
        assert (m.labels[sel] == seqs.ids[sel]).all()
    assert abs(np.mean(fractions) - 0.3) < 0.02
    partial = [(0 < c) & (c < n) for c, n in zip(
        np.add.reduceat((ms[0].labels != IGNORE_LABEL).astype(int), seqs.offsets[:-1]),
        masker.n_maskable)]
    assert np.mean(partial) > 0.9  # words, not whole sequences


def test_collator_whole_word_mask_masks_whole_chinese_runs(tmp_path):
    """transformers' wwm finds words from char offsets: a Chinese run is one 'word'."""
    from transformers import DataCollatorForLanguageModeling

    from dapt.data.tokenizer_io import train_scratch_tokenizer

    texts = ["孕妇禁用，活血调经，用于血瘀所致的月经不调"] * 20
    texts += ["儿童忌食生冷食物，症见头痛恶心"] * 20
    tok = train_scratch_tokenizer(texts, 300, 1)
    enc = [dict(tok(t, return_offsets_mapping=True, return_special_tokens_mask=True))
           for t in texts]
    with pytest.warns(UserWarning):
        collator = DataCollatorForLanguageModeling(tok, whole_word_mask=True,
                                                   mlm_probability=0.3, seed=0)
    got = []
    for batch in (enc[:20], enc[20:]):  # equal lengths within a batch: no padding
        got += (collator(batch)["labels"] != IGNORE_LABEL).sum(1).tolist()
    assert all(g in (0, len(t)) for g, t in zip(got, texts))  # all or nothing per sequence
    assert any(g == len(t) for g, t in zip(got, texts))
    # ours: jieba words, so sequences are partly masked
    docs = [("unlabeled", t, []) for t in texts]
    seqs, masker, _ = setup(tmp_path, docs, mask_strategy="wwm", mask_prob=0.3)
    labelled = masker.copy(0).labels != IGNORE_LABEL
    per_row = np.add.reduceat(labelled.astype(int), seqs.offsets[:-1])
    assert ((per_row > 0) & (per_row < masker.n_maskable)).mean() > 0.8


def test_span_lengths_and_counts(tmp_path, docs):
    u = np.random.default_rng(0).random(200_000)
    lengths = np.array([span_length(x, 0.2, 10) for x in u.tolist()])
    q = 0.8
    expect = sum(k * 0.2 * q ** (k - 1) for k in range(1, 11)) / (1 - q**10)
    assert lengths.min() == 1 and lengths.max() == 10
    assert abs(lengths.mean() - expect) < 0.02 and abs(expect - 3.8) < 0.05
    spans = draw_spans(np.random.default_rng(1), 10_000, 1_500, 0.2, 10)
    assert sum(b - a for a, b in spans) == 1_500
    assert all(a2 >= b1 for (_, b1), (a2, _) in zip(spans, spans[1:]))
    assert abs(np.mean([b - a for a, b in spans]) - expect) < 0.3

    seqs, masker, _ = setup(tmp_path, docs, mask_strategy="span", mask_prob=0.2)
    m = masker.copy(0)
    per_row = np.add.reduceat((m.labels != IGNORE_LABEL).astype(int), seqs.offsets[:-1])
    assert (per_row == np.ceil(0.2 * masker.n_maskable - 1e-9)).all()
    assert set(np.array(masker.kind_names)[m.kind[m.labels != IGNORE_LABEL]]) == {"span"}


# --- determinism ------------------------------------------------------------------------


def test_masks_do_not_depend_on_row_order_or_subset(tmp_path, docs):
    path, cv = write_mlm(tmp_path, docs)
    table = pq.read_table(path)
    perm = np.random.default_rng(3).permutation(table.num_rows)
    pq.write_table(table.take(perm), tmp_path / "shuffled.parquet")
    pq.write_table(table.take(perm[:50]), tmp_path / "subset.parquet")

    def by_seq(p, strategy):
        seqs = read_sequences(p)
        gold, _ = gold_units(seqs)
        ents = Units.concat(gold, lexicon_units(seqs, build_lexicon(seqs, 2, "majority")))
        cfg = MaskConfig.from_params(params(mask_strategy=strategy))
        m = Masker(seqs, cfg, cv.vocab_info(), ents).copy(1)
        return {int(s): m.input_ids[seqs.offsets[i]:seqs.offsets[i + 1]].tolist()
                for i, s in enumerate(seqs.seq_id)}

    for strategy in ("entity", "span", "token"):
        a, b = by_seq(path, strategy), by_seq(tmp_path / "shuffled.parquet", strategy)
        assert a == b
    full = by_seq(path, "token")
    assert all(full[k] == ids for k, ids in by_seq(tmp_path / "subset.parquet", "token").items())


def stage_input(tmp_path: Path, docs) -> Path:
    """mlm.parquet and a scratch tokenizer (models/tokenizer stand-in) that agree on ids."""
    from dapt.data.tokenizer_io import train_scratch_tokenizer

    tok = train_scratch_tokenizer([t for _, t, _ in docs], 500, 1)
    tok.save_pretrained(tmp_path / "tokenizer")
    pq.write_table(mlm_table(docs, tok.get_vocab()), tmp_path / "mlm.parquet")
    return tmp_path / "mlm.parquet"


def stage_files(tmp_path: Path, mlm: Path, name: str, units: str | None = None,
                dev: str | None = None, **over) -> tuple[bytes, bytes, dict]:
    out = tmp_path / name
    metrics = run(params(**over), Paths(mlm=str(mlm), tokenizer=str(tmp_path / "tokenizer"),
                                        units=units, dev=dev, out=str(out),
                                        metrics=str(out / "masking.json")))
    return (out / "train.parquet").read_bytes(), (out / "eval.parquet").read_bytes(), metrics


def test_stage_outputs_are_byte_identical_and_seeded(tmp_path, docs):
    mlm = stage_input(tmp_path, docs[:120])
    a = stage_files(tmp_path, mlm, "a")
    b = stage_files(tmp_path, mlm, "b")
    assert a[:2] == b[:2]
    c = stage_files(tmp_path, mlm, "c", seed=7)
    assert c[0] != a[0] and c[1] != a[1]
    train = pq.read_table(tmp_path / "a" / "train.parquet")
    held = pq.read_table(tmp_path / "a" / "eval.parquet")
    assert train.schema == MASKED_SCHEMA and held.schema == MASKED_SCHEMA
    assert train.num_rows == 116 * 3 and held.num_rows == 4
    assert set(held["copy"].to_pylist()) == {0}
    assert not set(held["seq_id"].to_pylist()) & set(train["seq_id"].to_pylist())
    assert train["copy"].to_pylist() == sorted(train["copy"].to_pylist())
    # docs[:120] are all train documents: the lexicon holds each distinct gold surface (all
    # >= 2 characters, one type each) and matches nothing, as only non-train text is searched
    surfaces = {text[s:e] for _, text, ents in docs[:120] for s, e, _ in ents}
    assert (a[2]["lexicon_size"], a[2]["lexicon_matches"]) == (len(surfaces), 0)
    expected = expected_stats(docs, train.to_pylist())
    assert {k: a[2][k] for k in expected} == expected
    assert expected["masked_in_entity_share"] == 1.0 and expected["copies"] == 3
    # the eval slice is drawn with mask.eval_seed, so a seed sweep keeps it
    assert pq.read_table(tmp_path / "c" / "eval.parquet")["seq_id"] == held["seq_id"]


def test_in_entity_is_reported_for_every_strategy(tmp_path, docs):
    mlm = stage_input(tmp_path, docs[:60])
    *_, metrics = stage_files(tmp_path, mlm, "tok", mask_strategy="token", mask_prob=0.15)
    rows = pq.read_table(tmp_path / "tok" / "train.parquet").to_pylist()
    assert any(any(r["in_entity"]) for r in rows)
    expected = expected_stats(docs, rows)
    assert {k: metrics[k] for k in expected} == expected
    assert 0 < expected["masked_in_entity_share"] < 1  # token masking hits both
    for r in rows:
        masked = [lab != IGNORE_LABEL for lab in r["labels"]]
        assert masked == [u >= 0 for u in r["mask_unit"]]
        assert masked == [k is not None for k in r["mask_kind"]]
        assert not masked[0] and not masked[-1]


def test_corpus_without_entities_and_empty_eval(tmp_path):
    docs = [("unlabeled", text, []) for _, text, _ in synth_docs(30, seed=4)]
    mlm = stage_input(tmp_path, docs)
    *_, m = stage_files(tmp_path, mlm, "none", eval_sequences=0)
    assert m["lexicon_size"] == 0 and m["mask_rate"] == 0.0 and m["no_mask_sequences"] == 90
    assert m["eval"]["sequences"] == 0
    assert pq.read_table(tmp_path / "none" / "eval.parquet").num_rows == 0


def test_bad_input_fails_clearly(tmp_path):
    docs = [("train", "孕妇禁用", [(0, 2, "PERSON_GROUP")])]
    table = mlm_table(docs, CharVocab(["孕妇禁用"]).vocab)
    table = table.set_column(9, "entity_end", pa.array([[9]], pa.list_(pa.int32())))
    pq.write_table(table, tmp_path / "m.parquet")
    with pytest.raises(ValueError, match="seq_id 0: an entity span lies outside"):
        read_sequences(tmp_path / "m.parquet")


def test_more_held_out_sequences_than_data_fail_clearly():
    # Value ranges of the params are the schema's (tests/test_params.py); this bound
    # depends on the data.
    with pytest.raises(ValueError, match="eval_sequences"):
        held_out_rows(10, 10, 0)
    assert math.isclose(held_out_rows(100, 5, 0).size, 5)


def test_cli_help():
    out = subprocess.run([sys.executable, "-m", "stages.mask_annotate", "--help"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert "--mlm" in out and "mask_kind" in out
