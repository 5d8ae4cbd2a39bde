"""Entity units of unlabeled text: external lexicon, tagged spans, jieba user dictionary, the
unit quality score, and the unit-tagger stage (synthetic data, hand-worked values)."""

from __future__ import annotations

import json
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dapt.data.contracts import IGNORE_LABEL, MLM_SCHEMA
from dapt.data.documents import Document, Entity, entity_counts, read_jsonl, write_jsonl
from dapt.data.readers import InputError, ReadReport, read_lexicon_file
from dapt.masking.sequences import read_sequences
from dapt.masking.units import build_lexicon, tagged_units, word_units
from dapt.params import ParamError, load_params
from stages import unit_tagger
from stages.mask_annotate import Paths, run
from tests.helpers import REPO, write_params
from tests.test_baselines import toy_docs
from tests.test_masking import CharVocab, stage_files, stage_input, synth_docs, write_mlm

# two train documents give the lexicon {孕妇: PERSON_GROUP, 头痛: SYMPTOM}
DOCS = [("train", "孕妇禁用头痛", [(0, 2, "PERSON_GROUP"), (4, 6, "SYMPTOM")]),
        ("train", "头痛恶心。孕妇", [(0, 2, "SYMPTOM"), (5, 7, "PERSON_GROUP")]),
        ("unlabeled", "孕妇头痛恶心", []),
        ("unlabeled", "口服。失眠", [])]
TAGGED = {"2": [Entity(4, 6, "SYMPTOM", "恶心")], "3": [Entity(3, 5, "SYMPTOM", "失眠")]}
DEV = [Document("d1", "孕妇头痛", [Entity(0, 2, "PERSON_GROUP", "孕妇")]),
       Document("d2", "恶心", [Entity(0, 2, "SYMPTOM", "恶心")])]


def test_lexicon_file_lines_are_read_skipped_or_raised_with_file_and_line(tmp_path):
    path = tmp_path / "lex.tsv"
    path.write_bytes("\n".join(["# comment", "头痛\tSYMPTOM", "", "孕妇\tPERSON_GROUP\r",
                                "no tab", "\tSYMPTOM", " 恶心\tSYMPTOM", "恶心\tSYM TOM",
                                "恶心\tSYMPTOM"]).encode() + b"\n\xff\tX\n")
    report = ReadReport()
    assert read_lexicon_file(path, report) == [
        ("头痛", "SYMPTOM"), ("孕妇", "PERSON_GROUP"), ("恶心", "SYMPTOM")]
    assert [(s.file, s.line) for s in report.skipped] == [(str(path), n) for n in (5, 6, 7, 8, 10)]
    with pytest.raises(InputError, match=f"^{re.escape(str(path))}:5: malformed lexicon line"):
        read_lexicon_file(path, ReadReport(on_error="raise"))


def test_external_entries_count_once_each_in_the_lexicon(tmp_path):
    seqs = read_sequences(write_mlm(tmp_path, [
        ("train", "头痛恶心", [(0, 2, "SYMPTOM"), (2, 4, "DISEASE")])])[0])
    extra = [("恶心", "SYMPTOM"), ("恶心", "SYMPTOM"), ("阿司匹林", "DRUG"), ("痛", "SYMPTOM")]
    lex = build_lexicon(seqs, 2, "majority", extra)
    # 恶心: DISEASE once (gold), SYMPTOM once (the duplicate line counts once): a tie
    assert lex.entries == {"头痛": "SYMPTOM", "恶心": "DISEASE", "阿司匹林": "DRUG"}
    assert lex.stats["too_short"] == 1 and lex.stats["type_conflicts"] == 1
    assert build_lexicon(seqs, 2, "skip", extra).entries == {"头痛": "SYMPTOM",
                                                             "阿司匹林": "DRUG"}


def window_row(k: int, doc_id: str, text: str, lo: int, hi: int, vocab: dict) -> dict:
    """One unlabeled MLM row covering the kept characters of ``text[lo:hi]``."""
    chars = [i for i in range(lo, hi) if not text[i].isspace()]
    return {"seq_id": k, "doc_id": doc_id, "source": "unlabeled",
            "input_ids": [2, *(vocab[text[i]] for i in chars), 3],
            "char_start": [-1, *chars, -1], "char_end": [-1, *(i + 1 for i in chars), -1],
            "text": text[chars[0] : chars[-1] + 1], "text_start": chars[0],
            "entity_start": [], "entity_end": [], "entity_type": []}


