"""predict hygiene: file names, manifest, name clashes, control characters, --max-len,
model-folder checks and output formats (``python -m dapt.predict`` run in process on a tiny
random BERT)."""

from __future__ import annotations

import logging
import shutil
import socket
from pathlib import Path

import huggingface_hub.constants as hub_constants
import pytest

from dapt.data.documents import Document
from dapt.data.formats.brat import read_brat_folder
from dapt.data.formats.registry import read_documents
from dapt.data.readers import InputError, ReadReport, read_corpus_file
from dapt.ner.heads import ModelFolderError, model_source
from dapt.ner.inference import NerPredictor
from dapt.params_schema import HUB_ENV, looks_like_hub_id
from dapt.predict import main
from tests.helpers import tiny_token_classifier, write_brat, write_params

LABELS = ["O", "B-SYMPTOM", "I-SYMPTOM"]
TEXT = "用于头痛发热，咽喉肿痛。"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """An untrained tiny NER model folder (max_position_embeddings 64)."""
    out = tmp_path_factory.mktemp("ner")
    model, tokenizer = tiny_token_classifier([TEXT + "甲乙"], LABELS)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to reach the network fails at once (instead of a long retry wait)."""
    def refuse(*args, **kwargs):
        raise OSError("network access in a test")
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def predict(model: Path, inp: Path, out: Path, *extra: str) -> None:
    main(["--model", str(model), "--input", str(inp), "--output", str(out),
          "--max-len", "16", "--batch-size", "4", *extra])


def fails(caplog, *argv) -> str:
    """Run predict expecting exit status 1; returns the logged error."""
    caplog.clear()
    with pytest.raises(SystemExit) as exit_:
        predict(*argv)
    assert exit_.value.code == 1
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# 1. name clashes ------------------------------------------------------------------------

def test_clashing_names_leave_the_output_untouched(model_dir, tmp_path, caplog):
    inp, out = tmp_path / "in", tmp_path / "out"
    write_brat(inp, "Doc", TEXT)
    write_brat(inp, "doc", TEXT)  # the same file on macOS/Windows file systems
    write_brat(out, "old", "旧", ann="")
    (out / "notes.md").write_text("kept", encoding="utf-8")
    (out / "manifest.tsv").write_text("id\tfile\nx:1\tx_1.txt\n", encoding="utf-8")
    before = snapshot(out)
    error = fails(caplog, model_dir, inp, out)
    assert "'Doc' and 'doc'" in error and "share file name" in error
    assert snapshot(out) == before


# 2. output names ------------------------------------------------------------------------

def test_folder_input_keeps_file_names_verbatim(model_dir, tmp_path):
    inp, out = tmp_path / "in", tmp_path / "out"
    names = ["a b", "a_b", "x:1", "说明书 (2)"]
    for i, name in enumerate(names):
        write_brat(inp, name, TEXT * (i + 1))
    predict(model_dir, inp, out)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{n}.{ext}" for n in names for ext in ("ann", "txt"))  # no manifest: nothing renamed
    report = ReadReport(on_error="raise")
    docs = read_brat_folder(out, report, labeled=True, allow_empty_ann=True)
    assert {d.id: d.text for d in docs} == {n: TEXT * (i + 1) for i, n in enumerate(names)}


def test_corpus_ids_are_renamed_with_a_manifest(model_dir, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    out = tmp_path / "out"
    (tmp_path / "notes.txt").write_text("头痛\n\n发热\n", encoding="utf-8")
    predict(model_dir, tmp_path / "notes.txt", out)
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.tsv", "notes_1.ann", "notes_1.txt", "notes_3.ann", "notes_3.txt"]
    assert (out / "manifest.tsv").read_text(encoding="utf-8") == (
        "id\tfile\nnotes:1\tnotes_1.txt\nnotes:3\tnotes_3.txt\n")
    assert "notes:1 -> notes_1.txt" in caplog.text and "notes:3 -> notes_3.txt" in caplog.text
    docs = read_brat_folder(out, ReadReport(on_error="raise"), labeled=False)
    assert [(d.id, d.text) for d in docs] == [("notes_1", "头痛"), ("notes_3", "发热")]
    # a later run whose names need no change leaves no stale manifest behind
    write_brat(tmp_path / "in", "1", TEXT)
    predict(model_dir, tmp_path / "in", out)
    assert sorted(p.name for p in out.iterdir()) == ["1.ann", "1.txt"]


# 3. binary and control characters -------------------------------------------------------

def test_control_characters_are_skipped_with_file_and_line(model_dir, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    (inp / "nul.txt").write_bytes(b"\0" * 64)
    write_brat(inp, "bell", "头痛\r\n发\x07热")
    write_brat(inp, "pua", "头\ue000痛")  # private use (Co): legitimate text
    write_brat(inp, "ok", "头痛\t发热\f咽喉\v肿痛\r\n")
    predict(model_dir, inp, out)
    assert sorted(p.stem for p in out.glob("*.txt")) == ["ok", "pua"]
    assert f"{inp / 'bell.txt'}:2: control character U+0007" in caplog.text
    assert f"{inp / 'nul.txt'}:1: control character U+0000" in caplog.text
    assert "(2 input problems skipped)" in caplog.text
    with pytest.raises(InputError, match=r"bell\.txt:2: control character U\+0007"):
        predict(model_dir, inp, out, "--on-error", "raise")


def test_control_characters_in_a_corpus_drop_only_their_line(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes("头痛\n\0\0\n发热\x1b[0m\n咽\ue000喉\r\n".encode())
    report = ReadReport()
    docs = read_corpus_file(path, report)
    assert [(d.id, d.text) for d in docs] == [("c:1", "头痛"), ("c:4", "咽\ue000喉")]
    assert [str(s) for s in report.skipped] == [
        f"{path}:2: control character U+0000 (binary data?)",
        f"{path}:3: control character U+001B (binary data?)"]


# 4. --max-len ---------------------------------------------------------------------------

@pytest.mark.parametrize("max_len,message", [
    ("100000", "--max-len 100000 is above the model's limit of 64 positions"),
    ("65", "--max-len 65 is above the model's limit of 64 positions"),
    ("2", "--max-len must be >= 3 ([CLS] + token + [SEP]), got 2"),
])
def test_max_len_is_checked_against_the_model(model_dir, tmp_path, caplog, max_len, message):
    write_brat(tmp_path / "in", "1", TEXT * 20)  # 240 characters: more than 64 positions
    error = fails(caplog, model_dir, tmp_path / "in", tmp_path / "out", "--max-len", max_len)
    assert message in error and (max_len == "2" or str(model_dir) in error)
    assert not (tmp_path / "out").exists()


def test_max_len_at_the_model_limit_works(model_dir, tmp_path):
    write_brat(tmp_path / "in", "1", TEXT * 20)
    predict(model_dir, tmp_path / "in", tmp_path / "out", "--max-len", "64")
    assert (tmp_path / "out" / "1.ann").exists()


def test_max_len_from_the_params_file_names_the_params_key(model_dir, tmp_path, caplog):
    write_params(tmp_path / "p.yaml", **{"tokenize.max_len": 128})  # a complete, valid file
    write_brat(tmp_path / "in", "1", TEXT)
    caplog.clear()
    with pytest.raises(SystemExit):
        main(["--model", str(model_dir), "--input", str(tmp_path / "in"), "--output",
              str(tmp_path / "out"), "--params", str(tmp_path / "p.yaml"), "--batch-size", "4"])
    assert f"{tmp_path / 'p.yaml'}: tokenize.max_len 128 is above" in caplog.text


def test_evaluate_shares_the_max_len_check():
    model, tokenizer = tiny_token_classifier([TEXT], LABELS, max_position_embeddings=32)
    with pytest.raises(ValueError, match="max_len 33 is above the model's limit of 32"):
        NerPredictor(model, tokenizer, max_len=33)
    assert NerPredictor(model, tokenizer, max_len=32).predict([Document("d", TEXT * 9)])


# 5. model folder ------------------------------------------------------------------------

def broken_copy(model_dir: Path, dest: Path, *remove: str) -> Path:
    shutil.copytree(model_dir, dest)
    for name in remove:
        (dest / name).unlink(missing_ok=True)
    return dest


@pytest.mark.parametrize("remove,missing", [
    (("config.json",), "config.json"),
    (("model.safetensors",), "weights (model.safetensors or pytorch_model.bin)"),
    (("tokenizer.json", "vocab.txt"), "tokenizer files (tokenizer.json, vocab.txt,"),
])
def test_incomplete_model_folder_names_the_missing_piece(model_dir, tmp_path, caplog, remove,
                                                         missing):
    broken = broken_copy(model_dir, tmp_path / "model", *remove)
    write_brat(tmp_path / "in", "1", TEXT)
    error = fails(caplog, broken, tmp_path / "in", tmp_path / "out")
    assert f"--model {broken}: missing {missing}" in error
    assert not (tmp_path / "out").exists()


def test_missing_empty_or_file_model(model_dir, tmp_path, caplog):
    write_brat(tmp_path / "in", "1", TEXT)
    args = (tmp_path / "in", tmp_path / "out")
    missing = tmp_path / "no" / "model"
    assert f"--model {missing}: no such folder" in fails(caplog, missing, *args)
    (tmp_path / "empty").mkdir()
    assert f"--model {tmp_path / 'empty'}: empty folder" in fails(caplog, tmp_path / "empty",
                                                                  *args)
    file = tmp_path / "in" / "1.txt"
    assert f"--model {file}: not a folder" in fails(caplog, file, *args)


@pytest.mark.parametrize("name,error", [
    ("./ner", "./ner: no such folder"), ("/abs/ner", "/abs/ner: no such folder"),
    ("a/b/c", "a/b/c: no such folder"),
    ("models/typo", "models/typo: no such folder; as a hub id: not a local folder, and hub "
                    "look-ups are off"),
    ("bert-base-chinese", "bert-base-chinese: no such folder; as a hub id: not a local folder"),
])
def test_model_names_follow_the_base_model_rule(name, error, monkeypatch, tmp_path):
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path))  # nothing cached
    monkeypatch.delenv(HUB_ENV, raising=False)
    with pytest.raises(ModelFolderError) as found:
        model_source(name)
    assert str(found.value).startswith(error)
    monkeypatch.setenv(HUB_ENV, "1")
    if looks_like_hub_id(name):
        assert model_source(name) == {"local_files_only": False}
    else:
        with pytest.raises(ModelFolderError):
            model_source(name)


def test_an_existing_folder_is_local_even_when_it_reads_like_a_hub_id(model_dir, monkeypatch):
    monkeypatch.chdir(model_dir.parent)
    assert looks_like_hub_id(model_dir.name) is False
    assert model_source(model_dir.name) == {"local_files_only": True}


@pytest.mark.parametrize("fmt", ["conll", "cluener", "cmeee", "doccano", "jsonl"])
def test_predictions_in_another_format_read_back_as_the_brat_ones(model_dir, tmp_path, fmt):
    inp = tmp_path / "in"
    write_brat(inp, "a", TEXT)
    write_brat(inp, "b", "咽喉肿痛。\n用于头痛。")
    predict(model_dir, inp, tmp_path / "brat")
    predict(model_dir, inp, tmp_path / f"pred.{fmt}", "--format", fmt)
    brat = read_brat_folder(tmp_path / "brat", ReadReport(on_error="raise"),
                            allow_empty_ann=True)
    other, read_as = read_documents(tmp_path / f"pred.{fmt}", ReadReport(on_error="raise"))
    assert read_as == fmt
    assert [(d.id, d.text, d.entities) for d in other] == \
        [(d.id, d.text, d.entities) for d in brat]


def test_input_in_a_registry_format_ignores_its_labels(model_dir, tmp_path):
    (tmp_path / "test.json").write_text(
        '[{"text": "用于头痛发热。", "entities": [{"start_idx": 2, "end_idx": 3, '
        '"type": "sym", "entity": "头痛"}]}]', encoding="utf-8")
    predict(model_dir, tmp_path / "test.json", tmp_path / "out.json", "--input-format", "cmeee",
            "--format", "cmeee")
    [doc], _ = read_documents(tmp_path / "out.json", ReadReport(on_error="raise"), fmt="cmeee")
    assert doc.id == "test:1" and doc.text == "用于头痛发热。"
    assert all(e.type != "sym" for e in doc.entities)  # predicted types only
