"""ONNX export (``python -m dapt.export --onnx``) and ONNX Runtime prediction: the same spans
as PyTorch for every head, on demo documents and on the real test split (skipped when the
real data is absent), with tiny seeded models built here (models/ner is DVC-tracked)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch

from dapt.data.documents import Document, read_jsonl
from dapt.data.formats.brat import read_brat_folder
from dapt.data.readers import ReadReport
from dapt.export import export_onnx
from dapt.export import main as export_main
from dapt.ner.bio import label_list
from dapt.ner.heads import BertCrfForTokenClassification, ModelFolderError
from dapt.ner.inference import NerPredictor
from dapt.ner.onnx_runtime import CRF_WEIGHTS, OnnxCrfTokenClassifier
from dapt.ner.scoring import doc_spans, score_spans
from dapt.predict import main as predict_main
from stages import split
from tests.helpers import DEMO, REAL_DATA, tiny_token_classifier, write_params

HEADS = ("softmax", "crf", "bilstm_crf")
TYPES = ["DRUG_EFFICACY", "PERSON_GROUP", "SYMPTOM"]


def tiny_model_folder(out: Path, texts: list[str], head: str, positions: int = 64) -> Path:
    """A seeded, untrained one-layer NER model of ``head`` saved to ``out`` (random CRF
    transitions, so Viterbi has something to decide)."""
    model, tokenizer = tiny_token_classifier(texts, label_list(TYPES), positions)
    if head != "softmax":
        config = model.config
        config.ner_head, config.lstm_hidden_size = head, 8
        torch.manual_seed(1)
        model = BertCrfForTokenClassification(config)
        with torch.no_grad():
            model.crf.transitions.normal_()
            model.crf.start.normal_()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def predictions(model_dir: Path, docs: list[Document], max_len: int) -> list[Document]:
    predictor = NerPredictor.from_pretrained(model_dir, max_len, batch_size=16, threads=1)
    return [Document(d.id, d.text, ents) for d, ents in zip(docs, predictor.predict(docs))]


@pytest.fixture(scope="module")
def demo_docs() -> list[Document]:
    if not (DEMO / "labeled").is_dir():
        pytest.skip(f"demo data not found at {DEMO}")
    return read_brat_folder(DEMO / "labeled", ReadReport())[:40]


@pytest.fixture(scope="module")
def exported(tmp_path_factory, demo_docs) -> dict[str, tuple[Path, Path]]:
    """head -> (PyTorch model folder, its ONNX export folder), on the demo texts."""
    root = tmp_path_factory.mktemp("onnx")
    texts = [d.text for d in demo_docs]
    folders = {}
    for head in HEADS:
        model = tiny_model_folder(root / head, texts, head)
        folders[head] = model, export_onnx(model, root / f"{head}-onnx").parent
    return folders


@pytest.mark.parametrize("head", HEADS)
def test_onnx_predictions_equal_pytorch_span_for_span(exported, demo_docs, head):
    model, onnx = exported[head]
    # max_len 16: many windows per document, overlaps merged, batches of mixed lengths
    want = predictions(model, demo_docs, 16)
    got = predictions(onnx, demo_docs, 16)
    assert sum(len(d.entities) for d in want) > 100  # an untrained model predicts plenty
    assert [d.entities for d in got] == [d.entities for d in want]


def test_export_folder_holds_the_crf_parameters_for_crf_heads(exported):
    assert not (exported["softmax"][1] / CRF_WEIGHTS).exists()
    predictor = NerPredictor.from_pretrained(exported["crf"][1], 16)
    assert isinstance(predictor.model, OnnxCrfTokenClassifier)
    source = BertCrfForTokenClassification.from_pretrained(exported["crf"][0])
    for name, value in source.crf.state_dict().items():
        assert torch.equal(predictor.model.crf.state_dict()[name], value), name


def test_export_folder_without_crf_parameters_names_the_missing_file(exported, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in exported["bilstm_crf"][1].iterdir():
        if f.name != CRF_WEIGHTS:
            (broken / f.name).write_bytes(f.read_bytes())
    with pytest.raises(ModelFolderError, match=CRF_WEIGHTS):
        NerPredictor.from_pretrained(broken, 16)


def test_export_command_and_predict_on_the_export(exported, demo_docs, tmp_path, caplog):
    model = exported["bilstm_crf"][0]
    out = tmp_path / "export"
    export_main(["--onnx", "--model", str(model), "--output", str(out)])
    with pytest.raises(SystemExit):  # an existing export is kept unless --force
        export_main(["--onnx", "--model", str(model), "--output", str(out)])
    inp = tmp_path / "docs.jsonl"
    inp.write_text("".join(json.dumps({"id": d.id, "text": d.text}, ensure_ascii=False) + "\n"
                           for d in demo_docs[:10]), encoding="utf-8")
    written = {}
    for name, folder in (("torch", model), ("onnx", out)):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="predict"):
            predict_main(["--model", str(folder), "--input", str(inp), "--input-format",
                          "jsonl", "--format", "jsonl", "--output", str(tmp_path / name),
                          "--max-len", "16", "--batch-size", "8", "--threads", "1"])
        assert "documents/s" in caplog.text and "characters/s" in caplog.text
        written[name] = (tmp_path / name).read_text(encoding="utf-8")
    assert written["onnx"] == written["torch"]


# the real test split ------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_split(tmp_path_factory) -> tuple[list[Document], list[Document]]:
    """(train, test) documents of the real data, split as the pipeline splits them."""
    if not (REAL_DATA / "labeled").is_dir():
        pytest.skip(f"real data not found at {REAL_DATA}")
    work = tmp_path_factory.mktemp("real-split")
    params = write_params(work / "params.yaml", **{
        "data.labeled_dir": str(REAL_DATA / "labeled"), "data.unlabeled_dir": None})
    split.main(["--params", str(params), "--out", str(work / "split"),
                "--metrics", str(work / "data.json")])
    return read_jsonl(work / "split" / "train.jsonl"), read_jsonl(work / "split" / "test.jsonl")


@pytest.mark.parametrize("head", ["softmax", "bilstm_crf"])
def test_onnx_equals_pytorch_on_the_real_test_split(real_split, tmp_path, head):
    train, test = real_split
    model = tiny_model_folder(tmp_path / head, [d.text for d in train], head, positions=128)
    onnx = export_onnx(model, tmp_path / f"{head}-onnx").parent
    want, got = predictions(model, test, 128), predictions(onnx, test, 128)
    assert len(test) > 100 and sum(len(d.entities) for d in want) > 1000
    assert doc_spans(got) == doc_spans(want)  # span for span
    assert score_spans(doc_spans(test), doc_spans(got)) == \
        score_spans(doc_spans(test), doc_spans(want))  # strict F1 and the rest, exactly
