"""CRF / BiLSTM-CRF heads and masked-position MLM logits on tiny random BERTs."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForMaskedLM, BertConfig

from dapt.data.documents import Document
from dapt.ner.bilstm import padded_bilstm, reverse_within_lengths
from dapt.ner.crf import bio_constraints
from dapt.ner.heads import BertCrfForTokenClassification, load_token_classifier
from dapt.ner.inference import NerPredictor
from dapt.training.arguments import token_loss
from dapt.training.models import BertForMaskedLMAtPositions
from dapt.training.ner_trainer import build_token_classifier

LABELS = ["O", "B-DRUG", "I-DRUG", "B-SYMPTOM", "I-SYMPTOM"]


def tiny_config(**extra) -> BertConfig:
    settings = dict(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=32, max_position_embeddings=64)
    return BertConfig(**{**settings, **extra})


def crf_model(head: str) -> BertCrfForTokenClassification:
    torch.manual_seed(0)
    config = tiny_config(num_labels=len(LABELS), id2label=dict(enumerate(LABELS)),
                         label2id={x: i for i, x in enumerate(LABELS)}, ner_head=head,
                         lstm_hidden_size=8)
    return BertCrfForTokenClassification(config)


@pytest.mark.parametrize("head", ["crf", "bilstm_crf"])
def test_crf_head_trains_and_decodes_valid_bio(head):
    model = crf_model(head)
    ids = torch.tensor([[2, 5, 6, 7, 3, 0], [2, 8, 9, 3, 0, 0]])
    mask = (ids != 0).long()
    labels = torch.tensor([[-100, 1, 2, 0, -100, -100], [-100, 3, 4, -100, -100, -100]])
    out = model(input_ids=ids, attention_mask=mask, labels=labels)
    assert out.loss.ndim == 0 and torch.isfinite(out.loss)
    out.loss.backward()
    assert model.crf.transitions.grad is not None
    # Emissions that favour forbidden moves (O -> I-*) are decoded into valid BIO.
    with torch.no_grad():
        model.classifier.bias.copy_(torch.tensor([0.0, -5, 5, -5, 5]))
    paths = model.decode(ids, mask)
    assert [len(p) for p in paths] == [3, 2]
    allowed, start = bio_constraints(LABELS)
    for path in paths:
        assert start[path[0]]
        assert all(allowed[a, b] for a, b in zip(path, path[1:]))


def test_crf_model_saves_loads_and_predicts_documents(tmp_path):
    from dapt.data.tokenizer_io import train_scratch_tokenizer

    tokenizer = train_scratch_tokenizer(["头痛发热，口干。", "黄连上清丸"], 100, 1)
    model = crf_model("bilstm_crf")
    model.resize_token_embeddings(len(tokenizer))
    model.save_pretrained(tmp_path / "ner")
    tokenizer.save_pretrained(tmp_path / "ner")
    loaded = load_token_classifier(tmp_path / "ner")
    assert isinstance(loaded, BertCrfForTokenClassification) and loaded.lstm is not None
    docs = [Document("a", "头痛发热，口干。" * 5)]
    direct = NerPredictor(model.eval(), tokenizer, max_len=12).predict(docs)
    assert NerPredictor.from_pretrained(tmp_path / "ner", max_len=12).predict(docs) == direct
    for ent in direct[0]:
        assert docs[0].text[ent.start : ent.end] == ent.text


def test_crf_classifier_builds_from_a_saved_masked_lm(tmp_path):
    from dapt.data.tokenizer_io import train_scratch_tokenizer

    tokenizer = train_scratch_tokenizer(["头痛发热，口干。"], 100, 1)
    mlm = BertForMaskedLMAtPositions(tiny_config(vocab_size=len(tokenizer)))
    mlm.save_pretrained(tmp_path / "mlm")
    model = build_token_classifier(tmp_path / "mlm", LABELS, {}, tokenizer, "crf", 8)
    assert isinstance(model, BertCrfForTokenClassification) and model.lstm is None
    assert torch.equal(model.bert.embeddings.word_embeddings.weight,
                       mlm.bert.embeddings.word_embeddings.weight)


@pytest.mark.parametrize("head", ["softmax", "bilstm_crf"])
def test_finetune_dropout_overrides_the_checkpoint_and_the_scratch_dropout(tmp_path, head):
    from dapt.data.tokenizer_io import train_scratch_tokenizer

    tokenizer = train_scratch_tokenizer(["头痛发热，口干。"], 100, 1)
    BertForMaskedLMAtPositions(tiny_config(vocab_size=len(tokenizer))).save_pretrained(tmp_path)
    scratch = dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                   intermediate_size=32, max_position_embeddings=64, dropout=0.1)
    for source in (tmp_path, "scratch"):
        kept = build_token_classifier(source, LABELS, scratch, tokenizer, head, 8)
        set_ = build_token_classifier(source, LABELS, scratch, tokenizer, head, 8, dropout=0.3)
        assert kept.config.hidden_dropout_prob == 0.1
        assert set_.config.hidden_dropout_prob == 0.3
        assert set_.config.attention_probs_dropout_prob == 0.1  # attention dropout unchanged
        layer = set_.bert.encoder.layer[0].output.dropout
        assert layer.p == 0.3
        if head != "softmax":
            assert set_.dropout.p == 0.3


def test_masked_position_logits_equal_full_logits_and_loss(tmp_path):
    torch.manual_seed(0)
    model = BertForMaskedLMAtPositions(tiny_config()).eval()
    ids = torch.randint(5, 40, (3, 7))
    labels = torch.full((3, 7), -100)
    labels[0, 2], labels[1, 4], labels[2, 1], labels[2, 5] = 7, 8, 9, 10
    positions = labels != -100
    with torch.no_grad():
        full = model(input_ids=ids).logits
        sparse = model(input_ids=ids, mlm_positions=positions).logits
    assert sparse.shape == (4, 40)
    torch.testing.assert_close(sparse, full[positions])
    torch.testing.assert_close(token_loss({"logits": sparse}, labels),
                               token_loss({"logits": full}, labels))
    model.save_pretrained(tmp_path / "m")
    assert type(AutoModelForMaskedLM.from_pretrained(tmp_path / "m")).__name__ == "BertForMaskedLM"


def test_head_learning_rate_applies_to_every_layer_above_the_encoder(tmp_path):
    from transformers import TrainingArguments

    from dapt.training.ner_trainer import NerTrainer

    model = crf_model("bilstm_crf")
    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=1e-3, weight_decay=0.01,
                             use_cpu=True, report_to="none")
    trainer = NerTrainer(model=model, args=args, max_len=16, head_learning_rate=1e-2)
    groups = trainer.create_optimizer().param_groups
    rate = {id(p): g["lr"] for g in groups for p in g["params"]}
    decay = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    named = dict(model.named_parameters())
    assert len(rate) == len(named)
    for name, param in named.items():
        assert rate[id(param)] == (1e-3 if name.startswith("bert.") else 1e-2), name
    assert decay[id(named["classifier.bias"])] == 0.0
    assert decay[id(named["classifier.weight"])] == 0.01


def packed_reference(lstm: torch.nn.LSTM, x: torch.Tensor, lengths: torch.Tensor):
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True,
                                                     enforce_sorted=False)
    out, _ = lstm(packed)
    return torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True,
                                                  total_length=x.shape[1])[0]


def test_padded_bilstm_equals_the_packed_run_in_values_and_gradients():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(6, 4, batch_first=True, bidirectional=True)
    lengths = torch.tensor([9, 3, 1, 9, 5])
    x = torch.randn(5, 9, 6, requires_grad=True)
    weight = torch.randn(5, 9, 8)  # a loss that reads every output position
    ref = packed_reference(lstm, x, lengths)
    out = padded_bilstm(lstm, x, lengths)
    assert torch.allclose(out, ref, atol=1e-6)
    assert out[1, 3:].abs().max() == 0 and out[2, 1:].abs().max() == 0  # zeros past length
    want = torch.autograd.grad((ref * weight).sum(), [x, *lstm.parameters()])
    got = torch.autograd.grad((out * weight).sum(), [x, *lstm.parameters()])
    for a, b in zip(want, got):
        assert torch.allclose(a, b, atol=1e-5)
    assert sorted(lstm.state_dict()) == sorted(
        f"{kind}_{part}_l0{suffix}" for kind in ("weight", "bias") for part in ("ih", "hh")
        for suffix in ("", "_reverse"))


def test_reverse_within_lengths_keeps_padding_in_place():
    x = torch.arange(8.0).view(2, 4, 1)
    out = reverse_within_lengths(x, torch.tensor([4, 2]))
    assert out.squeeze(-1).tolist() == [[3, 2, 1, 0], [5, 4, 6, 7]]
