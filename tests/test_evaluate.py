"""evaluate and predict end to end on a tiny random BERT; brat output round trip."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from dapt.data.documents import Document, Entity, read_jsonl, write_jsonl
from dapt.data.encoding import CharEncoder
from dapt.data.formats.brat import ann_text, file_stem, read_brat_folder, write_brat_folder
from dapt.data.readers import ReadReport
from dapt.data.windows import entity_token_spans
from dapt.ner.bio import bio_tags
from dapt.ner.inference import NerPredictor, sliding_windows
from dapt.ner.scoring import doc_spans, score_spans, type_confusion
from tests.helpers import run_module, tiny_token_classifier, write_brat, write_params

LABELS = ["O", "B-SYMPTOM", "I-SYMPTOM", "B-DRUG", "I-DRUG"]
TEXTS = [
    "功能主治：清热解毒，用于头痛发热，咽喉肿痛。",
    "  用法用量：口服，一次2丸，一日3次。\r\n\r\n注意事项：孕妇慎用。忌辛辣食物。",
    "【成份】金银花、连翼、薄荷。\n【功能主治】疏风解表，清热解毒。用于风热感冒，"
    "症见发热、头痛、咳嗽、口干、咽喉疼痛。" * 4,
    "本品为棕褐色的大蜜丸；气微香，味甘、微苦。\u3000\u3000贮藏：密封。",
]


def gold_docs() -> list[Document]:
    docs = []
    for i, text in enumerate(TEXTS, 1):
        ents = []
        for surface, etype in (("头痛", "SYMPTOM"), ("发热", "SYMPTOM"), ("孕妇", "SYMPTOM"),
                               ("金银花", "DRUG"), ("大蜜丸", "DRUG")):
            ents += [Entity(m.start(), m.end(), etype, surface)
                     for m in re.finditer(surface, text)]
        docs.append(Document(str(i), text, sorted(ents)))
    return docs


def model_targets() -> list[Document]:
    """What the test model is trained to predict: gold with a type and a boundary error."""
    out = []
    for doc in gold_docs():
        ents = []
        for e in doc.entities:
            if e.text == "金银花":  # 4 type errors (DRUG predicted as SYMPTOM)
                e = Entity(e.start, e.end, "SYMPTOM", e.text)
            elif e.text == "大蜜丸":  # 1 boundary error
                e = Entity(e.start + 1, e.end, "DRUG", e.text[1:])
            ents.append(e)
        out.append(Document(doc.id, doc.text, ents))
    return out


def overfit(model, tokenizer, docs: list[Document], max_len: int, steps: int) -> None:
    """Train on every inference window of ``docs`` until the model reproduces their tags."""
    encoder = CharEncoder.from_tokenizer(tokenizer)
    size = max_len - 2
    ids, labels = [], []
    for doc in docs:
        enc = encoder.encode(doc.text)
        spans, _ = entity_token_spans(doc.entities, enc.chars)
        tags = [LABELS.index(t) for t in bio_tags(spans, len(enc.ids))]
        for stride in (size, size // 2):
            for s, t in sliding_windows(len(enc.ids), size, stride):
                pad = size - (t - s)
                ids.append([tokenizer.cls_token_id, *enc.ids[s:t], tokenizer.sep_token_id,
                            *[tokenizer.pad_token_id] * pad])
                labels.append([-100, *tags[s:t], -100, *[-100] * pad])
    ids_t, labels_t = torch.tensor(ids), torch.tensor(labels)
    mask = (ids_t != tokenizer.pad_token_id).long()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        loss = model(input_ids=ids_t, attention_mask=mask, labels=labels_t).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A tiny BertForTokenClassification, scratch tokenizer, trained to ``model_targets``."""
    out = tmp_path_factory.mktemp("ner")
    model, tokenizer = tiny_token_classifier(TEXTS, LABELS)
    overfit(model, tokenizer, model_targets(), max_len=16, steps=100)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, model_dir) -> Path:
    tmp = tmp_path_factory.mktemp("eval")
    write_jsonl(tmp / "test.jsonl", gold_docs())
    params = write_params(tmp / "params.yaml", **{"tokenize.max_len": 16,
                                                  "evaluate.batch_size": 3})
    (tmp / "pred").mkdir()
    (tmp / "pred" / "stale.ann").write_text("T1\tX 0 1\tx\n", encoding="utf-8")
    run_evaluate(tmp, params, model_dir)
    return tmp


