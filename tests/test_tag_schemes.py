"""Tag schemes of token-per-line data: encode, decode (with repairs), detect, label names."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dapt.data.formats.tags import (
    SCHEMES,
    TagSchemeError,
    decode,
    detect,
    encode,
    label_names,
    split_tag,
)

# 0-3 "X", 3-4 "X" (adjacent, same type), 4-5 "Y" (adjacent, other type), 6-8 "X"
SPANS = [(0, 3, "X"), (3, 4, "X"), (4, 5, "Y"), (6, 8, "X")]
ENCODED = {
    "bio": ["B-X", "I-X", "I-X", "B-X", "B-Y", "O", "B-X", "I-X", "O"],
    "iob1": ["I-X", "I-X", "I-X", "B-X", "I-Y", "O", "I-X", "I-X", "O"],
    "bioes": ["B-X", "I-X", "E-X", "S-X", "S-Y", "O", "B-X", "E-X", "O"],
    "bmes": ["B-X", "M-X", "E-X", "S-X", "S-Y", "O", "B-X", "E-X", "O"],
}


@pytest.mark.parametrize("scheme", SCHEMES)
def test_encode_writes_each_scheme(scheme):
    assert encode(SPANS, 9, scheme) == ENCODED[scheme]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_decode_reads_each_scheme_back_without_problems(scheme):
    assert decode(ENCODED[scheme], scheme) == (SPANS, [])


@pytest.mark.parametrize("scheme", SCHEMES)
def test_encode_ignores_the_order_spans_come_in(scheme):
    assert encode(list(reversed(SPANS)), 9, scheme) == ENCODED[scheme]


@pytest.mark.parametrize("scheme, tags", [
    ("bio", ["B-X"]), ("iob1", ["I-X"]), ("bioes", ["S-X"]), ("bmes", ["S-X"])])
def test_single_token_span(scheme, tags):
    assert encode([(0, 1, "X")], 1, scheme) == tags
    assert decode(tags, scheme) == ([(0, 1, "X")], [])


@pytest.mark.parametrize("scheme", SCHEMES)
def test_no_spans_is_all_o(scheme):
    assert encode([], 3, scheme) == ["O", "O", "O"]
    assert decode(["O", "O", "O"], scheme) == ([], [])
    assert decode([], scheme) == ([], [])


@st.composite
def flat_spans(draw):
    """(n, non-overlapping token spans over n tokens), adjacent same-type spans included."""
    n = draw(st.integers(0, 12))
    cuts = sorted(draw(st.sets(st.integers(0, n), max_size=n + 1)))
    spans = []
    for start, end in zip(cuts, cuts[1:]):
        if draw(st.booleans()):
            spans.append((start, end, draw(st.sampled_from(["X", "Y", "LONG_TYPE"]))))
    return n, spans


@settings(max_examples=150, deadline=None, database=None)
@given(case=flat_spans(), scheme=st.sampled_from(SCHEMES))
def test_encode_then_decode_is_the_identity(case, scheme):
    n, spans = case
    tags = encode(spans, n, scheme)
    assert len(tags) == n
    assert decode(tags, scheme) == (spans, [])


@pytest.mark.parametrize("sequences, scheme", [
    ([["B-X", "I-X", "O"], ["O", "B-Y"]], "bio"),
    ([["B-X", "B-X"]], "bio"),
    ([["O", "O"]], "bio"),
    ([], "bio"),
    # a broken BIO file stays BIO: one entity starts with B- after something else
    ([["O", "I-X"], ["B-Y", "I-Y"]], "bio"),
    ([["I-X", "I-X", "O", "I-Y"]], "iob1"),
    ([["I-X", "B-X", "O"], ["I-Y"]], "iob1"),
    ([["B-X", "I-X", "E-X", "O"]], "bioes"),
    ([["S-X", "O"]], "bioes"),
    ([["B-X", "E-X"]], "bioes"),  # BMES without an M- reads the same as BIOES
    ([["B-X", "M-X", "E-X", "S-Y"]], "bmes"),
])
def test_detect_names_the_scheme(sequences, scheme):
    assert detect(sequences) == scheme


@pytest.mark.parametrize("scheme", SCHEMES)
def test_detect_finds_the_scheme_of_encoded_tags(scheme):
    assert detect([ENCODED[scheme]]) == scheme


@pytest.mark.parametrize("sequences, message", [
    ([["PER", "O"]], "'PER' is not O"),
    ([["B-X", "X-Y"]], "'X-Y' is not O"),
    ([["B-"]], "'B-' is not O"),
    ([["BI-X"]], "'BI-X' is not O"),
    ([["o"]], "'o' is not O"),
    ([["B-X", "M-X", "E-X"], ["B-Y", "I-Y"]], "both M- and I- tags"),
])
def test_detect_raises_on_tags_of_no_scheme(sequences, message):
    with pytest.raises(TagSchemeError, match=message):
        detect(sequences)


def test_split_tag():
    assert split_tag("O") == ("O", "")
    assert split_tag("B-DRUG_EFFICACY") == ("B", "DRUG_EFFICACY")
    assert split_tag("I-A-B") == ("I", "A-B")  # only the first dash separates
    with pytest.raises(TagSchemeError):
        split_tag("")


@pytest.mark.parametrize("tags, scheme", [
    (["B-X", "E-X"], "bio"), (["S-X"], "iob1"), (["B-X", "I-X"], "bmes"),
    (["B-X", "M-X"], "bioes")])
def test_decode_raises_on_a_tag_the_scheme_does_not_have(tags, scheme):
    with pytest.raises(TagSchemeError, match=f"is not a {scheme.upper()} tag"):
        decode(tags, scheme)


def test_bio_entity_starting_with_i_is_repaired_to_start_there():
    assert decode(["O", "I-X", "I-X", "O"], "bio") == (
        [(1, 3, "X")], [(1, "I-X does not continue an entity of type X")])


def test_bio_i_of_another_type_starts_a_new_entity():
    assert decode(["B-X", "I-Y"], "bio") == (
        [(0, 1, "X"), (1, 2, "Y")], [(1, "I-Y does not continue an entity of type Y")])


def test_bioes_entity_not_closed_is_kept_with_a_problem():
    assert decode(["B-X", "O"], "bioes") == (
        [(0, 1, "X")], [(1, "X entity started at token 1 is not closed by an E- tag")])


def test_bioes_entity_open_at_the_sentence_end_is_kept_with_a_problem():
    assert decode(["O", "B-X", "I-X"], "bioes") == (
        [(1, 3, "X")], [(3, "X entity started at token 2 is not closed by an E- tag")])


@pytest.mark.parametrize("scheme", ["bioes", "bmes"])
def test_end_tag_without_a_begin_is_a_one_token_entity(scheme):
    assert decode(["O", "E-X", "O"], scheme) == (
        [(1, 2, "X")], [(1, "E-X ends no open entity of type X")])


def test_bioes_end_of_another_type_closes_the_open_entity_and_starts_its_own():
    spans, problems = decode(["B-X", "E-Y"], "bioes")
    assert spans == [(0, 1, "X"), (1, 2, "Y")]
    assert [i for i, _ in problems] == [1, 1]
    assert "not closed" in problems[0][1] and "ends no open entity" in problems[1][1]


def test_bioes_single_inside_tag_is_repaired():
    assert decode(["S-X", "I-X", "E-X"], "bioes") == (
        [(0, 1, "X"), (1, 3, "X")], [(1, "I-X does not continue an entity of type X")])


def test_iob1_b_that_follows_no_entity_of_its_type_is_a_problem():
    assert decode(["O", "B-X", "I-X"], "iob1") == (
        [(1, 3, "X")], [(1, "B-X does not follow an entity of type X (IOB1)")])


def test_iob1_entity_starting_with_i_is_fine():
    assert decode(["O", "I-X", "I-Y", "B-Y"], "iob1") == (
        [(1, 2, "X"), (2, 3, "Y"), (3, 4, "Y")], [])


@pytest.mark.parametrize("scheme, names", [
    ("bio", ["O", "B-A", "I-A", "B-B", "I-B"]),
    ("iob1", ["O", "B-A", "I-A", "B-B", "I-B"]),
    ("bioes", ["O", "B-A", "I-A", "E-A", "S-A", "B-B", "I-B", "E-B", "S-B"]),
    ("bmes", ["O", "B-A", "M-A", "E-A", "S-A", "B-B", "M-B", "E-B", "S-B"]),
])
def test_label_names_sorted_by_type_without_duplicates(scheme, names):
    assert label_names(["B", "A", "B"], scheme) == names


@pytest.mark.parametrize("scheme", SCHEMES)
def test_label_names_cover_every_encoded_tag(scheme):
    assert set(ENCODED[scheme]) <= set(label_names(["X", "Y"], scheme))
    assert label_names([], scheme) == ["O"]
