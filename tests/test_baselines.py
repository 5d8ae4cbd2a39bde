"""Character baselines on synthetic data: offsets across dropped whitespace, chunking, and
both models learning a trivially learnable pattern (fixed entity surfaces)."""

from __future__ import annotations

import random

import pytest

from dapt.char_taggers import bilstm_crf, feature_crf
from dapt.char_taggers.chars import CharSeq, label_set
from dapt.data.documents import Document, Entity
from dapt.ner.scoring import doc_spans, score_spans

FILLER = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可也你"
SURFACES = [("板蓝 根", "DRUG"), ("头痛", "SYMPTOM"), ("清热\u3000解毒", "DRUG_EFFICACY")]


def toy_docs(n: int, seed: int) -> list[Document]:
    rng = random.Random(seed)
    docs = []
    for k in range(n):
        text, ents = " ", []
        for _ in range(rng.randint(2, 4)):
            text += "".join(rng.choice(FILLER) for _ in range(rng.randint(2, 8)))
            text += rng.choice(["", " ", "  ", "\u00a0"])
            surface, etype = rng.choice(SURFACES)
            ents.append(Entity(len(text), len(text) + len(surface), etype, surface))
            text += surface + rng.choice(["。", "，", "  ", "\n"])
        docs.append(Document(f"d{k}", text, ents))
    return docs


def test_charseq_offsets_roundtrip_across_whitespace():
    doc = Document("x", " 口服 板蓝 根\u3000。\n头痛", [Entity(4, 8, "DRUG", "板蓝 根"),
                                                        Entity(11, 13, "SYMPTOM", "头痛")])
    seq = CharSeq.from_doc(doc)
    assert "".join(seq.chars) == "口服板蓝根。头痛"
    tags = seq.bio_tags()
    assert tags == ["O", "O", "B-DRUG", "I-DRUG", "I-DRUG", "O", "B-SYMPTOM", "I-SYMPTOM"]
    assert seq.entities(tags) == doc.entities
    # an I- that does not continue its type starts an entity
    got = seq.entities(["O", "I-A", "I-B", "O", "O", "O", "B-A", "I-A"])
    assert [(e.start, e.end, e.type) for e in got] == [(2, 3, "A"), (4, 5, "B"), (11, 13, "A")]


def test_chunks_respect_max_len_and_gold_entities():
    for doc in toy_docs(30, 5):
        seq = CharSeq.from_doc(doc)
        tags = seq.bio_tags()
        for max_len in (5, 9, 14):
            bounds = seq.chunks(max_len, tags)
            assert bounds[0][0] == 0 and bounds[-1][1] == len(seq)
            assert all(a < b <= a + max_len for a, b in bounds)
            assert all(p[1] == q[0] for p, q in zip(bounds, bounds[1:]))
            assert all(not tags[a].startswith("I-") for a, _ in bounds)
            assert seq.chunks(max_len)[-1][1] == len(seq)


def strict_f1(gold: list[Document], pred: list[Document]) -> float:
    for g, p in zip(gold, pred):
        assert p.id == g.id and p.text == g.text
        assert all(p.text[e.start : e.end] == e.text for e in p.entities)
    return score_spans(doc_spans(gold), doc_spans(pred))["f1"]


def test_char_crf_learns_fixed_surfaces(tmp_path):
    train, test = toy_docs(60, 0), toy_docs(20, 1)
    model = feature_crf.train(train, c1=0.05, c2=0.01, max_iterations=60,
                           model_path=tmp_path / "m.crfsuite")
    pred = feature_crf.predict(model, test)
    assert strict_f1(test, pred) == pytest.approx(1.0)
    retrained = feature_crf.train(train, 0.05, 0.01, 60, tmp_path / "n.crfsuite")
    again = feature_crf.predict(retrained, test)
    assert [d.entities for d in again] == [d.entities for d in pred]  # deterministic


def test_bilstm_crf_learns_fixed_surfaces():
    train, dev, test = toy_docs(60, 0), toy_docs(10, 2), toy_docs(20, 1)
    cfg = bilstm_crf.Config(emb_dim=24, hidden=24, dropout=0.1, lr=1e-2, epochs=12,
                            patience=12, batch_size=8, max_len=24, seed=1, threads=1)
    model, hist = bilstm_crf.fit(train, dev, cfg, types=["DRUG", "DRUG_EFFICACY", "SYMPTOM"])
    assert model.labels == label_set(["DRUG", "DRUG_EFFICACY", "SYMPTOM"])
    assert hist["best_dev_f1"] == max(e["dev_f1"] for e in hist["epochs"])
    assert strict_f1(test, bilstm_crf.predict(model, test)) > 0.95


def test_length_batches_group_similar_lengths_in_a_seeded_random_order():
    import numpy as np

    lengths = [random.Random(k).randint(1, 256) for k in range(500)]
    epoch = bilstm_crf.length_batches(lengths, 32, np.random.default_rng(1))
    assert sorted(int(i) for b in epoch for i in b) == list(range(500))  # each row once
    assert sorted(len(b) for b in epoch) == [500 % 32] + [32] * (500 // 32)
    spread = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in epoch]
    assert max(spread) <= 40  # ~16 on average; random batches of 32 span ~240
    again = bilstm_crf.length_batches(lengths, 32, np.random.default_rng(1))
    assert [b.tolist() for b in again] == [b.tolist() for b in epoch]
    other = bilstm_crf.length_batches(lengths, 32, np.random.default_rng(2))
    assert [b.tolist() for b in other] != [b.tolist() for b in epoch]
    firsts = [min(lengths[i] for i in b) for b in epoch]
    assert firsts != sorted(firsts)  # batch order is shuffled, not shortest first