def run_evaluate(tmp: Path, params: Path, model_dir: Path) -> None:
    run_module("stages.evaluate", "--params", str(params), "--model", str(model_dir),
               "--test", str(tmp / "test.jsonl"), "--metrics", str(tmp / "metrics/eval.json"),
               "--plots", str(tmp / "plots"), "--predictions", str(tmp / "pred"))


def test_eval_json_shape(evaluated):
    """eval.json holds the strict scores of ``model_targets`` against gold, worked out by hand:
    of n gold spans (s SYMPTOM, 5 DRUG) the 4 DRUG spans predicted as SYMPTOM and the DRUG
    span cut short are wrong, so micro P = R = F1 = (n - 5)/n; SYMPTOM has P s/(s + 4), R 1,
    F1 2s/(2s + 4); DRUG scores 0, and macro F1 is SYMPTOM's F1 / 2."""
    metrics = json.loads((evaluated / "metrics/eval.json").read_text(encoding="utf-8"))
    test = metrics["test"]
    gold = [e for d in gold_docs() for e in d.entities]
    n, s = len(gold), sum(e.type == "SYMPTOM" for e in gold)
    assert (n, s) == (16, 11)  # 头痛 x5, 发热 x5, 孕妇; DRUG: 金银花 x4, 大蜜丸
    for key in ("f1", "precision", "recall"):
        assert test[key] == pytest.approx((n - 5) / n)
    symptom_f1 = 2 * s / (2 * s + 4)
    assert test["per_type"] == {
        "SYMPTOM": {"precision": pytest.approx(s / (s + 4)), "recall": 1.0,
                    "f1": pytest.approx(symptom_f1), "support": s},
        "DRUG": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 5}}
    assert test["macro_f1"] == pytest.approx(symptom_f1 / 2)
    assert (test["boundary_error_share"], test["type_error_share"]) == (0.2, 0.8)
    assert (test["support"], test["predicted"]) == (n, n)
    assert test["documents"] == len(TEXTS)
    assert test["errors"] == {"type": 4, "boundary": 1, "boundary_and_type": 0, "spurious": 0,
                              "missed": 0}


def test_full_gold_scores_count_the_nested_spans_a_flat_head_cannot_find(evaluated, model_dir,
                                                                        tmp_path):
    test = json.loads((evaluated / "metrics/eval.json").read_text(encoding="utf-8"))["test"]
    assert test["full_gold"] == {k: test[k] for k in ("f1", "precision", "recall", "support")}
    docs = gold_docs()
    outer = next(e for d in docs for e in d.entities if e.end - e.start >= 2)
    doc = next(d for d in docs if outer in d.entities)
    doc.nested = [Entity(outer.start, outer.start + 1, "PART", doc.text[outer.start])]
    write_jsonl(tmp_path / "test.jsonl", docs)
    run_evaluate(tmp_path, evaluated / "params.yaml", model_dir)
    nested = json.loads((tmp_path / "metrics/eval.json").read_text(encoding="utf-8"))["test"]
    n = test["support"]
    assert {k: nested[k] for k in ("f1", "support")} == {k: test[k] for k in ("f1", "support")}
    assert nested["full_gold"]["support"] == n + 1
    assert nested["full_gold"]["precision"] == pytest.approx((n - 5) / n)
    assert nested["full_gold"]["recall"] == pytest.approx((n - 5) / (n + 1))


def test_scores_of_known_predictions(evaluated):
    test = json.loads((evaluated / "metrics/eval.json").read_text(encoding="utf-8"))["test"]
    docs = read_brat_folder(evaluated / "pred", ReadReport(on_error="raise"), labeled=True)
    assert [d.entities for d in docs] == [d.entities for d in model_targets()]
    n = test["support"]
    assert test["predicted"] == n and test["precision"] == test["recall"] == (n - 5) / n
    assert test["errors"] == {"type": 4, "boundary": 1, "boundary_and_type": 0,
                              "spurious": 0, "missed": 0}
    assert test["type_error_share"] == 0.8 and test["boundary_error_share"] == 0.2
    assert test["per_type"]["DRUG"]["recall"] == 0.0 and test["per_type"]["DRUG"]["support"] == 5
    confusion = json.loads((evaluated / "plots/type_confusion.json").read_text(encoding="utf-8"))
    assert confusion.count({"actual": "DRUG", "predicted": "SYMPTOM"}) == 4
    assert confusion.count({"actual": "SYMPTOM", "predicted": "SYMPTOM"}) == n - 5


