"""Model cards: front matter round trip, machine-independent content, NER card lineage."""

from __future__ import annotations

from dapt.params import as_params
from dapt.training.model_card import (
    card_meta,
    digest,
    ner_card,
    pretrained_card,
    read_card_meta,
    shown_model,
    write_card,
)

PARAMS = {"seed": 3, "base_model": "hfl/chinese-roberta-wwm-ext",
          "scratch": {"hidden_size": 8}, "pretrain": {"epochs": 1},
          "tokenize": {"max_len": 64},
          "finetune": {"init": "pretrained", "head": "crf", "epochs": 2}}
MASKING = {"strategy": "entity", "mask_prob": 0.5, "mask_budget": None, "mask_dupe": 2,
           "mask_rate": 0.11}
METRICS = {"eval": {"loss": 2.5, "accuracy": 0.25, "entity_accuracy": None}}


def test_pretrained_card_round_trips_and_names_a_hub_base_model(tmp_path):
    text = pretrained_card(as_params(PARAMS), MASKING, {"train.parquet": "ab"}, METRICS)
    write_card(tmp_path, text)
    meta = read_card_meta(tmp_path)
    assert meta["base_model"] == "hfl/chinese-roberta-wwm-ext"
    assert meta["dapt"]["masking"] == MASKING and meta["dapt"]["scratch"] is None
    assert "| accuracy | 0.2500 |" in text and "entity_accuracy" not in text.split("---")[2]


def test_local_folders_are_shown_by_name_and_kept_out_of_the_hub_metadata(tmp_path):
    local = tmp_path / "my-general-model"
    local.mkdir()
    assert shown_model(str(local)) == "local folder my-general-model"
    assert shown_model("scratch") == "scratch"
    params = as_params({**PARAMS, "base_model": str(local)})
    text = pretrained_card(params, MASKING, {}, METRICS)
    assert str(tmp_path) not in text and "base_model" not in card_meta(text)


def test_ner_card_carries_the_pretraining_record_only_when_it_started_from_it(tmp_path):
    write_card(tmp_path, pretrained_card(as_params(PARAMS), MASKING, {}, METRICS))
    pretrained = read_card_meta(tmp_path)
    dev = {"f1": 0.6, "precision": 0.5, "recall": 0.75, "best_epoch": 2}
    labels = ["O", "B-DRUG", "I-DRUG", "B-FOOD", "I-FOOD"]
    card = card_meta(ner_card(as_params(PARAMS), labels, pretrained, {}, dev))
    assert card["dapt"]["pretraining"]["masking"]["strategy"] == "entity"
    assert card["model-index"][0]["results"][0]["metrics"][0] == {
        "type": "f1", "value": 0.6, "name": "dev strict span f1"}
    base = as_params({**PARAMS, "finetune": {**PARAMS["finetune"], "init": "base"}})
    text = ner_card(base, labels, pretrained, {}, dev)
    assert card_meta(text)["dapt"]["pretraining"] is None
    assert "no domain pretraining" in text and "2 entity types" in text


def test_digest_depends_on_bytes_and_names_only(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("1")
    first = digest([tmp_path / "a"])
    (tmp_path / "a" / "x.txt").write_text("2")
    assert digest([tmp_path / "a"]) != first
    (tmp_path / "a" / "x.txt").write_text("1")
    assert digest([tmp_path / "a"]) == first == {"a": first["a"]} and len(first["a"]) == 16
