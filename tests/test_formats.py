"""The document-format registry: detection, the samples, round trips, bad input, convert."""

from __future__ import annotations

import importlib.util
import json
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dapt.data.documents import Document, Entity, read_jsonl, write_jsonl
from dapt.data.formats.base import ReadOptions
from dapt.data.formats.registry import FORMATS, NAMES, detect, read_documents, write_documents
from dapt.data.formats.tags import decode, label_names
from dapt.data.nested import resolve
from dapt.data.readers import InputError, ReadReport
from dapt.data.splitting import read_inputs
from tests.helpers import REPO, split_and_tokenize, write_params

SAMPLES = REPO / "data" / "samples"
HAS_DATASETS = importlib.util.find_spec("datasets") is not None
needs_datasets = pytest.mark.skipif(not HAS_DATASETS, reason="the hf format needs datasets")

# sample folder -> (format, documents, flat spans, nested spans, what the reader ignored)
SAMPLE_TABLE = {
    "brat": ("brat", 10, 54, 7, {"ann_lines_#": 1, "crlf_documents": 1, "utf8_bom_removed": 1}),
    "cluener": ("cluener", 10, 54, 7, {"files_with_inclusive_ends": 1}),
    "cmeee": ("cmeee", 10, 54, 7, {"files_with_inclusive_ends": 1}),  # v1 file only
    "conll_bio": ("conll", 10, 54, 0, {}),
    "conll_bioes": ("conll", 10, 54, 0, {"utf8_bom_removed": 1, "crlf_documents": 10}),
    "conll_bmes": ("conll", 28, 54, 0, {}),  # one document per sentence
    "conll_iob1": ("conll", 10, 55, 0, {}),  # the innermost spans
    "doccano": ("doccano", 10, 54, 7, {}),
    "hf": ("hf", 10, 54, 0, {}),
}
# the sample each format's round trip starts from (jsonl: written from brat first)
SAMPLE_OF = {"brat": "brat", "conll": "conll_bio", "cluener": "cluener", "cmeee": "cmeee",
             "doccano": "doccano", "hf": "hf", "jsonl": "brat"}


def sample_param(name):
    marks = [needs_datasets] if name == "hf" else []
    return pytest.param(name, marks=marks, id=name)


def format_param(fmt):
    marks = [needs_datasets] if fmt == "hf" else []
    return pytest.param(fmt, marks=marks, id=fmt)


def options_for(sample):
    return ReadOptions(conll_documents="sentences") if sample == "conll_bmes" else ReadOptions()


def read_sample(sample, nested="outermost"):
    report = ReadReport()
    docs, _ = read_documents(SAMPLES / sample, report, options_for(sample), nested=nested)
    return docs, report


def flat(docs):
    return [Document(d.id, d.text, d.entities) for d in docs]


def as_json(docs, holds_nested=True):
    return [d.to_json() for d in (docs if holds_nested else flat(docs))]


def out_path(folder, fmt, stem="out"):
    return Path(folder) / f"{stem}{FORMATS[fmt].suffix}"


def clean(report):
    return (report.skipped, report.repaired) == ([], [])


# --- the samples --------------------------------------------------------------------------

def test_every_sample_folder_is_in_the_table():
    assert {p.name for p in SAMPLES.iterdir() if p.is_dir()} == set(SAMPLE_TABLE)


def test_the_registry_names():
    assert NAMES == ("brat", "conll", "cluener", "cmeee", "doccano", "hf", "jsonl")
    assert {n for n in NAMES if FORMATS[n].holds_nested} == {"brat", "cluener", "cmeee",
                                                              "doccano", "jsonl"}
    assert all(FORMATS[n].name == n for n in NAMES)


@pytest.mark.parametrize("sample", [sample_param(s) for s in SAMPLE_TABLE])
def test_sample_is_detected_and_read_without_skips(sample):
    fmt, n_docs, n_flat, n_nested, ignored = SAMPLE_TABLE[sample]
    assert detect(SAMPLES / sample) == fmt
    report = ReadReport(on_error="raise")
    docs, read_as = read_documents(SAMPLES / sample, report, options_for(sample))
    assert read_as == fmt and clean(report)
    assert len(docs) == n_docs and len({d.id for d in docs}) == n_docs
    assert sum(len(d.entities) for d in docs) == n_flat
    assert sum(len(d.nested) for d in docs) == n_nested
    assert sum(report.nested.values()) == n_nested
    assert dict(report.ignored) == ignored
    for doc in docs:
        for e in doc.full_gold:
            assert doc.text[e.start:e.end] == e.text and e.text.strip() == e.text


def gold(docs, nested=True):
    return Counter((e.type, e.text) for d in docs for e in (d.full_gold if nested
                                                            else d.entities))