def test_plots(evaluated):
    metrics = json.loads((evaluated / "metrics/eval.json").read_text(encoding="utf-8"))
    per_type = json.loads((evaluated / "plots/per_type_f1.json").read_text(encoding="utf-8"))
    assert per_type == [{"type": t, "f1": v["f1"], "support": v["support"]}
                        for t, v in sorted(metrics["test"]["per_type"].items())]
    confusion = json.loads((evaluated / "plots/type_confusion.json").read_text(encoding="utf-8"))
    assert all(set(row) == {"actual", "predicted"} for row in confusion)
    gold = doc_spans(gold_docs())
    pred = doc_spans(read_brat_folder(evaluated / "pred", ReadReport(), labeled=True))
    boundary_matched = {(p.doc_id, p.start, p.end) for p in pred} & {
        (g.doc_id, g.start, g.end) for g in gold}
    assert len(confusion) == len(boundary_matched)
    assert confusion == type_confusion(gold, pred)


def test_predictions_round_trip_through_the_reader(evaluated, model_dir):
    report = ReadReport(on_error="raise")
    docs = read_brat_folder(evaluated / "pred", report, labeled=True)
    assert report.skipped == []
    assert not (evaluated / "pred" / "stale.ann").exists()
    gold = gold_docs()
    assert [d.id for d in docs] == [d.id for d in gold]
    assert [d.text for d in docs] == [d.text for d in gold]  # CRLF and spaces kept
    # the brat files hold exactly what the model predicts in process
    predictor = NerPredictor.from_pretrained(model_dir, max_len=16, batch_size=3)
    assert [d.entities for d in docs] == predictor.predict(gold)
    assert sum(len(d.entities) for d in docs) > 0
    # and the metrics are the strict scores of those files
    metrics = json.loads((evaluated / "metrics/eval.json").read_text(encoding="utf-8"))
    expected = json.loads(json.dumps(score_spans(doc_spans(gold), doc_spans(docs))))
    assert {k: v for k, v in metrics["test"].items()
            if k not in ("documents", "full_gold")} == expected


def test_evaluate_is_deterministic(evaluated, model_dir, tmp_path):
    (tmp_path / "test.jsonl").write_bytes((evaluated / "test.jsonl").read_bytes())
    run_evaluate(tmp_path, evaluated / "params.yaml", model_dir)
    for rel in ("metrics/eval.json", "plots/per_type_f1.json", "plots/type_confusion.json"):
        assert (tmp_path / rel).read_bytes() == (evaluated / rel).read_bytes()
    for ann in sorted((evaluated / "pred").glob("*.ann")):
        assert (tmp_path / "pred" / ann.name).read_bytes() == ann.read_bytes()


def test_predict_folder_matches_evaluate(evaluated, model_dir, tmp_path):
    inp = tmp_path / "in"
    for doc in gold_docs():
        write_brat(inp, doc.id, doc.text, ann="T1\tJUNK 0 1\tx\n")  # .ann is ignored
    (inp / "bad.txt").write_bytes(b"\xff\xfe not utf-8")
    write_brat(inp, "blank", "  \n ")
    proc = run_module("dapt.predict", "--model", str(model_dir), "--input", str(inp),
                      "--output", str(tmp_path / "out"), "--max-len", "16",
                      "--batch-size", "3")
    assert "bad.txt" in proc.stderr and "not UTF-8" in proc.stderr
    assert "blank.txt" in proc.stderr
    for doc in gold_docs():
        for ext in ("txt", "ann"):
            name = f"{doc.id}.{ext}"
            want = (evaluated / "pred" / name).read_bytes()
            assert (tmp_path / "out" / name).read_bytes() == want
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f"{d.id}.{ext}" for d in gold_docs() for ext in ("ann", "txt"))


def test_predict_text_file_one_document_per_line(model_dir, tmp_path):
    long_line = "用于头痛发热，咽喉肿痛。" * 60  # far longer than one window
    (tmp_path / "corpus.txt").write_text(
        f"{TEXTS[0]}\n\n{long_line}\r\n{TEXTS[3]}\n", encoding="utf-8")
    run_module("dapt.predict", "--model", str(model_dir), "--input",
               str(tmp_path / "corpus.txt"), "--output", str(tmp_path / "out"),
               "--params", str(tmp_path / "missing.yaml"), "--max-len", "16",
               "--batch-size", "8")
    report = ReadReport()
    docs = read_brat_folder(tmp_path / "out", report, labeled=False)
    assert [d.id for d in docs] == ["corpus_1", "corpus_3", "corpus_4"]
    assert [d.text for d in docs] == [TEXTS[0], long_line, TEXTS[3]]
    anns = {p.stem: p.read_text(encoding="utf-8") for p in (tmp_path / "out").glob("*.ann")}
    predictor = NerPredictor.from_pretrained(model_dir, max_len=16)
    predicted = predictor.predict(docs)
    assert predicted[1] and max(e.end for e in predicted[1]) > 100
    for doc, ents in zip(docs, predicted):
        assert anns[doc.id] == ann_text(doc.text, ents)


