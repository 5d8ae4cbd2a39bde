"""Dynamic masking (``mask_mode: dynamic``) and the pair objectives' model and loss."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModelForMaskedLM, BertConfig

from dapt.data.contracts import IGNORE_LABEL
from dapt.data.tokenizer_io import load_tokenizer
from dapt.masking.strategies import Vocab
from dapt.params import ParamError, load_params
from dapt.training.arguments import pair_task_loss, token_loss
from dapt.training.dynamic import DynamicMasks
from dapt.training.models import BertForPreTrainingAtPositions, build_mlm_model, save_model
from tests.helpers import hub_checkpoint, write_params
from tests.test_masking import stage_files, stage_input, synth_docs


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dynamic")
    return tmp, stage_input(tmp, synth_docs(300, seed=11))


def dynamic(tmp, mlm, name, **over):
    metrics = stage_files_dynamic(tmp, mlm, name, **over)
    record = json.loads((tmp / name / "masking.json").read_text())
    vocab = Vocab.from_tokenizer(load_tokenizer(tmp / "tokenizer"))
    return DynamicMasks(tmp / name / "units.parquet", record, vocab), metrics


def stage_files_dynamic(tmp, mlm, name, **over):
    from stages.mask_annotate import Paths, run
    from tests.test_masking import params

    out = tmp / name
    return run(params(mask_mode="dynamic", mask_dupe=1, **over),
               Paths(mlm=str(mlm), tokenizer=str(tmp / "tokenizer"), units=None, dev=None,
                     out=str(out), metrics=str(tmp / f"{name}.json")))


@pytest.mark.parametrize("strategy", ["token", "entity", "entity_token", "wwm", "span"])
def test_epoch_e_masks_like_static_copy_e(corpus, strategy):
    """The same strategy code and per-(seed, sequence, copy) streams: only the order of the
    visits differs between a dynamic run and a static one."""
    tmp, mlm = corpus
    over = {"mask_strategy": strategy, "mask_prob": 0.3}
    masks, metrics = dynamic(tmp, mlm, f"d_{strategy}", **over)
    stage_files(tmp, mlm, f"s_{strategy}", **over)  # static, mask_dupe 3
    static = pq.read_table(tmp / f"s_{strategy}" / "train.parquet").to_pylist()
    assert not (tmp / f"d_{strategy}" / "train.parquet").exists()
    by_copy = {c: [r for r in static if r["copy"] == c] for c in range(3)}
    for epoch in (2, 0, 1):  # any order, as after a resume
        masks.set_epoch(epoch)
        drawn = [masks[i] for i in range(len(masks))]
        assert [r["input_ids"] for r in by_copy[epoch]] == [d["input_ids"] for d in drawn]
        assert [r["labels"] for r in by_copy[epoch]] == [d["labels"] for d in drawn]
    assert metrics["mask_mode"] == "dynamic"
    # the statistics are epoch 0's draw, the expectation is the units' and params'
    assert metrics["mask_rate"] == pytest.approx(masks.mask_rate(1))
    assert metrics["expected_mask_rate"] == pytest.approx(metrics["mask_rate"], abs=0.03)


def test_the_stock_recipe_token_015_follows_80_10_10_and_changes_every_epoch(corpus):
    tmp, mlm = corpus
    masks, metrics = dynamic(tmp, mlm, "stock", mask_strategy="token", mask_prob=0.15)
    tokenizer = load_tokenizer(tmp / "tokenizer")
    assert metrics["expected_mask_rate"] == pytest.approx(0.15)
    positions, treat = [], np.zeros(3)
    for epoch in range(4):
        masks.set_epoch(epoch)
        rows = [masks[i] for i in range(len(masks))]
        ids = np.concatenate([r["input_ids"] for r in rows])
        labels = np.concatenate([r["labels"] for r in rows])
        hit = labels != IGNORE_LABEL
        positions.append(hit)
        treat += [(ids[hit] == tokenizer.mask_token_id).sum(),
                  ((ids[hit] != labels[hit]) & (ids[hit] != tokenizer.mask_token_id)).sum(),
                  (ids[hit] == labels[hit]).sum()]
    assert masks.mask_rate(4) == pytest.approx(0.15, abs=0.01)
    share = treat / treat.sum()
    # a random replacement may draw the original id: "keep" gains about 1/vocab of 10%
    assert share == pytest.approx([0.8, 0.1, 0.1], abs=0.02)
    for a in range(4):
        for b in range(a + 1, 4):
            overlap = (positions[a] & positions[b]).sum() / positions[a].sum()
            assert overlap < 0.3  # independent draws overlap by ~the rate, never identical


def test_params_name_bad_combinations(tmp_path):
    for over, words in (({"mask_mode": "dynamic"}, ["mask_dupe=5", "mask_dupe must be 1"]),
                        ({"mask_mode": "dynamic", "mask_dupe": 1, "pretrain.pair_task": "sop"},
                         ["pretrain.pair_task='sop'", "mask_mode static"]),
                        ({"pretrain.pair_task": "nsp", "tokenize.max_len": 6},
                         ["tokenize.max_len=6", ">= 8"]),
                        ({"pretrain.pair_task": "mlm"}, ["pretrain.pair_task"]),
                        ({"pretrain.pair_weight": -1}, ["pretrain.pair_weight"])):
        with pytest.raises(ParamError) as err:
            load_params(write_params(tmp_path / "p.yaml", **over))
        assert all(w in str(err.value) for w in words), str(err.value)


def tiny_config(**extra) -> BertConfig:
    return BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                      num_attention_heads=2, intermediate_size=32, **extra)


def test_loss_is_mlm_plus_weighted_pair_loss_by_hand():
    torch.manual_seed(0)
    model = BertForPreTrainingAtPositions(tiny_config()).eval()
    ids = torch.randint(5, 50, (4, 9))
    labels = torch.full((4, 9), IGNORE_LABEL)
    labels[0, 2], labels[1, 3], labels[1, 4], labels[3, 1] = 7, 8, 9, 10
    pair = torch.tensor([1, 0, IGNORE_LABEL, 1])
    types = torch.zeros_like(ids)
    types[:, 5:] = 1
    out = model(input_ids=ids, token_type_ids=types, mlm_positions=labels != IGNORE_LABEL,
                pair_label=pair)
    full = model(input_ids=ids, token_type_ids=types)  # logits everywhere, same weights
    mlm = F.cross_entropy(full.logits[labels != IGNORE_LABEL], labels[labels != IGNORE_LABEL])
    keep = pair != IGNORE_LABEL
    pair_mean = F.cross_entropy(full.pair_logits[keep], pair[keep])
    torch.testing.assert_close(out.pair_loss, pair_mean)
    torch.testing.assert_close(pair_task_loss(out, labels, weight=0.7), mlm + 0.7 * pair_mean)
    torch.testing.assert_close(pair_task_loss(out, labels, weight=0.0), token_loss(out, labels))
    # one of two micro-batches of a step with 8 labelled tokens: 4/8 of each term
    half = pair_task_loss(out, labels, torch.tensor(8), weight=0.7)
    torch.testing.assert_close(half, (mlm + 0.7 * pair_mean) / 2)
    # no labelled pair in the micro-batch: no pair term
    none = model(input_ids=ids, token_type_ids=types, mlm_positions=labels != IGNORE_LABEL,
                 pair_label=torch.full((4,), IGNORE_LABEL))
    torch.testing.assert_close(pair_task_loss(none, labels, weight=0.7), mlm)


def test_hub_checkpoint_keeps_its_nsp_head_and_pooler_and_saves_as_masked_lm(tmp_path):
    hub = hub_checkpoint(tmp_path)
    tokenizer = load_tokenizer(hub)
    model = build_mlm_model(str(hub), {}, tokenizer, pair_task="nsp")
    assert isinstance(model, BertForPreTrainingAtPositions)
    saved = torch.load(hub / "pytorch_model.bin", weights_only=True)
    state = model.state_dict()
    assert {"bert.pooler.dense.weight", "cls.seq_relationship.weight"} <= set(saved)
    for key, tensor in state.items():  # nothing freshly initialised, the pair head included
        assert torch.equal(tensor, saved[key]), key
    save_model(model, tokenizer, tmp_path / "saved")
    mlm = AutoModelForMaskedLM.from_pretrained(tmp_path / "saved")
    for key, tensor in mlm.state_dict().items():
        assert torch.equal(tensor, state[key]), key



def test_model_card_names_the_pair_task_and_the_mask_mode():
    from dapt.training.model_card import pretrained_card

    params = load_params().to_dict()
    params["pretrain"]["pair_task"] = "sop"
    masking = {"strategy": "entity", "mask_prob": 0.5, "mask_budget": None, "mask_dupe": 1,
               "mask_mode": "dynamic", "pair_task": "sop", "mask_rate": 0.1}
    card = pretrained_card(params, masking, {}, {"eval": {"loss": 1.0}})
    assert "fresh masks every epoch (dynamic)" in card
    assert "sentence-order prediction (SOP) on sentence pairs" in card
    assert "pair_task: sop" in card  # the params block
    static = pretrained_card(load_params().to_dict(), {**masking, "mask_mode": "static",
                                                       "pair_task": "none"}, {}, {"eval": {}})
    assert "1 static masked copies" in static and "prediction" not in static