@pytest.mark.parametrize("sample", [sample_param(s) for s in SAMPLE_TABLE if s != "brat"])
def test_samples_hold_the_same_annotations_as_brat(sample):
    docs, _ = read_sample(sample)
    brat, _ = read_sample("brat", nested="innermost" if sample == "conll_iob1" else "outermost")
    if SAMPLE_TABLE[sample][3]:  # the nested formats: the full gold
        assert gold(docs) == gold(brat)
    assert gold(docs, nested=False) == gold(brat, nested=False)
    if sample != "conll_bmes":
        assert sorted(d.text.replace("\r", "").replace("\n", "") for d in docs) == sorted(
            d.text.replace("\r", "").replace("\n", "") for d in brat)


def test_sample_ids():
    ids = {s: [d.id for d in read_sample(s)[0]] for s in ("doccano", "cmeee", "conll_bioes")}
    assert ids["doccano"] == ["6", "7", "8", "9", "10", "1", "2", "3", "4", "5"]
    assert ids["cmeee"][0] == "CMeEE-V2_dev:2" and ids["cmeee"][-1] == "CMeEE_train:207"
    assert ids["conll_bioes"] == [f"leaflet{i:02d}" for i in range(1, 11)]


@needs_datasets
def test_hf_sample_ids_carry_the_split():
    docs, _ = read_sample("hf")
    assert [d.id for d in docs] == [f"train:leaflet-{i}" for i in range(1, 8)] + [
        f"test:leaflet-{i}" for i in range(8, 11)]


def test_conll_bmes_without_sentence_documents_is_one_document():
    report = ReadReport()
    docs, _ = read_documents(SAMPLES / "conll_bmes", report)
    assert [d.id for d in docs] == ["train.char"] and clean(report)
    assert sum(len(d.entities) for d in docs) == 54


@pytest.mark.parametrize("nested, kept", [("outermost", 54), ("innermost", 55),
                                          ("longest_first", 54)])
def test_sample_under_each_nested_policy(nested, kept):
    docs, report = read_sample("cmeee", nested=nested)
    assert sum(len(d.entities) for d in docs) == kept
    assert sum(len(d.full_gold) for d in docs) == 61
    assert sum(report.nested.values()) == 61 - kept


def test_sample_with_nested_error_policy_raises_at_a_line():
    with pytest.raises(InputError, match=r"CMeEE-V2_dev\.json:\d+: span .*data\.nested: error"):
        read_documents(SAMPLES / "cmeee", ReadReport(), nested="error")


# --- split -> tokenize on every sample ----------------------------------------------------

@pytest.mark.parametrize("sample", [sample_param(s) for s in SAMPLE_TABLE])
def test_split_and_tokenize_every_sample(tmp_path, sample):
    fmt, n_docs, n_flat, n_nested, _ = SAMPLE_TABLE[sample]
    overrides = {"data.conll_documents": "sentences"} if sample == "conll_bmes" else {}
    split_and_tokenize(tmp_path, SAMPLES / sample, None, **overrides)
    data = json.loads((tmp_path / "data.json").read_text(encoding="utf-8"))
    assert data["format"] == {"labeled": fmt}
    assert data["skipped"] == [] and data["repaired"] == []
    parts = ("train", "dev", "test")
    assert sum(data[p]["documents"] for p in parts) == n_docs
    assert sum(sum(data[p]["entities"].values()) for p in parts) == n_flat
    assert sum(data["nested"]["dropped"].values()) == n_nested
    written = [d for p in parts for d in read_jsonl(tmp_path / "split" / f"{p}.jsonl")]
    docs, _ = read_sample(sample)
    assert sorted(as_json(written)) == sorted(as_json(docs))
    tokens = json.loads((tmp_path / "tokenize.json").read_text(encoding="utf-8"))
    assert tokens["ner"]["windows"] >= n_docs and tokens["entities_without_tokens"] == []
    assert tokens["ner"]["characters"] == sum(len(d.text) for d in docs)
    assert (tmp_path / "tokenized" / "ner.parquet").is_file()


# --- round trips --------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", [format_param(f) for f in NAMES])
def test_sample_round_trip(tmp_path, fmt):
    source = SAMPLE_OF[fmt]
    docs, _ = read_sample(source)
    path = out_path(tmp_path, fmt)
    write_documents(path, docs, fmt)
    assert detect(path) == fmt
    report = ReadReport(on_error="raise")
    back, _ = read_documents(path, report, fmt=fmt)
    assert clean(report)
    want = as_json(docs, FORMATS[fmt].holds_nested)
    if fmt == "brat":  # brat lists documents by file name
        assert sorted(as_json(back)) == sorted(want)
        assert {d.id for d in back} == {d.id for d in docs}
    else:
        assert as_json(back) == want


