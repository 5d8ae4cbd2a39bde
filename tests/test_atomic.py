"""Atomic writes (dapt.data.atomic): a kill or an error leaves the old output or none, never a
partial one; the writers that use them produce the same bytes as plain writes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dapt.data import atomic
from dapt.data.atomic import atomic_dir, atomic_file, write_bytes
from dapt.data.contracts import NER_SCHEMA, write_json, write_rows
from dapt.data.documents import Document, Entity, write_jsonl
from dapt.data.formats.brat import write_brat_folder
from tests.helpers import REPO


def names(folder):
    return sorted(p.name for p in folder.iterdir())


def tree(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_file_is_replaced_on_success_and_kept_on_error(tmp_path):
    path = tmp_path / "sub" / "m.json"
    write_bytes(path, b"old")
    with pytest.raises(RuntimeError), atomic_file(path) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed")
    assert path.read_bytes() == b"old" and names(path.parent) == ["m.json"]
    write_bytes(path, b"new")
    assert path.read_bytes() == b"new" and names(path.parent) == ["m.json"]
    with pytest.raises(RuntimeError), atomic_file(tmp_path / "none.json") as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError
    assert names(tmp_path) == ["sub"]


def test_folder_is_swapped_on_success_and_kept_on_error(tmp_path):
    out = tmp_path / "model"
    with atomic_dir(out) as tmp:
        (tmp / "a").write_bytes(b"1")
    with pytest.raises(RuntimeError), atomic_dir(out) as tmp:
        (tmp / "b").write_bytes(b"2")
        raise RuntimeError
    assert tree(out) == {"a": b"1"} and names(tmp_path) == ["model"]
    with atomic_dir(out) as tmp:
        (tmp / "b").write_bytes(b"2")
    assert tree(out) == {"b": b"2"} and names(tmp_path) == ["model"]
    with atomic_dir(out, keep=True) as tmp:
        (tmp / "c").write_bytes(b"3")
    assert tree(out) == {"b": b"2", "c": b"3"} and names(tmp_path) == ["model"]


def test_a_failed_swap_puts_the_old_folder_back(tmp_path, monkeypatch):
    out = tmp_path / "model"
    out.mkdir()
    (out / "a").write_bytes(b"1")
    rename = os.rename
    calls = []

    def second_fails(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError("rename failed")
        rename(src, dst)

    monkeypatch.setattr(atomic.os, "rename", second_fails)
    with pytest.raises(OSError), atomic_dir(out) as tmp:
        (tmp / "b").write_bytes(b"2")
    assert tree(out) == {"a": b"1"} and names(tmp_path) == ["model"]


WRITER = """
import sys, time
from dapt.data.atomic import atomic_dir, atomic_file
with atomic_file(sys.argv[1]) as tmp, atomic_dir(sys.argv[2]) as folder:
    tmp.write_bytes(b"half")
    (folder / "half").write_bytes(b"half")
    print("writing", flush=True)
    time.sleep(60)
"""


def test_sigkill_mid_write_leaves_the_old_outputs_and_the_next_write_cleans_up(tmp_path):
    path, folder = tmp_path / "eval.json", tmp_path / "model"
    write_bytes(path, b"old")
    with atomic_dir(folder) as tmp:
        (tmp / "weights").write_bytes(b"old")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(folder)], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline() == "writing\n"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert path.read_bytes() == b"old" and tree(folder) == {"weights": b"old"}
    left = {f"eval.json.tmp-{proc.pid}", f"model.tmp-{proc.pid}"}
    assert set(names(tmp_path)) == {"eval.json", "model"} | left  # a kill cannot clean up
    write_bytes(path, b"new")
    with atomic_dir(folder) as tmp:
        (tmp / "weights").write_bytes(b"new")
    assert names(tmp_path) == ["eval.json", "model"]
    assert path.read_bytes() == b"new" and tree(folder) == {"weights": b"new"}


def test_temporary_names_of_a_running_process_are_left_alone(tmp_path):
    other = tmp_path / f"m.json.tmp-{os.getppid()}"  # a live process, maybe mid-write
    other.write_bytes(b"theirs")
    write_bytes(tmp_path / "m.json", b"mine")
    assert names(tmp_path) == ["m.json", other.name]


def test_writers_give_the_bytes_of_plain_writes(tmp_path):
    metrics = REPO / "metrics" / "eval.json"
    write_json(tmp_path / "eval.json", json.loads(metrics.read_text(encoding="utf-8")))
    assert (tmp_path / "eval.json").read_bytes() == metrics.read_bytes()

    rows = [{"doc_id": "1", "split": "train", "window": 0, "input_ids": [1, 5, 2],
             "char_start": [-1, 0, -1], "char_end": [-1, 1, -1], "tags": [None, "B-X", None]}]
    write_rows(rows, NER_SCHEMA, tmp_path / "ner.parquet")
    table = pa.table({k: [r[k] for r in rows] for k in NER_SCHEMA.names}, schema=NER_SCHEMA)
    pq.write_table(table, tmp_path / "plain.parquet", compression="zstd")
    assert (tmp_path / "ner.parquet").read_bytes() == (tmp_path / "plain.parquet").read_bytes()

    doc = Document("7", "头痛，发热。\r\n", [Entity(0, 2, "SYMPTOM", "头痛")])
    assert write_jsonl(tmp_path / "d.jsonl", [doc, Document("8", "x")]) == 2
    assert (tmp_path / "d.jsonl").read_bytes() == (
        doc.to_json() + "\n" + Document("8", "x").to_json() + "\n").encode("utf-8")
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_brat_folder_is_swapped_in_and_keeps_other_files(tmp_path):
    out = tmp_path / "predictions"
    out.mkdir()
    (out / "stale.ann").write_text("T1\tX 0 1\ta\n")
    (out / "notes.md").write_text("mine")
    doc = Document("corpus:3", "头痛\n", [Entity(0, 2, "SYMPTOM", "头痛")])
    paths = write_brat_folder(out, [doc])
    assert paths == [out / "corpus_3.ann"]
    assert tree(out) == {"corpus_3.ann": "T1\tSYMPTOM 0 2\t头痛\n".encode(),
                         "corpus_3.txt": "头痛\n".encode(), "notes.md": b"mine",
                         "manifest.tsv": b"id\tfile\ncorpus:3\tcorpus_3.txt\n"}
    with pytest.raises(ValueError, match="does not match"):
        write_brat_folder(out, [Document("9", "abc", [Entity(0, 1, "X", "b")])])
    assert set(tree(out)) == {"corpus_3.ann", "corpus_3.txt", "notes.md", "manifest.tsv"}
    assert names(tmp_path) == ["predictions"]


def test_save_model_writes_what_save_pretrained_writes(tmp_path):
    from transformers import BertConfig

    from dapt.data.tokenizer_io import train_scratch_tokenizer
    from dapt.training.models import BertForMaskedLMAtPositions, save_model, seed_for_init

    tokenizer = train_scratch_tokenizer(["头痛发热，咳嗽。", "abc 10ml"], 100, 1)
    seed_for_init(0)
    model = BertForMaskedLMAtPositions(BertConfig(
        vocab_size=len(tokenizer), hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=16, max_position_embeddings=16))
    save_model(model, tokenizer, tmp_path / "model")
    model.save_pretrained(tmp_path / "plain")
    tokenizer.save_pretrained(tmp_path / "plain")
    assert tree(tmp_path / "model") == tree(tmp_path / "plain")
    assert names(tmp_path) == ["model", "plain"]