def test_tagged_spans_map_to_sequence_tokens_and_edge_crossers_drop(tmp_path):
    text = "孕妇禁用。头痛 恶心"  # 孕0 妇1 禁2 用3 。4 | 头5 痛6 _7 恶8 心9
    vocab = CharVocab([text]).vocab
    rows = [window_row(0, "7", text, 0, 5, vocab), window_row(1, "7", text, 5, 10, vocab)]
    pq.write_table(pa.Table.from_pylist(rows, schema=MLM_SCHEMA), tmp_path / "m.parquet")
    seqs = read_sequences(tmp_path / "m.parquet")
    doc = Document("7", text, [Entity(0, 2, "PERSON_GROUP", "孕妇"),
                               Entity(3, 6, "SYMPTOM", "用。头"), Entity(8, 10, "SYMPTOM", "恶心")])
    units, cut = tagged_units(seqs, {("unlabeled", "7"): doc})
    # row 1 tokens: [CLS]0 头1 痛2 恶3 心4 [SEP]5
    assert list(zip(units.row.tolist(), units.start.tolist(), units.end.tolist(),
                    units.kind.tolist())) == [(0, 1, 3, "PERSON_GROUP"), (1, 3, 5, "SYMPTOM")]
    assert cut == 1 and units.entity.all()
    with pytest.raises(ValueError, match="rerun the unit-tagger"):
        tagged_units(seqs, {("unlabeled", "7"): Document("7", "孕妇禁用。头痛 恶")})


def test_jieba_user_dictionary_joins_words(tmp_path):
    text = "哺乳期妇女慎用，忌食辛辣刺激性食物"
    seqs = read_sequences(write_mlm(tmp_path, [("unlabeled", text, [])])[0])

    def words(user_dict) -> list[str]:
        w = word_units(seqs, user_dict)
        return [text[s - 1 : e - 1] for s, e in zip(w.start.tolist(), w.end.tolist())]

    plain = ["哺乳期", "妇女", "慎用", "，", "忌食", "辛辣", "刺激性", "食物"]
    assert words(None) == plain
    (tmp_path / "empty.txt").write_bytes(b"")
    assert words(tmp_path / "empty.txt") == plain
    (tmp_path / "user.txt").write_text("哺乳期妇女 20 n\n辛辣刺激性食物\n", "utf-8")
    assert words(tmp_path / "user.txt") == ["哺乳期妇女", "慎用", "，", "忌食", "辛辣刺激性食物"]


# --- the mask-annotate stage ------------------------------------------------------------


def write_units(folder, docs) -> str:
    """A unit-tagger output folder: TAGGED for the unlabeled documents, the dev text with
    perfect predictions, no test documents."""
    unlabeled = [Document(str(k), text, TAGGED[str(k)]) for k, (source, text, _) in
                 enumerate(docs) if source == "unlabeled"]
    for split, tagged in (("unlabeled", unlabeled), ("dev", DEV), ("test", [])):
        write_jsonl(folder / f"{split}.jsonl", tagged)
    return str(folder)


def masked_positions(tmp_path, name: str) -> dict[int, list[int]]:
    table = pq.read_table(tmp_path / name / "train.parquet")
    return {sid: [i for i, lab in enumerate(labels) if lab != IGNORE_LABEL]
            for sid, labels in zip(table["seq_id"].to_pylist(), table["labels"].to_pylist())}


@pytest.fixture
def stage(tmp_path):
    """Run mask-annotate on DOCS (every entity unit masked, one copy, no held-out rows)."""
    mlm = stage_input(tmp_path, DOCS)
    units = write_units(tmp_path, DOCS)
    write_jsonl(tmp_path / "dev.jsonl", DEV)

    def go(name: str, dev: str | None = str(tmp_path / "dev.jsonl"), **over):
        over = {"mask_prob": 1.0, "mask_dupe": 1, "eval_sequences": 0, **over}
        _, _, metrics = stage_files(tmp_path, mlm, name, units=units, dev=dev, **over)
        return masked_positions(tmp_path, name), metrics
    return go


def test_unit_sources_of_unlabeled_text(stage):
    train_masks = {0: [1, 2, 5, 6], 1: [1, 2, 6, 7]}  # gold entities, whatever the source
    lex, m = stage("lexicon")
    assert lex == {**train_masks, 2: [1, 2, 3, 4], 3: []}  # 孕妇 头痛
    assert m["unlabeled_units"] == {"source": "lexicon", "units": 2, "cut_spans": 0}
    assert m["per_type"]["SYMPTOM"] == {"units": 3, "gold": 2, "lexicon": 1, "masked": 3,
                                        "masked_share": 1.0}
    tag, m = stage("tagger", unlabeled_units="tagger")
    assert tag == {**train_masks, 2: [5, 6], 3: [4, 5]}  # 恶心, 失眠 (TAGGED)
    assert m["unlabeled_units"] == {"source": "tagger", "units": 2, "cut_spans": 0}
    assert m["per_type"]["SYMPTOM"]["tagger"] == 2 and m["lexicon_matches"] == 2
    none, m = stage("none", unlabeled_units="none")
    assert none == {**train_masks, 2: [], 3: []}
    assert m["unlabeled_units"]["units"] == 0 and m["per_type"]["PERSON_GROUP"]["none"] == 0
    with pytest.raises(ParamError, match="unlabeled_units='crf': must be one of"):
        stage("bad", unlabeled_units="crf")


