"""Every kind of bad input gets a clear, located error or a counted skip."""

from __future__ import annotations

import json

import pytest

from dapt.data.formats.brat import read_brat_folder
from dapt.data.readers import (
    InputError,
    ReadReport,
    drop_duplicate_ids,
    read_corpus_file,
)
from tests.helpers import run_module, write_brat, write_params

TEXT = "功能主治：清热解毒。用于头痛。"  # 清热解毒 5-9, 头痛 12-14


def read(folder, on_error="skip", labeled=True):
    report = ReadReport(on_error=on_error)
    return read_brat_folder(folder, report, labeled=labeled), report


def reasons(report):
    return [(s.file.rsplit("/", 1)[-1], s.line, s.reason) for s in report.skipped]


def test_valid_document(tmp_path):
    write_brat(tmp_path, "7", TEXT, "T1\tDRUG_EFFICACY 5 9\t清热解毒\nT2\tSYMPTOM 12 14\t头痛\n")
    docs, report = read(tmp_path)
    assert report.skipped == []
    assert [(e.type, e.start, e.end, e.text) for e in docs[0].entities] == [
        ("DRUG_EFFICACY", 5, 9, "清热解毒"), ("SYMPTOM", 12, 14, "头痛")]


@pytest.mark.parametrize("line, reason", [
    ("T1\tSYMPTOM 12\t头痛", "malformed"),
    ("T1 SYMPTOM 12 14 头痛", "malformed"),
    ("T1\tSYMPTOM 12 99\t头痛", "out of range"),
    ("T1\tSYMPTOM 14 12\t头痛", "empty or reversed"),
    ("T1\tSYMPTOM 12 12\t", "empty or reversed"),
    ("T1\tSYMPTOM 11 13\t头痛", "span text"),
    ("T1\tSYMPTOM 5 7;12 14\t清热 头痛", "discontinuous"),
    ("X1\tfoo", "unknown annotation line kind"),
])
def test_bad_ann_line_is_skipped_with_file_and_line(tmp_path, line, reason):
    write_brat(tmp_path, "1", TEXT, f"T9\tDRUG_EFFICACY 5 9\t清热解毒\n{line}\n")
    docs, report = read(tmp_path)
    assert len(docs[0].entities) == 1  # the good line survives
    [(file, line_no, why)] = reasons(report)
    assert (file, line_no) == ("1.ann", 2) and reason in why


def test_raise_mode_names_file_and_line(tmp_path):
    write_brat(tmp_path, "1", TEXT, "T1\tSYMPTOM 11 13\t头痛\n")
    with pytest.raises(InputError, match=r"1\.ann:1: span text"):
        read(tmp_path, on_error="raise")


def test_notes_relations_attributes_are_ignored_and_counted(tmp_path):
    ann = ("T1\tSYMPTOM 12 14\t头痛\n#1\tAnnotatorNotes T1\tnote\n"
           "R1\tRel Arg1:T1 Arg2:T1\nA1\tNegated T1\n")
    write_brat(tmp_path, "1", TEXT, ann)
    docs, report = read(tmp_path)
    assert report.skipped == [] and len(docs[0].entities) == 1
    assert report.ignored == {"ann_lines_#": 1, "ann_lines_R": 1, "ann_lines_A": 1}


@pytest.mark.parametrize("first, second, kept, line, kind", [
    ("T1\tSYMPTOM 10 14\t用于头痛", "T2\tSYMPTOM 12 14\t头痛", (10, 14), 2, "nested in"),
    ("T1\tSYMPTOM 10 13\t用于头", "T2\tSYMPTOM 12 14\t头痛", (10, 13), 2, "crosses"),
    # same span, two types: the type that sorts first stays (DISEASE), whatever the line order
    ("T1\tSYMPTOM 12 14\t头痛", "T2\tDISEASE 12 14\t头痛", (12, 14), 1, "same span as"),
])
def test_overlapping_and_nested_spans_follow_the_nested_policy(tmp_path, first, second, kept,
                                                               line, kind):
    write_brat(tmp_path, "1", TEXT, f"{first}\n{second}\n")
    docs, report = read(tmp_path)
    [entity] = docs[0].entities
    assert (entity.start, entity.end) == kept and len(docs[0].nested) == 1
    assert report.skipped == [] and sum(report.nested.values()) == 1
    with pytest.raises(InputError, match=f"1.ann:{line}: span .* {kind} .*data.nested: error"):
        read_brat_folder(tmp_path, ReadReport(), nested="error")


def test_a_span_given_twice_is_one_span_counted_as_a_duplicate(tmp_path):
    write_brat(tmp_path, "1", TEXT, "T1\tSYMPTOM 12 14\t头痛\nT2\tSYMPTOM 12 14\t头痛\n")
    docs, report = read(tmp_path)
    assert len(docs[0].entities) == 1 and docs[0].nested == []
    assert report.ignored["duplicate_spans"] == 1 and report.skipped == []


def test_missing_empty_and_orphan_files(tmp_path):
    write_brat(tmp_path, "1", TEXT)  # no .ann
    write_brat(tmp_path, "2", "", "")  # empty text
    write_brat(tmp_path, "3", TEXT, "\n")  # empty .ann
    (tmp_path / "4.ann").write_text("T1\tSYMPTOM 0 1\tx\n", encoding="utf-8")  # no .txt
    docs, report = read(tmp_path)
    assert docs == []
    got = sorted((f, why) for f, _, why in reasons(report))
    assert got == [("1.ann", "missing .ann file"), ("2.txt", "empty text"),
                   ("3.ann", "empty .ann file (document dropped from labeled data)"),
                   ("4.ann", "no matching .txt file")]


