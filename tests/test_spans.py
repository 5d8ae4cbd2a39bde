"""Strict span scorer on hand-made cases: exact, boundary-off, wrong type, duplicates."""

from __future__ import annotations

import json
import math

import pytest

from dapt.ner.scoring import Span, classify_errors, score_spans, type_confusion


def S(start: int, end: int, etype: str = "SYMPTOM", doc: str = "d1") -> Span:
    return Span(doc, start, end, etype)


def test_exact_match_is_perfect():
    gold = [S(0, 2), S(5, 9, "DRUG")]
    r = score_spans(gold, list(gold))
    assert (r["precision"], r["recall"], r["f1"], r["macro_f1"]) == (1.0, 1.0, 1.0, 1.0)
    assert r["per_type"]["DRUG"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert sum(r["errors"].values()) == 0
    assert r["boundary_error_share"] == r["type_error_share"] == 0.0


@pytest.mark.parametrize("pred", [S(0, 4), S(2, 4), S(1, 3), S(1, 5), S(0, 5)])
def test_boundary_off_by_one_scores_zero(pred):
    r = score_spans([S(1, 4)], [pred])
    assert (r["precision"], r["recall"], r["f1"]) == (0.0, 0.0, 0.0)
    assert r["errors"]["boundary"] == 1 and r["errors"]["missed"] == 0
    assert r["boundary_error_share"] == 1.0 and r["type_error_share"] == 0.0


def test_wrong_type_scores_zero_and_is_a_type_error():
    r = score_spans([S(1, 4, "SYMPTOM")], [S(1, 4, "DISEASE")])
    assert r["f1"] == 0.0
    assert r["errors"] == {"type": 1, "boundary": 0, "boundary_and_type": 0,
                           "spurious": 0, "missed": 0}
    assert r["type_error_share"] == 1.0
    assert r["per_type"]["DISEASE"]["support"] == 0
    assert r["macro_f1"] == 0.0  # DISEASE has no support: not in the macro average


def test_duplicates_count_once():
    gold = [S(0, 2), S(0, 2), S(4, 6)]
    pred = [S(0, 2), S(0, 2), S(0, 2), S(7, 8)]
    r = score_spans(gold, pred)
    assert r["support"] == 2 and r["predicted"] == 2
    assert r["precision"] == 0.5 and r["recall"] == 0.5


def test_same_offsets_in_other_document_do_not_match():
    r = score_spans([S(0, 2, doc="a")], [S(0, 2, doc="b")])
    assert r["f1"] == 0.0 and r["errors"]["spurious"] == 1 and r["errors"]["missed"] == 1


@pytest.mark.parametrize("gold,pred", [([], []), ([S(0, 1)], []), ([], [S(0, 1)])])
def test_empty_sides_give_zeros_not_nan(gold, pred):
    r = score_spans(gold, pred)
    for key in ("precision", "recall", "f1", "macro_f1", "boundary_error_share",
                "type_error_share"):
        assert r[key] == 0.0 and not math.isnan(r[key])
    json.dumps(r, allow_nan=False)


def test_micro_and_macro_over_supported_types():
    gold = [S(0, 2, "A"), S(3, 5, "A"), S(6, 8, "A"), S(10, 12, "B")]
    pred = [S(0, 2, "A"), S(3, 5, "A"), S(6, 8, "A"), S(20, 22, "C")]
    r = score_spans(gold, pred)
    assert r["precision"] == 0.75 and r["recall"] == 0.75
    assert r["per_type"]["A"]["f1"] == 1.0 and r["per_type"]["B"]["f1"] == 0.0
    assert r["per_type"]["C"]["support"] == 0
    assert r["macro_f1"] == 0.5  # mean over A and B; C (no gold) is left out
    assert {t: v["support"] for t, v in r["per_type"].items()} == {"A": 3, "B": 1, "C": 0}


def test_error_kinds():
    gold = {S(0, 4, "A"), S(10, 14, "A"), S(20, 24, "A"), S(30, 34, "A"), S(40, 44, "A")}
    pred = {
        S(0, 4, "B"),    # type
        S(10, 13, "A"),  # boundary
        S(21, 25, "B"),  # boundary_and_type
        S(50, 52, "A"),  # spurious
        S(40, 44, "A"),  # correct
    }                    # gold 30-34 is missed
    assert classify_errors(gold, pred) == {
        "type": 1, "boundary": 1, "boundary_and_type": 1, "spurious": 1, "missed": 1}
    r = score_spans(gold, pred)
    assert r["boundary_error_share"] == 2 / 5 and r["type_error_share"] == 1 / 5


def test_spans_that_only_touch_do_not_overlap():
    # end is exclusive: 0-4 and 8-10 touch gold 4-8 without sharing a character
    gold = {S(4, 8)}
    pred = {S(0, 4), S(8, 10)}
    assert classify_errors(gold, pred) == {
        "type": 0, "boundary": 0, "boundary_and_type": 0, "spurious": 2, "missed": 1}
    assert score_spans(gold, pred)["boundary_error_share"] == 0.0


def test_fragmented_prediction_counts_each_fragment():
    r = score_spans([S(0, 6)], [S(0, 3), S(3, 6)])
    assert r["errors"]["boundary"] == 2 and r["errors"]["missed"] == 0


def test_false_negative_overlapped_only_by_a_true_positive_is_missed():
    # Overlapping gold spans (possible through score_spans' API, not from the readers).
    gold = {S(0, 4), S(2, 6)}
    r = score_spans(gold, {S(0, 4)})
    assert r["errors"]["missed"] == 1 and sum(r["errors"].values()) == 1


def test_type_confusion_one_row_per_boundary_matched_span():
    gold = {S(0, 2, "A"), S(3, 5, "A"), S(6, 8, "B"), S(10, 12, "B"), S(0, 2, "A", doc="d2")}
    pred = {S(0, 2, "A"), S(3, 5, "B"), S(6, 8, "B"), S(10, 11, "B"), S(0, 2, "C", doc="d2"),
            S(20, 22, "A")}
    assert type_confusion(gold, pred) == [
        {"actual": "A", "predicted": "A"},
        {"actual": "A", "predicted": "B"},
        {"actual": "A", "predicted": "C"},
        {"actual": "B", "predicted": "B"},
    ]