@pytest.mark.parametrize("fmt", [format_param(f) for f in NAMES])
def test_every_sample_converts_to_every_format(tmp_path, fmt):
    holds_nested = FORMATS[fmt].holds_nested
    for sample in SAMPLE_TABLE:
        if sample == "hf" and not HAS_DATASETS:
            continue
        docs, _ = read_sample(sample)
        if fmt == "brat":  # see test_brat_keeps_documents_without_entities
            docs = [d for d in docs if d.full_gold]
        path = out_path(tmp_path, fmt, sample)
        write_documents(path, docs, fmt)
        report = ReadReport(on_error="raise")
        back, read_as = read_documents(path, report)  # detected
        assert read_as == fmt and clean(report), sample
        by_id = {d.id: d.to_json() for d in back}
        assert by_id == dict(zip([d.id for d in docs], as_json(docs, holds_nested))), sample


@pytest.mark.parametrize("fmt", ["conll", "cluener", "cmeee", "doccano", "jsonl"])
def test_a_written_file_rewrites_byte_for_byte(tmp_path, fmt):
    docs, _ = read_sample("brat")
    first, second = out_path(tmp_path, fmt, "first"), out_path(tmp_path, fmt, "second")
    write_documents(first, docs, fmt)
    write_documents(second, read_documents(first, ReadReport(), fmt=fmt)[0], fmt)
    assert first.read_bytes() == second.read_bytes()


def test_brat_written_twice_is_the_same_folder(tmp_path):
    docs, _ = read_sample("cmeee")
    write_documents(tmp_path / "a", docs, "brat")
    write_documents(tmp_path / "b", read_documents(tmp_path / "a", ReadReport())[0], "brat")
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert len(files) == 21 and "manifest.tsv" in files  # "CMeEE_train:49": not a file name
    assert files == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in files:
        a, b = ((tmp_path / x / name).read_text(encoding="utf-8") for x in "ab")
        if name == "manifest.tsv":  # rows in the order the documents were written
            assert a.split("\n")[0] == "id\tfile" and sorted(a.split("\n")) == sorted(
                b.split("\n"))
            assert "CMeEE_train:49\tCMeEE_train_49.txt" in a.split("\n")
        else:
            assert a == b


@pytest.mark.parametrize("scheme, prefixes", [
    ("bio", {"O", "B-", "I-"}), ("iob1", {"O", "B-", "I-"}), ("bioes", {"O", "B-", "I-", "E-"}),
    ("bmes", {"O", "B-", "M-", "E-"})])
@pytest.mark.parametrize("tag_scheme", ["auto", "given"])
def test_conll_writes_the_tag_scheme_asked_for(tmp_path, scheme, prefixes, tag_scheme):
    docs, _ = read_sample("brat", nested="innermost")  # adjacent SYMPTOMs: IOB1 writes a B-
    path = tmp_path / "out.conll"
    write_documents(path, docs, "conll", tag_scheme=scheme)
    tags = {line.rsplit(" ", 1)[-1][:2] for line in path.read_text(encoding="utf-8").split("\n")
            if line and not line.startswith("-DOCSTART-")}
    assert tags == prefixes
    report = ReadReport(on_error="raise")
    options = ReadOptions(tag_scheme=scheme if tag_scheme == "given" else "auto")
    back, _ = read_documents(path, report, options)
    assert as_json(back) == as_json(docs, holds_nested=False)


@pytest.mark.parametrize("doc_id", ["a b", "\\u0020", "d\tx", "说明书 1", "x\\"])
def test_conll_document_ids_with_whitespace_and_backslashes_survive(tmp_path, doc_id):
    docs = [Document(doc_id, "甲 乙", [Entity(2, 3, "X", "乙")])]
    write_documents(tmp_path / "out.conll", docs, "conll")
    back, _ = read_documents(tmp_path / "out.conll", ReadReport(on_error="raise"))
    assert as_json(back) == as_json(docs)


# --- property-based round trip ------------------------------------------------------------

PIECES = list("甲乙丙丁中药说明书") + ["a", "O", "-", " ", "\u3000", "\t", "\\", "\r\n", "\n",
                                     "\r", "\\u0020"]
TYPES = ["A", "B", "DRUG_EFFICACY"]


@st.composite
def documents(draw):
    """1-3 documents with ids d1.., non-blank texts and random spans (nested, crossing,
    duplicated, of one position with several types) that never cross a line break, resolved
    by the outermost policy: what a read gives back."""
    docs = []
    for k in range(1, draw(st.integers(1, 3)) + 1):
        text = draw(st.lists(st.sampled_from(PIECES), min_size=1, max_size=25)
                    .map("".join).filter(lambda t: t.strip()))
        starts = [i for i, c in enumerate(text) if c not in "\r\n"]
        entities = []
        for start in draw(st.lists(st.sampled_from(starts), max_size=8)):
            stop = start
            while stop < len(text) and text[stop] not in "\r\n":
                stop += 1
            end = draw(st.integers(start + 1, stop))
            entities.append(Entity(start, end, draw(st.sampled_from(TYPES)), text[start:end]))
        result = resolve(entities, "outermost")
        docs.append(Document(f"d{k}", text, result.kept, result.dropped))
    return docs


