"""mask-annotate on the real TCM data (../shared/data/tcm_ner); skipped when it is absent."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stages.mask_annotate import Paths, run

ROOT = Path(__file__).resolve().parents[1]
REAL = (ROOT / ".." / "shared" / "data" / "tcm_ner").resolve()

pytestmark = pytest.mark.skipif(not (REAL / "labeled").is_dir(),
                                reason=f"real data not found at {REAL}")


def pipeline(work: Path, labeled: Path, include_eval_text: bool = False,
             tagger: bool = False) -> tuple[dict, Path]:
    """split + tokenize (+ unit-tagger, 30 iterations) the real data into ``work``; returns
    (params, work)."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["data"].update(labeled_dir=str(labeled), unlabeled_dir=str(REAL / "unlabeled"),
                          corpus_file=None, lexicon_file=None)
    params["tokenize"]["mlm_include_eval_text"] = include_eval_text
    params["unit_tagger"]["max_iterations"] = 30
    params["base_model"] = "scratch"
    work.mkdir(parents=True, exist_ok=True)
    (work / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), "utf-8")
    steps = [
        ["stages.split", "--out", work / "split", "--metrics", work / "data.json"],
        ["stages.tokenization", "--split-dir", work / "split", "--out", work / "tokenized",
         "--tokenizer-out", work / "tokenizer", "--metrics", work / "tokenize.json"],
    ] + tagger * [["stages.unit_tagger", "--split-dir", work / "split", "--model",
                   work / "unit_tagger", "--out", work / "units", "--metrics",
                   work / "unit_tagger.json"]]
    for module, *args in steps:
        subprocess.run([sys.executable, "-m", module, "--params", work / "params.yaml", *args],
                       cwd=ROOT, check=True, capture_output=True)
    return params, work


def mask(params: dict, work: Path, name: str, dev: bool = True, **over) -> dict:
    """mask-annotate into ``work/name`` (tagger predictions when ``work/units`` exists)."""
    p = {**params, "mask": dict(params["mask"])}
    for key, value in over.items():
        (p["mask"] if key in p["mask"] else p)[key] = value
    units = work / "units"
    return run(p, Paths(mlm=str(work / "tokenized" / "mlm.parquet"),
                        tokenizer=str(work / "tokenizer"),
                        units=str(units) if units.is_dir() else None,
                        dev=str(work / "split" / "dev.jsonl") if dev else None,
                        out=str(work / name), metrics=str(work / name / "masking.json")))


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    return pipeline(tmp_path_factory.mktemp("real"), REAL / "labeled")


def test_entity_share_matches_mask_prob(real):
    m = mask(*real, "entity", mask_strategy="entity", mask_prob=0.5, mask_budget=None,
             mask_dupe=10)
    assert abs(m["entity_masked_share"] - 0.5) < 0.01
    assert m["masked_in_entity_share"] == 1.0
    assert m["lexicon_size"] > 1000 and m["lexicon_matches"] > 1000
    assert m["sequences"] + m["eval"]["sequences"] > 3000
    for key, share in (("mask", 0.8), ("random", 0.1), ("keep", 0.1)):
        assert abs(m["replacement"][key] - share) < 0.01
    assert abs(m["per_type"]["SYMPTOM"]["masked_share"] - 0.5) < 0.02


def test_budget_caps_entity_tokens(real):
    m = mask(*real, "budget", mask_strategy="entity", mask_prob=0.5, mask_budget=0.2,
             mask_dupe=3)
    assert 0 < m["max_entity_mask_share"] <= 0.2
    assert m["budget_limited_sequences"] > 0
    assert m["entity_masked_share"] < 0.5


def test_token_and_span_rates(real):
    tok = mask(*real, "token", mask_strategy="token", mask_prob=0.15, mask_dupe=3)
    assert abs(tok["mask_rate"] - 0.15) < 0.003
    span = mask(*real, "span", mask_strategy="span", mask_prob=0.15, mask_dupe=2)
    assert 0.15 <= span["mask_rate"] < 0.16  # ceil per sequence
    assert span["no_mask_sequences"] == 0


def test_dev_test_annotations_never_reach_the_masks(tmp_path):
    """Rewrite every dev/test .ann (drop half, retype the rest): masks stay byte-identical,
    with lexicon and tagger units, and whether or not dev gold is given; only the unit
    quality score sees the change."""
    base_params, base = pipeline(tmp_path / "a", REAL / "labeled", include_eval_text=True,
                                 tagger=True)
    labeled = tmp_path / "labeled"
    shutil.copytree(REAL / "labeled", labeled)
    eval_ids = [json.loads(line)["id"] for part in ("dev", "test")
                for line in (base / "split" / f"{part}.jsonl").read_text("utf-8").splitlines()]
    types = ["DISEASE", "DRUG", "FOOD", "SYMPTOM", "SYNDROME"]
    for k, doc_id in enumerate(eval_ids):
        ann = labeled / f"{doc_id}.ann"
        lines = ann.read_text("utf-8").splitlines()
        kept = [line.replace("\t", f"\t{types[(k + i) % len(types)]}_", 1)
                for i, line in enumerate(lines) if i % 2 == 0]
        ann.write_text("\n".join(kept) + "\n", "utf-8")
    params, changed = pipeline(tmp_path / "b", labeled, include_eval_text=True, tagger=True)
    # the change is real: dev/test gold differs, train does not
    for part, same in (("dev", False), ("test", False), ("train", True)):
        a = (base / "split" / f"{part}.jsonl").read_bytes()
        assert (a == (changed / "split" / f"{part}.jsonl").read_bytes()) is same
    for name in ("unit_tagger/crf.crfsuite", "units/unlabeled.jsonl", "units/dev.jsonl"):
        assert (base / name).read_bytes() == (changed / name).read_bytes()
    runs = [("entity", "lexicon", True), ("entity_token", "lexicon", True),
            ("entity", "tagger", True), ("entity", "tagger", False)]
    for strategy, units, dev in runs:
        out = f"{strategy}_{units}_{dev}"
        ma = mask(base_params, base, out, dev, mask_strategy=strategy, mask_dupe=2,
                  unlabeled_units=units)
        mb = mask(params, changed, out, dev, mask_strategy=strategy, mask_dupe=2,
                  unlabeled_units=units)
        assert ma["lexicon_matches"] == mb["lexicon_matches"] > 0
        assert ma["unlabeled_units"] == mb["unlabeled_units"]
        assert ma["unlabeled_units"]["units"] > 0
        assert (ma.get("unit_quality") != mb.get("unit_quality")) is dev
        for name in ("train.parquet", "eval.parquet"):
            assert (base / out / name).read_bytes() == (changed / out / name).read_bytes()
    for name in ("train.parquet", "eval.parquet"):  # dev gold given or not: same masks
        assert ((base / "entity_tagger_True" / name).read_bytes()
                == (base / "entity_tagger_False" / name).read_bytes())
