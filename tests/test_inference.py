"""Document-level inference: BIO repair, window plans, merging windows back to char spans."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
import torch

from dapt.data.documents import Document, Entity
from dapt.ner.bio import decode_bio, split_at_line_breaks
from dapt.ner.inference import NerPredictor, pick_labels, sliding_windows

LABELS = ["O", "B-SYMPTOM", "I-SYMPTOM", "B-DRUG", "I-DRUG"]
CHAR_LABELS = {"头": "B-SYMPTOM", "痛": "I-SYMPTOM", "发": "B-SYMPTOM", "热": "I-SYMPTOM",
               "丸": "B-DRUG", "剂": "I-DRUG"}
CHARS = "甲乙丙丁戊己庚辛说明书用法" + "".join(CHAR_LABELS)


class FakeTokenizer:
    """The attributes NerPredictor uses, with one id per character."""

    pad_token_id, unk_token_id, cls_token_id, sep_token_id = 0, 1, 2, 3

    def __init__(self, chars: str = CHARS):
        self.vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3}
        for ch in chars:
            self.vocab.setdefault(ch, len(self.vocab))

    def get_vocab(self) -> dict[str, int]:
        return dict(self.vocab)


class LookupModel(torch.nn.Module):
    """Logits from a per-token lookup: each character always gets the same label."""

    def __init__(self, tokenizer: FakeTokenizer, char_labels: dict[str, str]):
        super().__init__()
        self.config = SimpleNamespace(id2label=dict(enumerate(LABELS)))
        table = torch.zeros(len(tokenizer.vocab), dtype=torch.long)
        for ch, label in char_labels.items():
            table[tokenizer.vocab[ch]] = LABELS.index(label)
        self.register_buffer("table", table)
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.calls: list[torch.Tensor] = []

    def forward(self, input_ids, attention_mask):
        self.calls.append(input_ids.clone())
        logits = torch.nn.functional.one_hot(self.table[input_ids], len(LABELS)).float()
        return SimpleNamespace(logits=logits * attention_mask[..., None])


def predictor(max_len: int, batch_size: int = 4, char_labels=CHAR_LABELS) -> NerPredictor:
    tok = FakeTokenizer()
    return NerPredictor(LookupModel(tok, char_labels), tok, max_len=max_len,
                        batch_size=batch_size)


def expected(text: str, pattern: str = "头痛|发热", etype: str = "SYMPTOM") -> list[Entity]:
    return [Entity(m.start(), m.end(), etype, m.group()) for m in re.finditer(pattern, text)]


# decode_bio ---------------------------------------------------------------------------

@pytest.mark.parametrize("tags,spans", [
    ([], []),
    (["O", "O"], []),
    (["B-A", "I-A", "O"], [(0, 2, "A")]),
    (["O", "I-A", "I-A"], [(1, 3, "A")]),              # I after O starts an entity
    (["I-A"], [(0, 1, "A")]),                           # I at the start
    (["B-A", "I-B", "I-B"], [(0, 1, "A"), (1, 3, "B")]),  # type switch
    (["B-A", "B-A", "I-A"], [(0, 1, "A"), (1, 3, "A")]),  # B always starts a new one
    (["O", "B-A", "I-A"], [(1, 3, "A")]),              # entity at the end
    (["B-A"], [(0, 1, "A")]),
    (["B-DRUG-GROUP", "I-DRUG-GROUP"], [(0, 2, "DRUG-GROUP")]),  # hyphen inside the type
])
def test_decode_bio(tags, spans):
    assert decode_bio(tags) == spans


# window plans -------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 5, 6, 7, 11, 12, 13, 100, 257])
@pytest.mark.parametrize("size,stride", [(6, 3), (6, 6), (4, 1), (1, 1), (126, 63)])
def test_sliding_windows_cover_every_token(n, size, stride):
    windows = sliding_windows(n, size, stride)
    assert windows[0][0] == 0 and windows[-1][1] == n
    assert all(0 <= e - s <= size for s, e in windows)
    covered = [i for s, e in windows for i in range(s, e)]
    assert set(covered) == set(range(n))
    for (s1, e1), (s2, _) in zip(windows, windows[1:]):
        assert s1 < s2 <= e1 and s2 - s1 <= stride  # overlapping or touching, no gaps
    assert len(windows) == len(set(windows))


def test_sliding_windows_rejects_empty_size():
    with pytest.raises(ValueError):
        sliding_windows(5, 0, 1)


def test_pick_labels_takes_most_central_window():
    windows = [(0, 4), (2, 6)]
    labels = pick_labels(windows, [[10, 11, 12, 13], [20, 21, 22, 23]], 6)
    # token 2: first window (document start is no cut), token 3: second window
    assert labels == [10, 11, 12, 21, 22, 23]


def test_pick_labels_tie_goes_to_earlier_window():
    # token 3: margin 1 in both windows -> the earlier one
    labels = pick_labels([(0, 5), (2, 7)], [[1] * 5, [2] * 5], 7)
    assert labels == [1, 1, 1, 1, 2, 2, 2]


def test_split_at_line_breaks():
    text = "头 痛\r\n发热"
    chars = [0, 2, 5, 6]
    assert split_at_line_breaks(text, chars, 0, 4) == [(0, 2), (2, 4)]
    assert split_at_line_breaks(text, chars, 0, 2) == [(0, 2)]


# window merging -----------------------------------------------------------------------

def test_entity_in_overlap_of_two_windows_is_predicted_once():
    text = "甲乙丙丁头痛甲乙丙丁甲乙"  # 12 tokens; max_len 8 -> windows (0,6) (3,9) (6,12)
    p = predictor(max_len=8)
    assert sliding_windows(len(text), p.size, p.stride) == [(0, 6), (3, 9), (6, 12)]
    model = p.model
    [entities] = p.predict([Document("d", text)])
    assert entities == [Entity(4, 6, "SYMPTOM", "头痛")]
    # both windows that contain the entity really predicted it
    windows_with_entity = [row for call in model.calls for row in call
                           if FakeTokenizer().vocab["头"] in row.tolist()]
    assert len(windows_with_entity) == 2


def test_entity_straddling_a_window_seam_is_merged_once(monkeypatch):
    text = "甲乙丙丁头痛甲乙丙丁甲乙"
    p = predictor(max_len=8)
    O, B, I = 0, 1, 2  # noqa: E741
    per_window = {
        0: [O, O, O, O, B, I],        # window (0,6) sees tokens 4-5 only
        3: [O, B, I, I, O, O],        # window (3,9) sees the entity as tokens 4-6
        6: [O] * 6,
    }
    monkeypatch.setattr(p, "label_windows", lambda ws: [per_window[s] for s in (0, 3, 6)])
    [entities] = p.predict([Document("d", text)])
    assert entities == [Entity(4, 7, "SYMPTOM", "头痛甲")]


def test_long_document_with_whitespace_and_crlf_maps_back_exactly():
    block = "说明书\r\n\r\n  头痛   甲乙\u3000发热丙\t用法：丸剂，\u00a0 头痛。\n"
    text = "  " + block * 25 + "甲乙头痛"
    p = predictor(max_len=10, batch_size=3)
    assert len(p.encoder.encode(text).ids) > 10 * 10
    [entities] = p.predict([Document("long", text)])
    want = sorted(expected(text) + expected(text, "丸剂", "DRUG"))
    assert entities == want
    assert all(text[e.start:e.end] == e.text for e in entities)


def test_batch_size_and_window_length_do_not_change_lookup_predictions():
    text = ("甲头痛乙 发热\r\n" * 40)
    results = {(m, b): predictor(max_len=m, batch_size=b).predict([Document("d", text)])[0]
               for m in (3, 8, 64, 512) for b in (1, 7)}
    assert all(r == expected(text) for r in results.values())


def test_entity_across_a_line_break_is_split_and_inner_space_kept():
    p = predictor(max_len=16)
    [entities] = p.predict([Document("d", "甲头 痛乙头\r\n痛")])
    assert entities == [Entity(1, 4, "SYMPTOM", "头 痛"), Entity(5, 6, "SYMPTOM", "头"),
                        Entity(8, 9, "SYMPTOM", "痛")]


def test_several_documents_including_empty_ones():
    p = predictor(max_len=6)
    docs = [Document("a", ""), Document("b", " \r\n\u3000"), Document("c", "头痛甲乙丙丁发热"),
            Document("d", "未知字头痛")]
    out = p.predict(docs)
    assert out[:2] == [[], []]
    assert out[2] == expected(docs[2].text)
    assert out[3] == expected(docs[3].text)  # [UNK] characters do not shift offsets


def test_labels_must_be_bio():
    tok = FakeTokenizer()
    model = LookupModel(tok, {})
    model.config.id2label = {0: "LABEL_0", 1: "LABEL_1"}
    with pytest.raises(ValueError, match="id2label"):
        NerPredictor(model, tok, max_len=8)


def test_max_len_too_small():
    with pytest.raises(ValueError, match="max_len"):
        predictor(max_len=2)


def test_windows_of_all_documents_are_batched_by_length_under_inference_mode(monkeypatch):
    p = predictor(max_len=8, batch_size=3)  # windows of up to 6 tokens
    texts = ["头痛", "甲乙丙丁头痛甲乙丙丁甲乙", "发热甲", "甲头痛乙丙丁戊", "乙发热"]
    modes = []
    forward = p.model.forward
    monkeypatch.setattr(p.model, "forward", lambda input_ids, attention_mask: (
        modes.append(torch.is_inference_mode_enabled()), forward(input_ids, attention_mask))[1])
    out = p.predict([Document(str(i), t) for i, t in enumerate(texts)])
    assert out == [expected(t) for t in texts]
    widths = [call.shape[1] for call in p.model.calls]
    lengths = sorted((e - s for t in texts for s, e in sliding_windows(len(t), 6, 3)),
                     reverse=True)  # across documents, longest first
    assert widths == [lengths[b] + 2 for b in range(0, len(lengths), 3)]
    assert modes and all(modes)
