"""mask-annotate on the real TCM data (../shared/data/tcm_ner); skipped when it is absent.

The leakage test (dev/test annotations never reach the masks) runs on the real data and
on the demo data: ``tests/test_leakage.py``.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from transformers import AutoTokenizer

from tests.helpers import REAL_DATA, mask_annotate, split_and_tokenize

pytestmark = pytest.mark.skipif(not (REAL_DATA / "labeled").is_dir(),
                                reason=f"real data not found at {REAL_DATA}")


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> tuple[Path, Path]:
    """(params file, work folder) after split + tokenize of the real data."""
    work = tmp_path_factory.mktemp("real")
    return split_and_tokenize(work, REAL_DATA / "labeled", REAL_DATA / "unlabeled"), work


def test_entity_share_matches_mask_prob(real):
    m = mask_annotate(*real, "entity", mask_strategy="entity", mask_prob=0.5, mask_budget=None,
                      mask_dupe=10)
    assert abs(m["entity_masked_share"] - 0.5) < 0.01
    assert m["masked_in_entity_share"] == 1.0
    assert m["lexicon_size"] > 1000 and m["lexicon_matches"] > 1000
    assert m["sequences"] + m["eval"]["sequences"] > 3000
    for key, share in (("mask", 0.8), ("random", 0.1), ("keep", 0.1)):
        assert abs(m["replacement"][key] - share) < 0.01
    assert abs(m["per_type"]["SYMPTOM"]["masked_share"] - 0.5) < 0.02


def masked_units(path: Path) -> dict[tuple[int, int], dict[int, list[int]]]:
    """(seq_id, copy) -> masked unit -> its token positions, read from a masked file."""
    out = {}
    for row in pq.read_table(path, columns=["seq_id", "copy", "mask_unit"]).to_pylist():
        units = defaultdict(list)
        for pos, unit in enumerate(row["mask_unit"]):
            if unit >= 0:
                units[unit].append(pos)
        out[(row["seq_id"], row["copy"])] = dict(units)
    return out


def test_budget_caps_entity_tokens(real):
    """Checked from the written masks, not from the stage's own figures.

    The budget run draws the same entity selection as the run without a budget (same
    seed); per sequence copy it must keep whole units of it, stay within
    floor(0.2 x non-special tokens), and leave out only units that no longer fit.
    """
    params, work = real
    free = mask_annotate(params, work, "free", mask_strategy="entity", mask_prob=0.5,
                         mask_budget=None, mask_dupe=3)
    capped = mask_annotate(params, work, "budget", mask_strategy="entity", mask_prob=0.5,
                           mask_budget=0.2, mask_dupe=3)
    special = set(AutoTokenizer.from_pretrained(work / "tokenizer").all_special_ids)
    mlm = pq.read_table(work / "tokenized" / "mlm.parquet", columns=["seq_id", "input_ids"])
    maskable = {s: sum(i not in special for i in ids) for s, ids in
                zip(mlm["seq_id"].to_pylist(), mlm["input_ids"].to_pylist())}
    before = masked_units(work / "free" / "train.parquet")
    after = masked_units(work / "budget" / "train.parquet")
    assert after.keys() == before.keys() and len(after) > 9000
    limited, max_share = 0, 0.0
    for key, units in after.items():
        cap = maskable[key[0]] // 5  # floor(0.2 x maskable), in integers
        assert all(before[key][u] == pos for u, pos in units.items())  # whole, same units
        used = sum(len(pos) for pos in units.values())
        assert used <= cap
        dropped = [len(before[key][u]) for u in before[key].keys() - units.keys()]
        assert all(n > cap - used for n in dropped), key
        limited += bool(dropped)
        max_share = max(max_share, used / maskable[key[0]])
    assert limited > 1000
    assert capped["budget_limited_sequences"] == limited
    assert capped["max_entity_mask_share"] == pytest.approx(max_share)
    assert capped["masked_tokens"] < free["masked_tokens"]


def test_token_and_span_rates(real):
    tok = mask_annotate(*real, "token", mask_strategy="token", mask_prob=0.15, mask_dupe=3)
    assert abs(tok["mask_rate"] - 0.15) < 0.003
    span = mask_annotate(*real, "span", mask_strategy="span", mask_prob=0.15, mask_dupe=2)
    assert 0.15 <= span["mask_rate"] < 0.16  # ceil per sequence
    assert span["no_mask_sequences"] == 0
