"""Strict P/R/F1 on cases where precision and recall differ, so a swap or a wrong mean shows."""

from __future__ import annotations

import pytest

from dapt.ner.scoring import Span, prf, score_spans

GOLD = Span("d1", 0, 2, "SYMPTOM")
SPURIOUS = Span("d1", 5, 7, "SYMPTOM")  # overlaps no gold span
OTHER_GOLD = Span("d2", 3, 6, "SYMPTOM")


def test_prf_by_hand():
    """1 hit, 3 false positives, 0 misses: P 1/4, R 1, F1 2PR/(P+R) = 0.4 (not the mean)."""
    r = prf(1, 3, 0)
    assert (r["precision"], r["recall"]) == (0.25, 1.0)
    assert r["f1"] == pytest.approx(0.4)
    r = prf(1, 0, 3)  # mirrored: 3 misses
    assert (r["precision"], r["recall"]) == (1.0, 0.25)
    assert r["f1"] == pytest.approx(0.4)


def test_one_gold_span_found_plus_one_spurious():
    """Gold span predicted plus a spurious span: P 1/2, R 1, F1 2/3, one spurious error."""
    r = score_spans([GOLD], [GOLD, SPURIOUS])
    assert (r["precision"], r["recall"]) == (0.5, 1.0)
    assert r["f1"] == pytest.approx(2 / 3) and r["macro_f1"] == pytest.approx(2 / 3)
    assert r["per_type"]["SYMPTOM"] == {"precision": 0.5, "recall": 1.0,
                                        "f1": pytest.approx(2 / 3), "support": 1}
    assert (r["support"], r["predicted"]) == (1, 2)
    assert r["errors"] == {"type": 0, "boundary": 0, "boundary_and_type": 0, "spurious": 1,
                           "missed": 0}


def test_one_of_two_gold_spans_found():
    """Two gold spans, one predicted: P 1, R 1/2, F1 2/3, one missed span."""
    r = score_spans([GOLD, OTHER_GOLD], [GOLD])
    assert (r["precision"], r["recall"]) == (1.0, 0.5)
    assert r["f1"] == pytest.approx(2 / 3)
    assert r["per_type"]["SYMPTOM"] == {"precision": 1.0, "recall": 0.5,
                                        "f1": pytest.approx(2 / 3), "support": 2}
    assert r["errors"]["missed"] == 1 and sum(r["errors"].values()) == 1


def test_macro_f1_averages_per_type_f1():
    """SYMPTOM P 1/2 R 1 (F1 2/3) and DRUG P 1 R 1/2 (F1 2/3) against micro P = R = 2/3;
    an unsupported predicted type (FOOD) counts in micro P but not in the macro mean."""
    drug = [Span("d3", 0, 2, "DRUG"), Span("d3", 4, 6, "DRUG")]
    food = Span("d4", 0, 1, "FOOD")
    r = score_spans([GOLD, *drug], [GOLD, SPURIOUS, drug[0], food])
    assert r["per_type"]["SYMPTOM"]["precision"] == 0.5
    assert r["per_type"]["DRUG"]["recall"] == 0.5
    assert r["per_type"]["FOOD"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert (r["precision"], r["recall"]) == (0.5, 2 / 3)  # 2 hits of 4 predicted, of 3 gold
    assert r["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))  # 4/7
    assert r["macro_f1"] == pytest.approx(2 / 3)
