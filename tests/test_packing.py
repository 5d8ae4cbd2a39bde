"""Packing (``pretrain.packing``) and activation checkpointing
(``pretrain/finetune.gradient_checkpointing``): what they change and what they keep."""

from __future__ import annotations

import random

import pytest
import torch
from transformers import BertConfig, BertTokenizerFast, DataCollatorForTokenClassification

from dapt.data.contracts import IGNORE_LABEL
from dapt.params import ParamError, load_params
from dapt.training.mlm import PositionsCollator, build_mlm_trainer
from dapt.training.models import BertForMaskedLMAtPositions
from dapt.training.packing import PackedRows, pack_groups
from tests.helpers import write_params

VOCAB = 50


def test_bins_hold_every_sequence_once_within_the_window_and_do_not_depend_on_chance():
    rng = random.Random(0)
    lengths = [rng.randint(3, 128) for _ in range(500)]
    groups = pack_groups(lengths, 128)
    assert sorted(i for g in groups for i in g) == list(range(500))
    assert all(sum(lengths[i] for i in g) <= 128 for g in groups)
    assert groups == pack_groups(lengths, 128)
    assert len(groups) <= 1.05 * sum(lengths) / 128 + 1  # best fit leaves little room
    with pytest.raises(ValueError, match="sequence 1 has 9 tokens"):
        pack_groups([3, 9], 8)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(["[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]"]
                              + [f"t{i}" for i in range(5, VOCAB)]) + "\n", encoding="utf-8")
    return BertTokenizerFast(vocab_file=str(path))


def masked_rows(n: int, seed: int) -> list[dict]:
    """Rows shaped like stored masked copies: [CLS] ... [SEP], two positions masked."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        ids = [1] + [rng.randint(5, VOCAB - 1) for _ in range(rng.randint(2, 20))] + [2]
        labels = [IGNORE_LABEL] * len(ids)
        for k in rng.sample(range(1, len(ids) - 1), 2):
            labels[k], ids[k] = ids[k], 3
        out.append({"input_ids": ids, "labels": labels})
    return out


def tiny_model(attention: str, seed: int = 0) -> BertForMaskedLMAtPositions:
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=VOCAB, hidden_size=16, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=32,
                        max_position_embeddings=64)
    config._attn_implementation = attention
    return BertForMaskedLMAtPositions(config).eval()


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_a_packed_token_gets_the_logits_it_gets_unpacked(tokenizer, attention):
    """Same positions, same keys: packing changes the batch, not what a token sees."""
    rows = masked_rows(12, seed=1)
    collate = PositionsCollator(DataCollatorForTokenClassification(tokenizer))
    packed = PackedRows(rows, 64)
    assert len(packed) < len(rows) and sum(packed.lengths) == sum(
        len(r["input_ids"]) for r in rows)
    model = tiny_model(attention)
    with torch.no_grad():
        batch = collate([packed[i] for i in range(len(packed))])
        labels = batch.pop("labels")
        packed_logits = model(**batch).logits
        alone = {}
        for i, row in enumerate(rows):
            one = collate([row])
            one.pop("labels")
            alone[i] = model(**one).logits
    # Packed logits come row-major over the windows: regroup them per sequence.
    expected = torch.cat([alone[i] for group in packed.groups for i in group])
    assert int((labels != IGNORE_LABEL).sum()) == expected.shape[0]
    torch.testing.assert_close(packed_logits, expected, rtol=1e-5, atol=1e-5)
    assert batch["position_ids"][0, 0] == 0 and (batch["segment_ids"][labels == -100] >= 0).all()


def run_steps(tokenizer, tmp_path, rows, **pretrain) -> dict[str, torch.Tensor]:
    tmp_path.mkdir()
    params = load_params(write_params(tmp_path / "params.yaml", **{
        "pretrain.batch_size": 4, "pretrain.logging_steps": 1, "tokenize.max_len": 64,
        **{f"pretrain.{k}": v for k, v in pretrain.items()}}))
    model = tiny_model("sdpa").train()
    trainer = build_mlm_trainer(params, model, tokenizer, rows, rows[:4], tmp_path / "out",
                                max_steps=3, eval_strategy="no", save_strategy="no",
                                disable_tqdm=True)
    trainer.train()
    return {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


def test_checkpointing_recomputes_the_same_gradients_and_packing_trains(tokenizer, tmp_path):
    rows = masked_rows(40, seed=2)
    plain = run_steps(tokenizer, tmp_path / "a", rows)
    recomputed = run_steps(tokenizer, tmp_path / "b", rows, gradient_checkpointing=True)
    packed = run_steps(tokenizer, tmp_path / "c", rows, packing=True)
    for name, weight in plain.items():  # dropout masks are replayed in the recomputation
        torch.testing.assert_close(recomputed[name], weight, rtol=1e-6, atol=1e-7, msg=name)
    moved = [n for n, w in plain.items() if not torch.equal(packed[n], w)]
    assert moved and all(torch.isfinite(w).all() for w in packed.values())


def test_packing_with_a_pair_task_is_refused_naming_both_keys(tmp_path):
    with pytest.raises(ParamError) as err:
        load_params(write_params(tmp_path / "p.yaml", **{"pretrain.pair_task": "sop",
                                                         "pretrain.packing": True}))
    assert "pretrain.packing=True" in str(err.value) and "pair_task" in str(err.value)