ROUND_TRIPS = [(f, "bio") for f in NAMES if f not in ("conll", "hf")] + [
    ("conll", s) for s in ("bio", "iob1", "bioes", "bmes")] + [("hf", "bio"), ("hf", "bioes")]


@pytest.mark.parametrize("fmt, scheme", [
    pytest.param(f, s, marks=[needs_datasets] if f == "hf" else [], id=f"{f}-{s}")
    for f, s in ROUND_TRIPS])
@settings(max_examples=30, deadline=None, database=None, derandomize=True)
@given(docs=documents())
def test_random_documents_round_trip(fmt, scheme, docs):
    if fmt == "brat":  # see test_brat_keeps_documents_without_entities
        docs = [d for d in docs if d.full_gold]
        assume(docs)
    with tempfile.TemporaryDirectory() as folder:
        path = out_path(folder, fmt)
        write_documents(path, docs, fmt, tag_scheme=scheme)
        report = ReadReport(on_error="raise")
        back, _ = read_documents(path, report, fmt=fmt)  # tag scheme detected
    assert clean(report)
    assert as_json(back) == as_json(docs, FORMATS[fmt].holds_nested)


# --- the real data (brat) in every format -------------------------------------------------

def test_real_data_in_every_format_reads_back_as_the_brat_read(tmp_path, real_data):
    from stages import split

    report = ReadReport(on_error="raise")
    docs, _ = read_documents(real_data / "labeled", report, fmt="brat")
    assert len(docs) == 800 and clean(report)
    assert sum(len(d.nested) for d in docs) == 0  # none in this release: every format holds it
    want = as_json(docs)
    for fmt in NAMES:
        if fmt == "hf" and not HAS_DATASETS:
            continue
        path = out_path(tmp_path, fmt, f"labeled_{fmt}")
        write_documents(path, docs, fmt)
        report = ReadReport(on_error="raise")
        back, read_as = read_documents(path, report)
        assert read_as == fmt and clean(report), fmt
        assert as_json(back) == want, fmt
    # what the split stage writes does not depend on the format the data came in
    outputs = {}
    for fmt, labeled in (("brat", real_data / "labeled"),
                         ("cmeee", tmp_path / "labeled_cmeee.json"),
                         ("conll", tmp_path / "labeled_conll.conll")):
        params = write_params(tmp_path / f"params_{fmt}.yaml", **{
            "data.labeled_dir": str(labeled), "data.unlabeled_dir": None})
        split.main(["--params", str(params), "--out", str(tmp_path / f"split_{fmt}"),
                    "--metrics", str(tmp_path / f"data_{fmt}.json")])
        outputs[fmt] = {p.name: p.read_bytes() for p in (tmp_path / f"split_{fmt}").iterdir()}
    assert sorted(outputs["brat"]) == ["dev.jsonl", "test.jsonl", "train.jsonl",
                                       "unlabeled.jsonl"]
    assert outputs["cmeee"] == outputs["brat"] and outputs["conll"] == outputs["brat"]


# --- bad input ----------------------------------------------------------------------------

CMEEE_GOOD = '{"text": "甲乙丙", "entities": [{"start_idx": 0, "end_idx": 1, "type": "X", ' \
    '"entity": "甲乙"}]}'
CLUENER_GOOD = '{"text": "甲乙丙", "label": {"X": {"甲乙": [[0, 1]]}}}'
DOCCANO_GOOD = '{"id": 1, "text": "甲乙丙", "label": [[0, 2, "X"]]}'


def lines(*rows):
    return "".join(row + "\n" for row in rows).encode("utf-8")


def hf_rows(folder, rows, split=None):
    import datasets

    ds = datasets.Dataset.from_dict({"tokens": [r[0] for r in rows],
                                     "ner_tags": [r[1] for r in rows]})
    (datasets.DatasetDict({split: ds}) if split else ds).save_to_disk(str(folder))