def test_unit_quality_scores_each_source_on_dev(stage):
    _, m = stage("q")
    lex, tagger = m["unit_quality"]["lexicon"], m["unit_quality"]["tagger"]
    # lexicon on dev: 孕妇 (right), 头痛 (no gold: spurious); 恶心 missed
    assert (lex["precision"], lex["recall"], lex["f1"]) == (0.5, 0.5, 0.5)
    assert lex["per_type"]["PERSON_GROUP"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0,
                                               "support": 1}
    assert lex["per_type"]["SYMPTOM"]["f1"] == 0.0
    assert lex["errors"] == {"type": 0, "boundary": 0, "boundary_and_type": 0,
                             "spurious": 1, "missed": 1}
    assert (tagger["precision"], tagger["recall"], tagger["predicted"]) == (1.0, 1.0, 2)


def test_dev_gold_only_scores_never_masks(stage, tmp_path):
    """Masks are byte-identical with the dev gold, with other dev gold and without it."""
    files = ("train.parquet", "eval.parquet")
    for units in ("lexicon", "tagger"):
        _, a = stage(f"{units}_a", unlabeled_units=units)
        write_jsonl(tmp_path / "dev_b.jsonl", [  # gold = what the lexicon finds
            Document("d1", "孕妇头痛", [DEV[0].entities[0], Entity(2, 4, "SYMPTOM", "头痛")]),
            Document("d2", "恶心")])
        _, b = stage(f"{units}_b", dev=str(tmp_path / "dev_b.jsonl"), unlabeled_units=units)
        _, c = stage(f"{units}_c", dev=None, unlabeled_units=units)
        assert a["unit_quality"]["lexicon"]["f1"] == 0.5
        assert b["unit_quality"]["lexicon"]["f1"] == 1.0 and "unit_quality" not in c
        for name in files:
            blobs = {(tmp_path / f"{units}_{x}" / name).read_bytes() for x in "abc"}
            assert len(blobs) == 1


def test_lexicon_file_joins_the_lexicon_and_bad_lines_follow_on_error(stage, tmp_path):
    path = tmp_path / "lex.tsv"
    path.write_text("恶心\tSYMPTOM\nbad line\n", "utf-8")
    masks, m = stage("file", lexicon_file=str(path))
    assert masks[2] == [1, 2, 3, 4, 5, 6] and m["lexicon_size"] == 3
    assert m["lexicon_file"]["entries"] == 1
    assert [(s["file"], s["line"]) for s in m["lexicon_file"]["skipped"]] == [(str(path), 2)]
    with pytest.raises(InputError, match=f"{re.escape(str(path))}:2: malformed"):
        stage("raise", lexicon_file=str(path), on_error="raise")


def test_general_pipeline_params_need_no_tagger_dev_or_lexicon_file(tmp_path):
    """general/params.yaml (null lexicon file, no split section) with general/dvc.yaml's
    ``--units '' --dev ''``."""
    mlm = stage_input(tmp_path, [("unlabeled", t, []) for _, t, _ in synth_docs(20, seed=4)])
    params = write_params(tmp_path / "p.yaml", REPO / "general" / "params.yaml",
                          **{"mask.eval_sequences": 4})
    m = run(load_params(params), Paths(mlm=str(mlm), tokenizer=str(tmp_path / "tokenizer"),
                                       units="", dev="", out=str(tmp_path / "out"),
                                       metrics=None))
    assert "unit_quality" not in m and m["lexicon_file"] == {"entries": 0, "skipped": []}
    assert m["unlabeled_units"] == {"source": "lexicon", "units": 0, "cut_spans": 0}
    assert m["mask_rate"] > 0.1  # token masking


# --- the unit-tagger stage --------------------------------------------------------------


def test_unit_tagger_trains_on_train_only_and_reruns_byte_identical(tmp_path):
    split = tmp_path / "split"
    parts = {"train": toy_docs(60, 0), "dev": toy_docs(5, 1), "test": toy_docs(3, 2),
             "unlabeled": [Document(d.id, d.text) for d in toy_docs(4, 3)]}
    for name, docs in parts.items():
        write_jsonl(split / f"{name}.jsonl", docs)
    params = {"unit_tagger": {"c1": 0.05, "c2": 0.01, "max_iterations": 60}}

    def go(name: str) -> dict:
        return unit_tagger.run(params, unit_tagger.Paths(
            split_dir=str(split), model=str(tmp_path / name / "model"),
            out=str(tmp_path / name / "units"), metrics=str(tmp_path / name / "m.json")))

    metrics = go("a")
    # the surfaces are fixed, so the CRF finds exactly the hidden gold in unlabeled text
    unlabeled = read_jsonl(tmp_path / "a" / "units" / "unlabeled.jsonl")
    assert [d.entities for d in unlabeled] == [d.entities for d in toy_docs(4, 3)]
    assert metrics["train"]["documents"] == 60 and metrics["test"]["documents"] == 3
    assert metrics["unlabeled"]["entities"] == entity_counts(toy_docs(4, 3))
    assert json.loads((tmp_path / "a" / "m.json").read_text()) == metrics
    go("b")
    for name in ("model/crf.crfsuite", "units/dev.jsonl", "units/test.jsonl",
                 "units/unlabeled.jsonl", "m.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert [d.text for d in unlabeled] == [d.text for d in parts["unlabeled"]]
