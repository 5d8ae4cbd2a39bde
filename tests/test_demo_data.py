"""The demo-data generator (scripts/make_demo_data.py) and its data in scripts/demo_vocabulary/."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from tests.helpers import DEMO, REPO

SCRIPT = REPO / "scripts" / "make_demo_data.py"
VOCAB_DIR = REPO / "scripts" / "demo_vocabulary"


@pytest.fixture(scope="module")
def generator() -> dict:
    """The script's globals (loaded without running ``main``)."""
    return runpy.run_path(str(SCRIPT))


def read_ann(path: Path) -> list[tuple[str, int, int, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        key, middle, surface = line.split("\t")
        label, start, end = middle.split(" ")
        assert key.startswith("T")
        rows.append((label, int(start), int(end), surface))
    return rows


def test_small_corpus_has_exact_offsets_and_shipped_resources(generator, tmp_path):
    out = tmp_path / "demo"
    generator["main"](["--out", str(out), "--seed", "3", "--labeled", "6", "--unlabeled", "2"])

    assert (out / "lexicon.tsv").read_bytes() == (VOCAB_DIR / "lexicon.tsv").read_bytes()
    assert ((out / "jieba_user_dict.txt").read_bytes()
            == (VOCAB_DIR / "jieba_user_dict.txt").read_bytes())
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert f"--out {out} --seed 3 --labeled 6 --unlabeled 2\n" in readme
    assert "$" not in readme

    labeled = sorted((out / "labeled").glob("*.txt"))
    assert len(labeled) == 6 and len(list((out / "unlabeled").glob("*.txt"))) == 2
    spans = 0
    for txt in labeled:
        text = txt.read_text(encoding="utf-8")
        previous_end = 0
        for label, start, end, surface in read_ann(txt.with_suffix(".ann")):
            assert label in generator["ENTITY_TYPES"]
            assert text[start:end] == surface, (txt.name, start, end, surface)
            assert start >= previous_end, f"overlapping spans in {txt.name}"
            previous_end = end
            spans += 1
    assert spans > 0


def test_vocabulary_loads_in_file_order_as_strings(generator):
    vocab = generator["VOCAB"]
    assert next(iter(vocab)) == "SYMPTOM" and vocab["SYMPTOM"][:3] == ("头痛", "头晕", "咳嗽")
    assert all(isinstance(s, str) for pool in vocab.values() for s in pool)
    assert generator["FORMS"] == ("granule", "pill", "tablet", "capsule", "liquid")
    assert generator["NUMBER_MARKS"][0] == ("{n}．", 0.6)


@pytest.mark.skipif(not (DEMO / "labeled").is_dir(), reason="data/demo not checked out")
def test_defaults_regenerate_committed_demo_data_byte_for_byte(generator, tmp_path):
    """``make demo-data`` reproduces data/demo: same files, same bytes (README's --out aside)."""
    out = tmp_path / "demo"
    generator["main"](["--out", str(out)])
    produced = {p.relative_to(out) for p in out.rglob("*") if p.is_file()}
    committed = {p.relative_to(DEMO) for p in DEMO.rglob("*") if p.is_file()}
    assert produced == committed
    for rel in sorted(produced - {Path("README.md")}):
        assert (out / rel).read_bytes() == (DEMO / rel).read_bytes(), rel
    readme = (out / "README.md").read_text(encoding="utf-8").replace(str(out), "data/demo")
    assert readme == (DEMO / "README.md").read_text(encoding="utf-8")