# case -> (format, file written, its bytes (or a writer), where a problem is reported (None:
# the file itself), line, "skipped" or "repaired", reason, documents read with on_error=skip)
BAD = {
    "cmeee truncated array": (
        "cmeee", "CMeEE_train.json", b"[\n" + CMEEE_GOOD.encode() + b',\n{"text": "\xe4\xb8\x81',
        None, 3, "skipped", "invalid JSON (Unterminated string", 1),
    "cmeee array without comma": (
        "cmeee", "CMeEE_train.json", lines("[", CMEEE_GOOD, CMEEE_GOOD, "]"),
        None, 3, "skipped", "invalid JSON (expected ',' or ']' after a record)", 1),
    "cluener line not json": (
        "cluener", "train.json", lines(CLUENER_GOOD, "{not json", CLUENER_GOOD),
        None, 2, "skipped", "invalid JSON (Expecting property name", 2),
    "doccano line not json": (
        "doccano", "labels.jsonl", lines(DOCCANO_GOOD, '{"id": 2, "text": "甲"',
                                         DOCCANO_GOOD.replace('"id": 1', '"id": 3')),
        None, 2, "skipped", "invalid JSON", 2),
    "doccano record not an object": (
        "doccano", "labels.jsonl", lines(DOCCANO_GOOD, "[1, 2]"),
        None, 2, "skipped", "record is a JSON list, not an object", 1),
    "doccano offset past the end": (
        "doccano", "labels.jsonl", lines(DOCCANO_GOOD, '{"id": 2, "text": "甲乙", "label": '
                                         '[[0, 1, "X"], [1, 5, "X"]]}'),
        None, 2, "skipped", "span 1-5 out of range (2 chars)", 2),
    "doccano offsets not integers": (
        "doccano", "labels.jsonl", lines('{"id": 2, "text": "甲乙", "label": [[0, "1", "X"]]}'),
        None, 1, "skipped", "offsets 0-'1' are not integers", 1),
    "doccano label of another shape": (
        "doccano", "labels.jsonl",
        lines(DOCCANO_GOOD, '{"id": 2, "text": "甲", "label": [[0, 1]]}'),
        None, 2, "skipped", "label is not [[start, end, TYPE], ...]", 1),
    "cmeee surface mismatch": (
        "cmeee", "CMeEE_train.json", lines("[", CMEEE_GOOD + ",", '{"text": "甲乙丙", "entities": '
                                           '[{"start_idx": 0, "end_idx": 1, "type": "X", '
                                           '"entity": "乙丙"}]}', "]"),
        None, 3, "skipped", "span text '乙丙' != document text '甲乙'", 2),
    "cluener surface mismatch": (
        "cluener", "train.json", lines(CLUENER_GOOD, CLUENER_GOOD,
                                       '{"text": "甲乙丙", "label": {"X": {"乙": [[0, 0]]}}}'),
        None, 3, "skipped", "span text '乙' != document text '甲'", 3),
    "conll one column": (
        "conll", "data.conll", lines("-DOCSTART- d1", "", "甲 B-X", "乙", "丙 O", "",
                                     "-DOCSTART- d2", "", "丁 B-X"),
        None, 4, "skipped", "1 column (want token and tag): document skipped", 1),
    "conll bio entity starting with I": (
        "conll", "data.conll", lines("甲 B-Y", "乙 I-Y", "", "丙 O", "丁 I-X"),
        None, 5, "repaired", "invalid BIO sequence: I-X does not continue an entity of type X", 1),
    "conll bioes entity not closed": (
        "conll", "data.conll", lines("甲 S-Y", "乙 B-X", "丙 O"),
        None, 3, "repaired",
        "invalid BIOES sequence: X entity started at token 2 is not closed by an E- tag", 1),
    "conll unknown tag scheme": (
        "conll", "data.conll", lines("甲 PER", "乙 O"),
        None, 1, "skipped", "tag 'PER' is not O or B-/I-/E-/S-/M-TYPE: unknown tag scheme", 0),
    "conll M and I tags": (
        "conll", "data.conll", lines("甲 B-X", "乙 M-X", "丙 E-X", "", "丁 B-Y", "戊 I-Y"),
        None, None, "skipped", "unknown tag scheme: both M- and I- tags", 0),
    "conll undecodable bytes": (
        "conll", "data.conll", lines("甲 B-X", "乙 I-X", "") + b"\xff\xfe O\n",
        None, 4, "skipped", "not UTF-8", 0),
    "doccano undecodable bytes": (
        "doccano", "labels.jsonl", lines(DOCCANO_GOOD) + b'{"id": 2, "text": "\xe4\xb8"}\n',
        None, 2, "skipped", "not UTF-8", 0),
    "cluener escaped NUL in the text": (
        "cluener", "train.json", lines(CLUENER_GOOD, '{"text": "甲\\u0000乙", "label": {}}'),
        None, 2, "skipped", "control character U+0000 in the text (binary data?)", 1),
    "cmeee NUL byte": (
        "cmeee", "CMeEE_train.json", lines("[", CMEEE_GOOD + ",") + b'{"text": "\x00"}\n]\n',
        None, 3, "skipped", "control character U+0000 (binary data?)", 0),
    "cmeee empty text": (
        "cmeee", "CMeEE_train.json", lines("[", CMEEE_GOOD + ",", '{"text": " \\n ", '
                                           '"entities": []}', "]"),
        None, 3, "skipped", "empty text", 1),
    "doccano text missing": (
        "doccano", "labels.jsonl", lines(DOCCANO_GOOD, '{"id": 2, "label": []}'),
        None, 2, "skipped", 'record has no "text" string', 1),
    "conll empty text": (
        "conll", "data.conll", lines("-DOCSTART- d1", "", "\\u0020 O", "", "-DOCSTART- d2", "",
                                     "甲 O"),
        None, 1, "skipped", "empty text", 1),
    "brat discontinuous span": (
        "brat", "1.ann", b"T1\tX 0 1;2 3\t\xe7\x94\xb2 \xe4\xb8\x99\n",
        "1.ann", 1, "skipped", "discontinuous span '0 1;2 3' is not supported", 1),
    "hf tokens and tags differ in length": (
        "hf", "hf", lambda path: hf_rows(path, [(["甲", "乙"], ["B-X", "I-X"]),
                                                 (["丙", "丁"], ["O"])]),
        None, 2, "skipped", "2 tokens but 1 tags", 1),
    "hf tokens and tags differ in a DatasetDict": (
        "hf", "hf", lambda path: hf_rows(path, [(["甲"], ["B-X", "O"])], split="train"),
        "hf[train]", 1, "skipped", "1 tokens but 2 tags", 0),
    "hf empty text": (
        "hf", "hf", lambda path: hf_rows(path, [([" "], ["O"]), (["甲"], ["B-X"])]),
        None, 1, "skipped", "empty text", 1),
    "hf unknown tag scheme": (
        "hf", "hf", lambda path: hf_rows(path, [(["甲"], ["PER"])]),
        None, None, "skipped", "unknown tag scheme: tag 'PER' is not O", 0),
}


