"""tokenize stage: byte-stable outputs, exact offsets, leakage-free MLM text."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from transformers import AutoTokenizer, BertConfig

from dapt.data.documents import read_jsonl
from dapt.ner.bio import decode_bio
from tests.helpers import DEMO, REAL_DATA, split_and_tokenize


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def recovered_spans(ner_path: Path) -> set[tuple[str, int, int, str]]:
    """Decode the BIO tags of every window back to document character spans."""
    spans = set()
    for row in pq.read_table(ner_path).to_pylist():
        tags, starts, ends = row["tags"][1:-1], row["char_start"][1:-1], row["char_end"][1:-1]
        for a, b, etype in decode_bio(tags):
            spans.add((row["doc_id"], starts[a], ends[b - 1], etype))
    return spans


def gold_spans(split_dir: Path) -> set[tuple[str, int, int, str]]:
    return {(d.id, e.start, e.end, e.type) for split in ("train", "dev", "test")
            for d in read_jsonl(split_dir / f"{split}.jsonl") for e in d.entities}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("demo")
    split_and_tokenize(tmp, DEMO / "labeled", DEMO / "unlabeled", **{"tokenize.max_len": 64})
    return tmp


def test_rerun_is_byte_identical(demo_run, tmp_path):
    split_and_tokenize(tmp_path, DEMO / "labeled", DEMO / "unlabeled", **{"tokenize.max_len": 64})
    for name in ("split", "tokenized", "tokenizer"):
        assert digest(tmp_path / name) == digest(demo_run / name), name
    assert (tmp_path / "tokenize.json").read_bytes() == (demo_run / "tokenize.json").read_bytes()


def test_windows_respect_max_len_and_map_back_exactly(demo_run):
    table = pq.read_table(demo_run / "tokenized" / "ner.parquet")
    assert max(len(ids) for ids in table.column("input_ids").to_pylist()) <= 64
    assert recovered_spans(demo_run / "tokenized" / "ner.parquet") == gold_spans(
        demo_run / "split")


def test_tokenizer_loads_like_a_hub_checkpoint(demo_run):
    tok = AutoTokenizer.from_pretrained(str(demo_run / "tokenizer"))
    assert tok.is_fast and tok.mask_token == "[MASK]"
    assert tok.tokenize("头痛10ml") == ["头", "痛", "1", "##0", "##m", "##l"]


def test_mlm_sequences_hold_train_and_unlabeled_text_only(demo_run):
    rows = pq.read_table(demo_run / "tokenized" / "mlm.parquet").to_pylist()
    assert {r["source"] for r in rows} == {"train", "unlabeled"}
    assert [r["seq_id"] for r in rows] == list(range(len(rows)))
    train = {d.id: d for d in read_jsonl(demo_run / "split" / "train.jsonl")}
    for r in rows:
        assert len(r["input_ids"]) <= 64
        if r["source"] == "unlabeled":
            assert r["entity_start"] == []
        for s, e, t in zip(r["entity_start"], r["entity_end"], r["entity_type"]):
            start, end = r["char_start"][s], r["char_end"][e - 1]
            gold = train[r["doc_id"]]
            assert any((x.start, x.end, x.type) == (start, end, t) for x in gold.entities)
            assert r["text"][start - r["text_start"]:end - r["text_start"]] == gold.text[start:end]


def test_eval_text_joins_mlm_only_on_request(tmp_path):
    split_and_tokenize(tmp_path, DEMO / "labeled", DEMO / "unlabeled",
                       **{"tokenize.mlm_include_eval_text": True, "tokenize.max_len": 64})
    rows = pq.read_table(tmp_path / "tokenized" / "mlm.parquet").to_pylist()
    assert {r["source"] for r in rows} == {"train", "unlabeled", "dev", "test"}
    assert all(r["entity_start"] == [] for r in rows if r["source"] in ("dev", "test"))


def test_pretrained_tokenizer_path(demo_run, tmp_path):
    """base_model pointing at a local checkpoint folder uses its tokenizer unchanged."""
    model = shutil.copytree(demo_run / "tokenizer", tmp_path / "model")
    BertConfig().save_pretrained(model)  # a model folder has a config.json (params schema)
    split_and_tokenize(tmp_path, DEMO / "labeled", DEMO / "unlabeled",
                       **{"base_model": str(model), "tokenize.max_len": 64})
    assert digest(tmp_path / "tokenized") == digest(demo_run / "tokenized")


def test_real_data_all_entities_map_back(real_data, tmp_path):
    split_and_tokenize(tmp_path, real_data / "labeled", real_data / "unlabeled")
    report = json.loads((tmp_path / "data.json").read_text(encoding="utf-8"))
    assert sum(report[s]["documents"] for s in ("train", "dev", "test")) == 800
    assert report["unlabeled"]["documents"] == 500
    assert report["skipped"] == []
    stats = json.loads((tmp_path / "tokenize.json").read_text(encoding="utf-8"))
    lost = {(x["doc_id"], x["start"], x["end"], x["type"])
            for x in stats["entities_without_tokens"]}
    gold = gold_spans(tmp_path / "split")
    recovered = recovered_spans(tmp_path / "tokenized" / "ner.parquet")
    assert recovered == gold - lost  # 100% of entities that have tokens map back exactly
    assert len(gold) > 10_000 and REAL_DATA.is_dir()