def test_predict_refuses_to_overwrite_its_input(model_dir, tmp_path):
    write_brat(tmp_path, "1", TEXTS[0])
    proc = run_module("dapt.predict", "--model", str(model_dir), "--input", str(tmp_path),
                      "--output", str(tmp_path), check=False)
    assert proc.returncode != 0 and "--output must differ" in proc.stderr


@pytest.mark.parametrize("module", ["stages.evaluate", "dapt.predict"])
def test_help_lists_params(module):
    assert "--params" in run_module(module, "--help").stdout


# brat writer --------------------------------------------------------------------------

def test_brat_writer_sorts_and_numbers_entities(tmp_path):
    text = "甲头痛\r\n乙 丸剂"
    ents = [Entity(7, 9, "DRUG", "丸剂"), Entity(1, 3, "SYMPTOM", "头痛")]
    write_brat_folder(tmp_path, [Document("7", text, ents)])
    assert (tmp_path / "7.ann").read_text(encoding="utf-8") == (
        "T1\tSYMPTOM 1 3\t头痛\nT2\tDRUG 7 9\t丸剂\n")
    assert (tmp_path / "7.txt").read_bytes() == text.encode("utf-8")
    report = ReadReport(on_error="raise")
    [doc] = read_brat_folder(tmp_path, report, labeled=True)
    assert doc.entities == sorted(ents) and doc.text == text


def test_brat_writer_rejects_unwritable_spans(tmp_path):
    with pytest.raises(ValueError, match="does not match"):
        ann_text("甲乙", [Entity(0, 1, "A", "乙")])
    with pytest.raises(ValueError, match="one brat line"):
        ann_text("甲\n乙", [Entity(0, 3, "A", "甲\n乙")])
    with pytest.raises(ValueError, match="share file name"):
        write_brat_folder(tmp_path, [Document("a:1", "甲"), Document("a_1", "乙")])


def test_file_stem():
    assert file_stem("17") == "17" and file_stem("corpus:3") == "corpus_3"
    assert file_stem("../x") == ".._x" and file_stem("..") == "_.."
    assert file_stem("说明书") == "说明书"


def test_document_without_predictions_round_trips(tmp_path):
    write_brat_folder(tmp_path, [Document("1", "甲乙丙")])
    assert (tmp_path / "1.ann").read_bytes() == b""
    report = ReadReport()
    docs = read_brat_folder(tmp_path, report, labeled=True, allow_empty_ann=True)
    assert report.skipped == [] and [d.id for d in docs] == ["1"]


def test_jsonl_documents_fixture_is_valid(tmp_path):
    write_jsonl(tmp_path / "t.jsonl", gold_docs())
    assert read_jsonl(tmp_path / "t.jsonl") == gold_docs()


def test_predict_without_params_file_needs_both_flags(model_dir, tmp_path):
    (tmp_path / "corpus.txt").write_text(TEXTS[0] + "\n", encoding="utf-8")
    proc = run_module("dapt.predict", "--model", str(model_dir), "--input",
                      str(tmp_path / "corpus.txt"), "--output", str(tmp_path / "out"),
                      "--params", str(tmp_path / "missing.yaml"), "--max-len", "16",
                      check=False)
    assert proc.returncode != 0
    assert "missing.yaml: params file not found" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_predict_output_holds_only_this_runs_documents(model_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for name in ("old.txt", "old.ann"):
        (out / name).write_text("stale", encoding="utf-8")
    (out / "notes.md").write_text("kept", encoding="utf-8")
    (tmp_path / "corpus.txt").write_text(TEXTS[0] + "\n", encoding="utf-8")
    run_module("dapt.predict", "--model", str(model_dir), "--input",
               str(tmp_path / "corpus.txt"), "--output", str(out), "--max-len", "16",
               "--batch-size", "8")
    assert sorted(p.name for p in out.iterdir()) == [
        "corpus_1.ann", "corpus_1.txt", "manifest.tsv", "notes.md"]