def write_bad(tmp_path, fmt, name, content):
    folder = tmp_path / "in"
    folder.mkdir()
    if fmt == "brat":
        (folder / "1.txt").write_bytes("甲乙丙".encode())
    path = folder / name
    if callable(content):
        content(path)
    else:
        path.write_bytes(content)
    return (folder if fmt == "brat" else path), folder


@pytest.mark.parametrize("case", [
    pytest.param(c, marks=[needs_datasets] if BAD[c][0] == "hf" else [], id=c) for c in BAD])
def test_bad_input_is_a_located_skip_or_input_error(tmp_path, case):
    fmt, name, content, where, line, kind, reason, n_docs = BAD[case]
    path, folder = write_bad(tmp_path, fmt, name, content)
    file = str(folder / where) if where else str(path)
    report = ReadReport()
    docs, _ = read_documents(path, report, fmt=fmt)
    entries = [(s.file, s.line, s.reason) for s in getattr(report, kind)]
    other = report.repaired if kind == "skipped" else report.skipped
    assert len(entries) == 1 and other == [], entries + other
    assert entries[0][:2] == (file, line) and reason in entries[0][2]
    assert len(docs) == n_docs
    located = file if line is None else f"{file}:{line}"
    with pytest.raises(InputError) as raised:
        read_documents(path, ReadReport(on_error="raise"), fmt=fmt)
    assert str(raised.value).startswith(f"{located}: ") and reason in str(raised.value)


def test_bio_repair_keeps_the_span_from_the_inside_tag(tmp_path):
    path = tmp_path / "data.conll"
    path.write_bytes(lines("甲 B-Y", "乙 I-Y", "", "丙 O", "丁 I-X"))
    [doc], _ = read_documents(path, ReadReport(), fmt="conll")
    assert doc.text == "甲乙\n丙丁"
    assert [(e.start, e.end, e.type) for e in doc.entities] == [(0, 2, "Y"), (4, 5, "X")]


def split_data(labeled, fmt="auto"):
    return {"format": fmt, "labeled_dir": str(labeled), "unlabeled_format": "auto",
            "unlabeled_dir": None,
            "corpus_file": None, "tag_scheme": "auto", "conll_documents": "auto",
            "nested": "outermost"}


