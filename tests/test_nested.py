"""The data.nested policies that make nested and crossing spans flat."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dapt.data.documents import Document, Entity
from dapt.data.formats.registry import read_documents
from dapt.data.nested import ORDER, POLICIES, conflict_reason, overlaps, resolve, resolve_sources
from dapt.data.readers import InputError, ReadReport, SourceDoc

TEXT = "川贝枇杷糖浆用于咳嗽痰黄糖尿病患者慎用"


def span(start, end, etype):
    return Entity(start, end, etype, TEXT[start:end])


def spans_of(entities):
    return [(e.start, e.end, e.type) for e in entities]


DRUG = span(0, 6, "DRUG")  # 川贝枇杷糖浆
INGREDIENT = span(0, 2, "DRUG_INGREDIENT")  # 川贝, nested in DRUG
CROSS_A = span(8, 11, "SYMPTOM")  # 咳嗽痰: starts first, shorter
CROSS_B = span(9, 15, "DISEASE")  # 嗽痰黄糖尿病: longer


@pytest.mark.parametrize("policy, kept, dropped", [
    ("outermost", [DRUG], [INGREDIENT]),
    ("innermost", [INGREDIENT], [DRUG]),
    ("longest_first", [DRUG], [INGREDIENT]),
    ("error", [DRUG], [INGREDIENT]),
])
def test_nested_span(policy, kept, dropped):
    result = resolve([INGREDIENT, DRUG], policy)
    assert (result.kept, result.dropped) == (kept, dropped)
    assert result.conflicts == {dropped[0]: kept[0]} and result.duplicates == 0


@pytest.mark.parametrize("policy, kept, dropped", [
    ("outermost", CROSS_A, CROSS_B),  # starts first
    ("innermost", CROSS_A, CROSS_B),  # shorter
    ("longest_first", CROSS_B, CROSS_A),  # longer
    ("error", CROSS_A, CROSS_B),
])
def test_crossing_spans(policy, kept, dropped):
    result = resolve([CROSS_B, CROSS_A], policy)
    assert (result.kept, result.dropped) == ([kept], [dropped])
    assert result.conflicts == {dropped: kept}


@pytest.mark.parametrize("policy", POLICIES)
def test_crossing_spans_of_one_length_keep_the_first(policy):
    first, second = span(8, 11, "SYMPTOM"), span(10, 13, "DISEASE")
    result = resolve([second, first], policy)
    assert (result.kept, result.dropped) == ([first], [second])


@pytest.mark.parametrize("policy", POLICIES)
def test_crossing_chain_keeps_both_ends(policy):
    a, b, c = span(0, 3, "X"), span(2, 5, "X"), span(4, 7, "X")
    result = resolve([c, b, a], policy)
    assert (result.kept, result.dropped) == ([a, c], [b])


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("order", [1, -1])
def test_same_span_two_types_keeps_the_type_that_sorts_first(policy, order):
    symptom, disease = span(12, 15, "SYMPTOM"), span(12, 15, "DISEASE")
    result = resolve([symptom, disease][::order], policy)
    assert (result.kept, result.dropped) == ([disease], [symptom])


@pytest.mark.parametrize("policy", POLICIES)
def test_duplicates_are_one_span_and_counted(policy):
    result = resolve([DRUG, DRUG, INGREDIENT, DRUG], policy)
    assert result.duplicates == 2
    assert sorted(result.kept + result.dropped) == [INGREDIENT, DRUG]


def test_flat_spans_are_all_kept_sorted():
    a, b, c = span(6, 8, "X"), span(0, 2, "Y"), span(2, 4, "X")  # adjacent, not overlapping
    for policy in POLICIES:
        result = resolve([a, b, c], policy)
        assert (result.kept, result.dropped, result.duplicates) == ([b, c, a], [], 0)


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="unknown nested policy 'widest'"):
        resolve([DRUG], "widest")


@pytest.mark.parametrize("dropped, kept, reason", [
    (INGREDIENT, DRUG, "span 0-2 (DRUG_INGREDIENT) nested in 0-6 (DRUG)"),
    (DRUG, INGREDIENT, "span 0-6 (DRUG) encloses 0-2 (DRUG_INGREDIENT)"),
    (CROSS_B, CROSS_A, "span 9-15 (DISEASE) crosses 8-11 (SYMPTOM)"),
    (span(8, 11, "X"), CROSS_A, "span 8-11 (X) same span as 8-11 (SYMPTOM)"),
])
def test_conflict_reason(dropped, kept, reason):
    assert conflict_reason(dropped, kept) == reason


def source(entities, lines, file="a.ann", doc_id="1"):
    return SourceDoc(Document(doc_id, TEXT, list(entities)), file, 1, list(lines))


def test_resolve_sources_moves_dropped_spans_to_nested_and_counts_them():
    report = ReadReport()
    docs = resolve_sources([
        source([DRUG, INGREDIENT, CROSS_A, CROSS_A], [1, 2, 3, 4]),
        source([CROSS_A], [1], doc_id="2"),
    ], "outermost", report)
    assert [(d.id, d.entities, d.nested) for d in docs] == [
        ("1", [DRUG, CROSS_A], [INGREDIENT]), ("2", [CROSS_A], [])]
    assert docs[0].full_gold == [INGREDIENT, DRUG, CROSS_A]
    assert report.nested == {"DRUG_INGREDIENT": 1} and report.nested_documents == 1
    assert report.ignored == {"duplicate_spans": 1} and report.skipped == []


def test_resolve_sources_without_duplicates_leaves_no_counter_key():
    report = ReadReport()
    resolve_sources([source([DRUG], [1])], "innermost", report)
    assert "duplicate_spans" not in report.ignored


@pytest.mark.parametrize("entities, lines, message", [
    ([DRUG, INGREDIENT], [3, 7], "a.ann:7: span 0-2 (DRUG_INGREDIENT) nested in 0-6 (DRUG)"),
    ([CROSS_B, CROSS_A], [2, 5], "a.ann:2: span 9-15 (DISEASE) crosses 8-11 (SYMPTOM)"),
    ([DRUG, INGREDIENT], [None, None], "a.ann: span 0-2"),
])
def test_error_policy_raises_at_the_dropped_span_line(entities, lines, message):
    with pytest.raises(InputError, match=f"^{re.escape(message)}.*data.nested: error"):
        resolve_sources([source(entities, lines)], "error", ReadReport())


def test_error_policy_accepts_flat_spans_and_duplicates():
    report = ReadReport()
    [doc] = resolve_sources([source([CROSS_A, DRUG, CROSS_A], [1, 2, 3])], "error", report)
    assert doc.entities == [DRUG, CROSS_A] and doc.nested == []
    assert report.ignored["duplicate_spans"] == 1


def test_error_policy_names_the_line_of_a_json_record(tmp_path):
    path = tmp_path / "train.json"
    lines = ['{"text": "甲乙丙", "label": {"X": {"甲": [[0, 0]]}}}',
             '{"text": "川贝枇杷糖浆", "label": {"DRUG": {"川贝枇杷糖浆": [[0, 5]]}, '
             '"DRUG_INGREDIENT": {"川贝": [[0, 1]]}}}']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"train\.json:2: span 0-2 \(DRUG_INGREDIENT\) nested"):
        read_documents(path, ReadReport(), fmt="cluener", nested="error")
    docs, _ = read_documents(path, ReadReport(), fmt="cluener", nested="innermost")
    assert [spans_of(d.entities) for d in docs] == [[(0, 1, "X")], [(0, 2, "DRUG_INGREDIENT")]]
    assert spans_of(docs[1].nested) == [(0, 6, "DRUG")]


# --- properties ---------------------------------------------------------------------------

N = len(TEXT)
TYPES = ["A", "B", "C"]


@st.composite
def entity(draw):
    start = draw(st.integers(0, N - 1))
    end = draw(st.integers(start + 1, min(N, start + 8)))
    return span(start, end, draw(st.sampled_from(TYPES)))


ENTITIES = st.lists(entity(), max_size=12)
PROPERTY = settings(max_examples=150, deadline=None, database=None, derandomize=True)


@PROPERTY
@given(entities=ENTITIES, policy=st.sampled_from(POLICIES))
def test_resolve_properties(entities, policy):
    result = resolve(entities, policy)
    kept, dropped = result.kept, result.dropped
    assert kept == sorted(kept) and dropped == sorted(dropped)
    assert not any(overlaps(a, b) for i, a in enumerate(kept) for b in kept[i + 1:])
    assert not set(kept) & set(dropped)
    assert len(kept) + len(dropped) == len(set(entities))
    assert set(kept) | set(dropped) == set(entities)
    assert result.duplicates == len(entities) - len(set(entities))
    assert set(result.conflicts) == set(dropped)
    key = ORDER[policy]
    for d, k in result.conflicts.items():
        assert k in kept and overlaps(d, k) and key(k) < key(d)
    if entities:  # the span the policy orders first is always kept
        assert min(set(entities), key=key) in kept


@PROPERTY
@given(entities=ENTITIES, policy=st.sampled_from(POLICIES), data=st.data())
def test_resolve_does_not_depend_on_the_input_order(entities, policy, data):
    shuffled = data.draw(st.permutations(entities))
    assert resolve(shuffled, policy) == resolve(entities, policy)


@PROPERTY
@given(entities=ENTITIES)
def test_policy_specific_properties(entities):
    outer, inner, longest = (resolve(entities, p) for p in ("outermost", "innermost",
                                                           "longest_first"))
    assert resolve(entities, "error") == outer

    def length(e):
        return e.end - e.start

    for d, k in outer.conflicts.items():  # the span that starts first wins, then the longer
        assert (k.start, -k.end, k.type) < (d.start, -d.end, d.type)
    for d, k in inner.conflicts.items():  # the shorter span wins, then the one first
        assert (length(k), k.start, k.type) < (length(d), d.start, d.type)
    for d, k in longest.conflicts.items():  # the longer span wins, then the one first
        assert (-length(k), k.start, k.type) < (-length(d), d.start, d.type)
    for k in inner.kept:  # innermost never keeps a span around a dropped one
        assert not any(k.start <= d.start and d.end <= k.end and (k.start, k.end) !=
                       (d.start, d.end) for d in inner.dropped)


def crosses(a, b):
    return overlaps(a, b) and not (a.start <= b.start and b.end <= a.end) \
        and not (b.start <= a.start and a.end <= b.end)


@PROPERTY
@given(entities=ENTITIES)
def test_nesting_without_crossing_keeps_the_outermost_or_innermost_spans(entities):
    laminar = []
    for e in entities:
        if not any(crosses(e, other) for other in laminar):
            laminar.append(e)
    positions = {(e.start, e.end) for e in laminar}

    def inside(a, b):  # a strictly inside b
        return b[0] <= a[0] and a[1] <= b[1] and a != b

    maximal = {p for p in positions if not any(inside(p, q) for q in positions)}
    minimal = {p for p in positions if not any(inside(q, p) for q in positions)}
    for policy, wanted in (("outermost", maximal), ("longest_first", maximal),
                           ("innermost", minimal)):
        kept = resolve(laminar, policy).kept
        assert [(e.start, e.end) for e in kept] == sorted(wanted)
        for e in kept:  # of one span's types, the first sorted
            assert e.type == min(o.type for o in laminar if (o.start, o.end) == (e.start, e.end))
