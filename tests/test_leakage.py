"""Leakage rule: dev/test gold entities never reach mask-annotate.

With dev/test text in the MLM sequences (``tokenize.mlm_include_eval_text``), every dev/test
``.ann`` is rewritten (half its entities dropped, the rest retyped); the masks drawn by
mask-annotate must stay byte-identical, with lexicon and tagger units (the unit tagger
trains on train only) and whether or not dev gold scores the units; only that unit-quality
score may see the change. Runs on the demo data, and on the real data when present.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import DEMO, mask_annotate, split_and_tokenize, unit_tagger


@pytest.fixture(params=["demo", pytest.param("real", marks=pytest.mark.slow)])  # real: ~45 s
def source(request) -> Path:
    return DEMO if request.param == "demo" else request.getfixturevalue("real_data")


def test_dev_test_annotations_never_reach_the_masks(source, tmp_path):
    settings = {"tokenize.mlm_include_eval_text": True, "unit_tagger.max_iterations": 30}
    base = tmp_path / "a"
    base_params = split_and_tokenize(base, source / "labeled", source / "unlabeled", **settings)
    unit_tagger(base_params, base)
    labeled = tmp_path / "labeled"
    shutil.copytree(source / "labeled", labeled)
    eval_ids = [json.loads(line)["id"] for part in ("dev", "test")
                for line in (base / "split" / f"{part}.jsonl").read_text("utf-8").splitlines()]
    types = ["DISEASE", "DRUG", "FOOD", "SYMPTOM", "SYNDROME"]
    for k, doc_id in enumerate(eval_ids):
        ann = labeled / f"{doc_id}.ann"
        lines = ann.read_text("utf-8").splitlines()
        kept = [line.replace("\t", f"\t{types[(k + i) % len(types)]}_", 1)
                for i, line in enumerate(lines) if i % 2 == 0]
        ann.write_text("\n".join(kept) + "\n", "utf-8")
    changed = tmp_path / "b"
    params = split_and_tokenize(changed, labeled, source / "unlabeled", **settings)
    unit_tagger(params, changed)
    # the change is real: dev/test gold differs, train does not
    for part, same in (("dev", False), ("test", False), ("train", True)):
        a = (base / "split" / f"{part}.jsonl").read_bytes()
        assert (a == (changed / "split" / f"{part}.jsonl").read_bytes()) is same
    for name in ("unit_tagger/crf.crfsuite", "units/unlabeled.jsonl", "units/dev.jsonl"):
        assert (base / name).read_bytes() == (changed / name).read_bytes()
    # (strategy, unit source, dev gold given, further params): sentence pairs (NSP partners
    # come from other documents) and dynamic masking's stored units must not change either
    runs = [("entity", "lexicon", True, {}), ("entity_token", "lexicon", True, {}),
            ("entity", "tagger", True, {}), ("entity", "tagger", False, {}),
            ("entity", "lexicon", True, {"pretrain.pair_task": "nsp"}),
            ("entity", "tagger", True, {"pretrain.pair_task": "sop"}),
            ("entity", "lexicon", True, {"mask_mode": "dynamic", "mask_dupe": 1})]
    for strategy, units, dev, extra in runs:
        out = "_".join([strategy, units, str(dev), *map(str, extra.values())])
        over = {"mask_strategy": strategy, "mask_dupe": 2, "mask.unlabeled_units": units,
                **extra}
        ma = mask_annotate(base_params, base, out, dev, **over)
        mb = mask_annotate(params, changed, out, dev, **over)
        assert ma["lexicon_matches"] == mb["lexicon_matches"] > 0
        assert ma["unlabeled_units"] == mb["unlabeled_units"]
        assert ma["unlabeled_units"]["units"] > 0
        assert (ma.get("unit_quality") != mb.get("unit_quality")) is dev
        files = sorted(p.name for p in (base / out).glob("*.parquet"))
        assert files == (["eval.parquet", "units.parquet"] if extra.get("mask_mode")
                         else ["eval.parquet", "train.parquet"])
        for name in files:
            assert (base / out / name).read_bytes() == (changed / out / name).read_bytes()
    for name in ("train.parquet", "eval.parquet"):  # dev gold given or not: same masks
        assert ((base / "entity_tagger_True" / name).read_bytes()
                == (base / "entity_tagger_False" / name).read_bytes())
