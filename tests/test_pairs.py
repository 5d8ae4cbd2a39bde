"""Sentence pairs of the pair objectives (``pretrain.pair_task``): layout, draw and storage."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from dapt.data.contracts import IGNORE_LABEL
from dapt.data.windows import SENTENCE_ENDS
from dapt.masking.pairs import lay_out, pair_layout, sentence_cuts
from dapt.masking.sequences import read_sequences
from tests.test_masking import stage_files, stage_input, synth_docs, write_mlm


@pytest.fixture(scope="module")
def seqs(tmp_path_factory):
    path, _ = write_mlm(tmp_path_factory.mktemp("pairs"), synth_docs(400, seed=3))
    return read_sequences(path)


def rows_of(layout):
    """(gather indices, token types, label) of every laid-out row."""
    for i in range(len(layout.seq_id)):
        lo, hi = int(layout.offsets[i]), int(layout.offsets[i + 1])
        yield layout.idx[lo:hi], layout.token_type[lo:hi], int(layout.pair_label[i])


def row_of_index(seqs, flat: np.ndarray) -> np.ndarray:
    return np.searchsorted(seqs.offsets, flat, side="right") - 1


def segments(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sep = int(np.flatnonzero(idx == -1)[0])
    return idx[1:sep], idx[sep + 1 : -1]


def test_cuts_fall_after_sentence_ends_and_leave_two_parts(seqs):
    cuts = sentence_cuts(seqs)
    assert sum(len(c) for c in cuts) > len(seqs)  # synthetic leaflets have several sentences
    for r, ks in enumerate(cuts):
        n = int(seqs.lengths[r])
        for k in ks.tolist():
            assert 2 <= k <= n - 2
            prev = int(seqs.offsets[r]) + k - 1  # the token before the cut
            lo = int(seqs.char_start[prev] - seqs.text_start[r])
            hi = int(seqs.char_start[prev + 1] - seqs.text_start[r])
            assert any(c in SENTENCE_ENDS for c in seqs.text[r][lo:hi])


def test_sop_pairs_are_consecutive_and_half_are_swapped(seqs):
    cuts = sentence_cuts(seqs)
    rows = np.arange(len(seqs))
    labels = []
    for copy in range(3):
        layout, stats = pair_layout(seqs, rows, cuts, "sop", seed=5, copy=copy, max_len=512)
        assert stats.trimmed_tokens == 0 and stats.paired + (stats.rows - stats.paired) == len(rows)
        for (idx, types, label), r in zip(rows_of(layout), rows.tolist()):
            first, last = int(seqs.offsets[r]), int(seqs.offsets[r + 1]) - 1
            assert idx[0] == first and idx[-1] == last  # the row's own [CLS] and [SEP]
            if label == IGNORE_LABEL:
                assert not len(cuts[r]) and (idx == np.arange(first, last + 1)).all()
                continue
            a, b = segments(idx)
            assert len(a) and len(b)
            assert (row_of_index(seqs, np.concatenate([a, b])) == r).all()  # one document
            before, after = (b, a) if label else (a, b)  # label 1: the order is swapped
            assert (np.diff(np.concatenate([before, after])) == 1).all()  # consecutive
            assert int(after[0]) - first in cuts[r].tolist()  # cut at a sentence end
            sep = len(a) + 1
            assert (types[: sep + 1] == 0).all() and (types[sep + 1 :] == 1).all()
            labels.append(label)
    assert abs(np.mean(labels) - 0.5) < 0.04, np.mean(labels)


def test_nsp_partners_come_from_another_document_of_the_same_partition(seqs):
    cuts = sentence_cuts(seqs)
    rows = np.arange(0, len(seqs), 2)  # a partition: partners must come from it
    layout, stats = pair_layout(seqs, rows, cuts, "nsp", seed=5, copy=0, max_len=512)
    assert stats.no_partner == 0 and abs(stats.positive / stats.paired - 0.5) < 0.08
    for (idx, _, label), r in zip(rows_of(layout), rows.tolist()):
        if label == IGNORE_LABEL:
            continue
        a, b = segments(idx)
        assert (row_of_index(seqs, a) == r).all()
        partner = set(row_of_index(seqs, b).tolist())
        assert len(partner) == 1
        partner = partner.pop()
        if label == 0:  # the true continuation
            assert partner == r and int(b[0]) == int(a[-1]) + 1
        else:
            assert partner in set(rows.tolist()) and seqs.doc_id[partner] != seqs.doc_id[r]
            start = int(b[0]) - int(seqs.offsets[partner])
            assert start == 1 or start in cuts[partner].tolist()  # from a sentence start


def test_draw_is_seeded_per_sequence_and_copy(seqs):
    cuts = sentence_cuts(seqs)
    rows = np.arange(len(seqs))

    def draw(seed, copy, part=rows):
        return pair_layout(seqs, part, cuts, "sop", seed, copy, 512)[0]

    a, b = draw(1, 0), draw(1, 0)
    assert (a.idx == b.idx).all() and (a.pair_label == b.pair_label).all()
    assert (a.pair_label != draw(1, 1).pair_label).any()
    assert (a.pair_label != draw(2, 0).pair_label).any()
    # a sequence's pair does not depend on the other rows of its partition (SOP has none)
    sub = rows[::3]
    assert (draw(1, 0, sub).pair_label == a.pair_label[sub]).all()


def test_long_pairs_are_trimmed_at_their_outer_ends(seqs):
    cuts = sentence_cuts(seqs)
    rows = np.arange(len(seqs))
    max_len = int(seqs.lengths.max()) - 10
    for task in ("sop", "nsp"):
        layout, stats = pair_layout(seqs, rows, cuts, task, 1, 0, max_len)
        assert stats.trimmed_tokens > 0
        for idx, _, label in rows_of(layout):
            if label == IGNORE_LABEL:  # as tokenize made it (<= max_len in a real pipeline)
                continue
            assert len(idx) <= max_len
            if label == 0:  # the junction is intact: A's last token precedes B's first
                a, b = segments(idx)
                assert int(b[0]) == int(a[-1]) + 1


def test_one_sentence_sequences_are_counted_not_dropped(tmp_path):
    docs = [("train", "本品口服一次两次每日", []), ("train", "用于头痛。禁用孕妇。忌食生冷。", [])]
    path, _ = write_mlm(tmp_path, docs)
    seqs = read_sequences(path)
    layouts, info = lay_out(seqs, np.arange(2), np.arange(0), "sop", 1, 64, copies=2)
    assert info["rows"] == 4 and info["unpaired"] == 2 and info["unpaired_share"] == 0.5
    assert len(layouts) == 3 and all(len(lay.seq_id) == 2 for lay in layouts[:2])
    assert (layouts[0].pair_label[0] == IGNORE_LABEL) and layouts[0].pair_label[1] in (0, 1)


def test_stage_stores_pairs_byte_identically_with_the_masks(tmp_path):
    mlm = stage_input(tmp_path, synth_docs(150, seed=4))
    plain = stage_files(tmp_path, mlm, "plain")
    a = stage_files(tmp_path, mlm, "a", pair_task="sop")
    b = stage_files(tmp_path, mlm, "b", pair_task="sop")
    assert a[:2] == b[:2] and a[:2] != plain[:2]
    assert stage_files(tmp_path, mlm, "c", pair_task="sop", seed=7)[:2] != a[:2]
    pairs = a[2]["pairs"]
    assert pairs["task"] == "sop" and pairs["rows"] == 3 * (150 - 4) and pairs["paired"] > 0
    table = pq.read_table(tmp_path / "a" / "train.parquet").to_pylist()
    base = {(r["seq_id"], r["copy"]): r for r in
            pq.read_table(tmp_path / "plain" / "train.parquet").to_pylist()}
    for row in table:
        assert len(row["token_type_ids"]) == len(row["input_ids"]) == len(row["labels"])
        same = base[(row["seq_id"], row["copy"])]
        # SOP moves a copy's tokens, with their masks: the masked multiset is unchanged
        key = sorted((t, lab) for t, lab in zip(same["input_ids"], same["labels"]))
        sep = max(same["input_ids"][-1], 0)
        extra = sorted(key + [(sep, IGNORE_LABEL)]) if row["pair_label"] != IGNORE_LABEL else key
        assert sorted(zip(row["input_ids"], row["labels"])) == extra
    assert a[2]["mask_mode"] == "static" and "pairs" not in plain[2]