def test_non_utf8_text_reports_line(tmp_path):
    (tmp_path / "1.txt").write_bytes("第一行\n第二行".encode() + b"\xff\xfe")
    (tmp_path / "1.ann").write_text("", encoding="utf-8")
    docs, report = read(tmp_path)
    [(file, line_no, why)] = reasons(report)
    assert docs == [] and file == "1.txt" and line_no == 2 and why.startswith("not UTF-8")


def test_bom_is_removed_and_offsets_follow_it(tmp_path):
    write_brat(tmp_path, "1", "\ufeff" + TEXT, "T1\tSYMPTOM 12 14\t头痛\n")
    docs, report = read(tmp_path)
    assert docs[0].text == TEXT and len(docs[0].entities) == 1
    assert report.ignored["utf8_bom_removed"] == 1


def test_crlf_offsets_count_the_carriage_return(tmp_path):
    text = "【功能主治】\r\n清热解毒。"  # \r at 6, \n at 7, 清热解毒 at 8-12
    write_brat(tmp_path, "1", text, "T1\tDRUG_EFFICACY 8 12\t清热解毒\r\n")
    docs, report = read(tmp_path)
    assert report.skipped == []
    e = docs[0].entities[0]
    assert docs[0].text[e.start:e.end] == "清热解毒" and (e.start, e.end) == (8, 12)
    assert report.ignored["crlf_documents"] >= 1


def test_duplicate_ids_first_wins(tmp_path):
    write_brat(tmp_path / "a", "5", TEXT, "T1\tSYMPTOM 12 14\t头痛\n")
    write_brat(tmp_path / "b", "5", "另一个文档。")
    report = ReadReport()
    labeled = read_brat_folder(tmp_path / "a", report)
    unlabeled = read_brat_folder(tmp_path / "b", report, labeled=False)
    docs = drop_duplicate_ids(labeled + unlabeled, report, "inputs")
    assert [d.text for d in docs] == [TEXT]
    assert "duplicate document id '5'" in report.skipped[0].reason


def test_corpus_file_one_document_per_line(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes("第一篇。\r\n\n第二篇。\n".encode())
    report = ReadReport()
    docs = read_corpus_file(path, report)
    assert [(d.id, d.text) for d in docs] == [("corpus:1", "第一篇。"), ("corpus:3", "第二篇。")]
    assert report.ignored["corpus_blank_lines"] == 2  # the empty line and the final newline


def test_split_stage_reports_skips_in_metrics(tmp_path):
    labeled = tmp_path / "labeled"
    for i in range(10):
        write_brat(labeled, str(i), TEXT, "T1\tSYMPTOM 12 14\t头痛\n")
    write_brat(labeled, "99", TEXT, "T1\tSYMPTOM 11 13\t头痛\n")
    write_brat(labeled, "100", TEXT)
    params = write_params(tmp_path / "params.yaml", **{
        "data.labeled_dir": str(labeled), "data.unlabeled_dir": None})
    run_module("stages.split", "--params", str(params), "--out", str(tmp_path / "split"),
               "--metrics", str(tmp_path / "data.json"))
    metrics = json.loads((tmp_path / "data.json").read_text(encoding="utf-8"))
    assert sum(metrics[s]["documents"] for s in ("train", "dev", "test")) == 11
    assert metrics["unlabeled"]["documents"] == 0
    assert {(s["file"].rsplit("/", 1)[-1], s["line"]) for s in metrics["skipped"]} == {
        ("99.ann", 1), ("100.ann", None)}


def test_non_utf8_file_name_is_skipped_and_reported_printably(tmp_path):
    name = "说明书".encode("gbk") + b".txt"
    with open(bytes(tmp_path) + b"/" + name, "wb") as f:
        f.write("清热解毒。".encode())
    docs, report = read(tmp_path, labeled=False)
    [skip] = report.skipped
    assert docs == [] and skip.reason == "file name is not valid UTF-8"
    skip.file.encode("utf-8")  # printable in metrics/data.json


def test_unreadable_entry_is_skipped(tmp_path):
    (tmp_path / "dir.txt").mkdir()
    docs, report = read(tmp_path, labeled=False)
    assert docs == [] and report.skipped[0].reason.startswith("unreadable")


def test_bad_bytes_in_a_corpus_drop_only_their_line(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes("第一篇。\n".encode() + b"\xff\n" + "第三篇。\n".encode())
    report = ReadReport()
    docs = read_corpus_file(path, report)
    assert [d.id for d in docs] == ["corpus:1", "corpus:3"]
    assert [(s.line, s.reason.split(" (")[0]) for s in report.skipped] == [(2, "not UTF-8")]


def test_ids_sort_numerically_then_by_name(tmp_path):
    for stem in ("10", "2", "01", "1", "b", "a", "²"):
        write_brat(tmp_path, stem, "正文。")
    docs, _ = read(tmp_path, labeled=False)
    assert [d.id for d in docs] == ["01", "1", "2", "10", "a", "b", "²"]
