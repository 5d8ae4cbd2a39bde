"""Character encoding and window packing invariants."""

from __future__ import annotations

import random

import pytest

from dapt.data.documents import Entity
from dapt.data.encoding import CharEncoder
from dapt.data.windows import (
    TokenSpan,
    entity_token_spans,
    pack_windows,
    spans_in,
)
from dapt.ner.bio import bio_tags, decode_bio

VOCAB = {t: i for i, t in enumerate(
    ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "头", "痛", "a", "b", "1", "0", "m", "l", "。"])}


def encoder() -> CharEncoder:
    return CharEncoder(vocab=VOCAB, unk_id=VOCAB["[UNK]"])


def test_whitespace_is_dropped_and_offsets_kept():
    enc = encoder().encode("头 \u3000\u00a0痛\r\n。")
    assert enc.chars == [0, 4, 7]
    assert enc.ids == [VOCAB["头"], VOCAB["痛"], VOCAB["。"]]


def test_fullwidth_latin_is_one_token_per_character():
    e = encoder()
    enc = e.encode("ＡＢ１０ｍｌ")
    assert enc.chars == [0, 1, 2, 3, 4, 5]
    assert enc.ids == [VOCAB["a"], VOCAB["b"], VOCAB["1"], VOCAB["0"], VOCAB["m"], VOCAB["l"]]


def test_unknown_characters_become_unk_and_are_counted():
    e = encoder()
    enc = e.encode("头疼")
    assert enc.ids == [VOCAB["头"], VOCAB["[UNK]"]]
    stats = e.stats()
    assert (stats["unk_tokens"], stats["unk_rate"], stats["unk_characters"]) == (1, 0.5, ["疼"])


def test_entity_of_dropped_characters_is_reported_lost():
    chars = [0, 3]
    spans, lost = entity_token_spans([Entity(1, 3, "X", "  "), Entity(0, 4, "Y", "头  痛")], chars)
    assert lost == [Entity(1, 3, "X", "  ")]
    assert spans == [TokenSpan(0, 2, "Y")]


def random_doc(rng: random.Random, n: int) -> tuple[str, list[Entity]]:
    alphabet = "头痛恶心清热解毒，、。；\n  ！"
    text = "".join(rng.choice(alphabet) for _ in range(n))
    entities, pos = [], 0
    while pos < n - 8:
        pos += rng.randint(0, 10)
        length = rng.randint(1, 8)
        if pos + length <= n and text[pos].strip() and text[pos + length - 1].strip():
            entities.append(Entity(pos, pos + length, "T", text[pos:pos + length]))
        pos += length
    return text, entities


@pytest.mark.parametrize("seed", range(30))
def test_windows_cover_everything_and_never_cut_an_entity(seed):
    rng = random.Random(seed)
    text, entities = random_doc(rng, rng.randint(1, 600))
    chars = [i for i, c in enumerate(text) if c.strip()]
    spans, _ = entity_token_spans(entities, chars)
    size = rng.choice([8, 16, 30, 126])
    windows = pack_windows(text, chars, spans, size)
    assert [w[0] for w in windows] == [0] + [w[1] for w in windows[:-1]]
    assert (windows[-1][1] if windows else 0) == len(chars)
    assert all(0 < end - start <= size for start, end in windows)
    for s in spans:
        assert any(start <= s.start and s.end <= end for start, end in windows)
    # BIO tags of every window decode back to exactly the gold character spans
    recovered = set()
    for start, end in windows:
        for a, b, t in decode_bio(bio_tags(spans_in(spans, start, end), end - start)):
            recovered.add((chars[start + a], chars[start + b - 1] + 1, t))
    assert recovered == {(e.start, e.end, e.type) for e in entities}


def test_windows_prefer_sentence_ends():
    text = "头痛头痛。恶心恶心恶心，清热解毒清热"
    chars = list(range(len(text)))
    windows = pack_windows(text, chars, [], 12)
    assert windows[0] == (0, 5)  # cut after 。 although 12 tokens would fit
    assert windows[1] == (5, 12)  # no sentence end in reach: cut after ，


@pytest.mark.parametrize("text,spans,expected", [
    ("头痛。头痛。头痛头痛头痛头痛", [], [(0, 6), (6, 14)]),  # last of two sentence ends
    ("头痛，头痛、头痛头痛头痛头痛", [], [(0, 6), (6, 14)]),  # last of two soft breaks
    ("头" * 14, [], [(0, 12), (12, 14)]),  # no break at all: a full window
    ("头" * 14, [TokenSpan(10, 13, "X")], [(0, 10), (10, 14)]),  # up to the entity
], ids=["sentence", "soft", "any", "entity"])
def test_windows_extend_to_the_farthest_allowed_cut(text, spans, expected):
    assert pack_windows(text, list(range(len(text))), spans, 12) == expected


def test_entity_longer_than_window_raises():
    text = "头" * 20
    with pytest.raises(ValueError, match="entity is too long"):
        pack_windows(text, list(range(20)), [TokenSpan(0, 20, "X")], 8)