def test_duplicate_ids_across_two_files_keep_the_first(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(lines('{"id": 1, "text": "甲乙", "label": [[0, 1, "X"]]}',
                                             '{"id": 2, "text": "丙", "label": []}'))
    (tmp_path / "b.jsonl").write_bytes(lines('{"id": "1", "text": "丁", "label": []}'))
    labeled, unlabeled, report, read_as = read_inputs(split_data(tmp_path), "skip")
    assert read_as == {"labeled": "doccano"} and unlabeled == []
    assert [(d.id, d.text) for d in labeled] == [("1", "甲乙"), ("2", "丙")]
    first = f"{tmp_path / 'a.jsonl'}:1"
    assert [(s.file, s.line, s.reason) for s in report.skipped] == [
        (str(tmp_path / "b.jsonl"), 1, f"duplicate document id '1' (first at {first})")]
    with pytest.raises(InputError, match=r"b\.jsonl:1: duplicate document id '1' \(first at "):
        read_inputs(split_data(tmp_path), "raise")


def test_duplicate_ids_across_inputs_keep_the_labeled_one(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(lines('{"id": 1, "text": "甲乙", "label": [[0, 1, "X"]]}',
                                             '{"id": 2, "text": "丙", "label": []}'))
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "1.txt").write_text("丁", encoding="utf-8")
    data = {**split_data(tmp_path / "a.jsonl"), "unlabeled_dir": str(tmp_path / "plain")}
    labeled, unlabeled, report, read_as = read_inputs(data, "skip")
    assert read_as == {"labeled": "doccano", "unlabeled": "brat"}
    assert [d.id for d in labeled] == ["1", "2"] and unlabeled == []
    assert [(s.file, s.line, s.reason) for s in report.skipped] == [
        ("inputs", None, "duplicate document id '1'")]


def test_ambiguous_detection_names_the_candidates(tmp_path):
    path = tmp_path / "texts.jsonl"
    path.write_bytes(lines('{"text": "甲乙"}', '{"text": "丙"}'))
    message = "the format is ambiguous, it could be cluener or cmeee or doccano"
    with pytest.raises(InputError, match=message):
        detect(path)
    with pytest.raises(InputError, match=message):
        read_documents(path, ReadReport())
    docs, _ = read_documents(path, ReadReport(), fmt="cluener")
    assert [d.text for d in docs] == ["甲乙", "丙"]


@pytest.mark.parametrize("content, message", [
    (b"just some text\n", "no known format recognised"),
    (None, "no such file or folder"),
])
def test_detection_without_a_format(tmp_path, content, message):
    path = tmp_path / "notes.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        detect(path)


def test_unknown_format_name(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(lines(DOCCANO_GOOD))
    with pytest.raises(InputError, match="unknown format 'csv'"):
        read_documents(path, ReadReport(), fmt="csv")


def test_text_only_read_ignores_the_labels():
    report = ReadReport()
    docs, _ = read_documents(SAMPLES / "cmeee", report, ReadOptions(labeled=False))
    assert len(docs) == 10 and clean(report)
    assert all(d.entities == [] and d.nested == [] for d in docs)


# --- dapt.convert -------------------------------------------------------------------------

def test_convert_a_sample_to_conll_bioes(tmp_path):
    from dapt.convert import main

    out = tmp_path / "cmeee.conll"
    main([str(SAMPLES / "cmeee"), str(out), "--to", "conll", "--tag-scheme", "bioes"])
    text = out.read_text(encoding="utf-8")
    assert text.startswith("-DOCSTART- CMeEE-V2_dev:2\n")
    assert {line.rsplit(" ", 1)[-1][0] for line in text.split("\n")
            if line and not line.startswith("-DOCSTART-")} == set("OBIE")  # no 1-char span
    report = ReadReport(on_error="raise")
    back, read_as = read_documents(out, report)
    docs, _ = read_sample("cmeee")
    assert read_as == "conll" and as_json(back) == as_json(docs, holds_nested=False)


def test_convert_keeps_nested_spans_in_a_nested_format(tmp_path):
    from dapt.convert import main

    out = tmp_path / "out.jsonl"
    main([str(SAMPLES / "conll_iob1"), str(tmp_path / "iob1.jsonl"), "--to", "jsonl"])
    main([str(SAMPLES / "brat"), str(out), "--to", "jsonl", "--nested", "innermost"])
    docs = read_jsonl(out)
    assert sum(len(d.entities) for d in docs) == 55 and sum(len(d.nested) for d in docs) == 6
    assert gold(read_jsonl(tmp_path / "iob1.jsonl"), nested=False) == gold(docs, nested=False)


def test_convert_stops_on_bad_input(tmp_path):
    from dapt.convert import main

    path = tmp_path / "texts.jsonl"
    path.write_bytes(lines('{"text": "甲乙"}'))
    with pytest.raises(SystemExit) as exited:
        main([str(path), str(tmp_path / "out.json"), "--to", "cmeee"])
    assert exited.value.code == 1 and not (tmp_path / "out.json").exists()
    with pytest.raises(SystemExit) as exited:
        main([str(path), str(path), "--to", "cmeee"])
    assert exited.value.code == 2


def split_folder(tmp_path):
    docs, _ = read_sample("brat")
    folder = tmp_path / "split"
    folder.mkdir()
    for name, part in (("train", docs[:6]), ("dev", docs[6:8]), ("test", docs[8:])):
        write_jsonl(folder / f"{name}.jsonl", part)
    write_jsonl(folder / "unlabeled.jsonl", [Document("u1", "未标注的文本。")])
    return folder, docs


@needs_datasets
def test_convert_a_split_folder_to_a_hf_dataset_dict(tmp_path):
    import datasets

    from dapt.convert import main

    folder, docs = split_folder(tmp_path)
    main([str(folder), str(tmp_path / "hf"), "--to", "hf"])
    data = datasets.load_from_disk(str(tmp_path / "hf"))
    assert isinstance(data, datasets.DatasetDict)
    assert list(data) == ["train", "validation", "test"]
    assert [data[s].num_rows for s in data] == [6, 2, 2]
    feature = data["train"].features["ner_tags"].feature
    assert isinstance(feature, datasets.ClassLabel)
    types = {e.type for d in docs for e in d.entities}
    assert feature.names == label_names(types, "bio") and len(types) == 9
    row = data["validation"][0]
    doc = docs[6]
    assert row["id"] == doc.id and "".join(row["tokens"]) == doc.text
    spans, problems = decode([feature.names[t] for t in row["ner_tags"]], "bio")
    assert problems == [] and spans == [(e.start, e.end, e.type) for e in doc.entities]
    back, _ = read_documents(tmp_path / "hf", ReadReport(on_error="raise"))
    assert [d.id for d in back] == [f"{s}:{d.id}" for s, part in (
        ("train", docs[:6]), ("validation", docs[6:8]), ("test", docs[8:])) for d in part]


def test_convert_a_split_folder_to_one_file_per_part(tmp_path):
    from dapt.convert import main

    folder, docs = split_folder(tmp_path)
    main([str(folder), str(tmp_path / "out"), "--to", "cmeee"])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "dev.json", "test.json", "train.json"]
    back, _ = read_documents(tmp_path / "out" / "test.json", ReadReport(on_error="raise"))
    assert as_json(back) == as_json(docs[8:])


# --- bugs found by these tests, fixed ------------------------------------------------------

def test_brat_keeps_documents_without_entities(tmp_path):
    docs = [Document("d1", "甲乙", []), Document("d2", "丙丁", [Entity(0, 1, "X", "丙")])]
    write_documents(tmp_path / "brat", docs, "brat")
    report = ReadReport()
    back, _ = read_documents(tmp_path / "brat", report)
    assert as_json(back) == as_json(docs) and clean(report)


@pytest.mark.parametrize("fmt, record", [
    pytest.param("cmeee", '[{"text": "用于头痛", "entities": [{"start_idx": 2, "end_idx": 4, '
                 '"type": "SYMPTOM", "entity": "头痛"}]}]', id="cmeee"),
    pytest.param("cluener", '{"text": "用于头痛", "label": {"SYMPTOM": {"头痛": [[2, 4]]}}}',
                 id="cluener"),
])
def test_exclusive_ends_at_the_text_end(tmp_path, fmt, record):
    path = tmp_path / "CMeEE-V2_dev.json"
    path.write_bytes(lines(record))
    report = ReadReport()
    [doc], _ = read_documents(path, report, fmt=fmt)
    assert report.skipped == []
    assert [(e.start, e.end, e.text) for e in doc.entities] == [(2, 4, "头痛")]


@pytest.mark.parametrize("fmt", ["conll", format_param("hf")])
def test_control_characters_are_binary_input_in_every_format(tmp_path, fmt):
    path = tmp_path / "in"
    if fmt == "conll":
        path.write_bytes(lines("甲 B-X", "\\u0000 I-X", "乙 O"))
    else:
        hf_rows(path, [(["甲", "\x00", "乙"], ["B-X", "I-X", "O"])])
    report = ReadReport()
    docs, _ = read_documents(path, report, fmt=fmt)
    assert docs == [] and "control character U+0000" in report.skipped[0].reason


def test_brat_text_starting_with_a_bom_character(tmp_path):
    docs = [Document("d1", "\ufeff甲乙", [Entity(1, 3, "X", "甲乙")])]
    try:
        write_documents(tmp_path / "brat", docs, "brat")
    except ValueError:  # refusing the document would do too
        return
    report = ReadReport()
    back, _ = read_documents(tmp_path / "brat", report)
    assert as_json(back) == as_json(docs) and clean(report)


@pytest.mark.parametrize("doc_id", ["O", "-X-"])
def test_conll_keeps_every_document_id(tmp_path, doc_id):
    docs = [Document(doc_id, "甲乙", [Entity(0, 1, "X", "甲")])]
    write_documents(tmp_path / "out.conll", docs, "conll")
    back, _ = read_documents(tmp_path / "out.conll", ReadReport(), fmt="conll")
    assert [d.id for d in back] == [doc_id]
