"""In a temporary DVC repo, changing only ``mask_prob``, the unit source, the lexicon file or
the pair task reruns mask-annotate and what follows, nothing before it; the pair loss weight
reruns nothing there (pretrain reads it).

The temp repo holds ``stages/`` and ``dapt/``, ``params.yaml``, a subset of ``data/demo``,
``data/resources`` and the project's own split / tokenize / unit-tagger / mask-annotate stage
definitions from ``dvc.yaml`` (copied verbatim), plus a stand-in ``downstream`` stage that
reads ``data/masked`` (the real pretrain stage is too slow for a test).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from tests.helpers import dvc, git

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"
STAGES = ("split", "tokenize", "unit-tagger", "mask-annotate")

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (DEMO / "labeled").is_dir(), reason="data/demo is absent")]


def make_repo(repo: Path, labeled: int = 40, unlabeled: int = 10) -> None:
    for code in ("stages", "dapt", "data/resources"):
        shutil.copytree(ROOT / code, repo / code, ignore=shutil.ignore_patterns("__pycache__"))
    for folder, n in (("labeled", labeled), ("unlabeled", unlabeled)):
        stems = sorted({p.stem for p in (DEMO / folder).glob("*.txt")})[:n]
        (repo / "data" / "demo" / folder).mkdir(parents=True)
        for stem in stems:
            for path in (DEMO / folder).glob(f"{stem}.*"):
                shutil.copy(path, repo / "data" / "demo" / folder / path.name)
    params = yaml.safe_load((ROOT / "params.yaml").read_text("utf-8"))
    params.update(mask_dupe=2, mask_prob=0.5, base_model="scratch")
    params["mask"]["eval_sequences"] = 4
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), "utf-8")
    pipeline = yaml.safe_load((ROOT / "dvc.yaml").read_text("utf-8"))
    stages = {name: pipeline["stages"][name] for name in STAGES}
    stages["downstream"] = {
        "cmd": "python -c \"import pyarrow.parquet as pq; "
               "open('downstream.txt', 'w').write(str(pq.read_table('data/masked/train.parquet')"
               ".num_rows))\"",
        "deps": ["data/masked"],
        "outs": ["downstream.txt"],
    }
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}, sort_keys=False), "utf-8")
    shutil.copy(DEMO / "lexicon.tsv", repo / "data" / "demo" / "lexicon.tsv")
    git(repo, "init", "-q")
    dvc(repo, "init", "-q")


def set_param(repo: Path, key: str, value: str) -> None:
    """Set the one ``key:`` line of params.yaml (any indentation) to ``value``."""
    params = repo / "params.yaml"
    text, n = re.subn(rf"(?m)^(\s*){key}: .*$", rf"\g<1>{key}: {value}",
                      params.read_text("utf-8"))
    assert n == 1
    params.write_text(text, "utf-8")


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory) -> tuple[Path, str]:
    """A temp repo after its first ``dvc repro`` (each test works on a copy), and its output."""
    repo = tmp_path_factory.mktemp("dvc_rerun") / "repo"
    make_repo(repo)
    return repo, dvc(repo, "repro")


def fresh_copy(reproduced: tuple[Path, str], tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(reproduced[0], repo, symlinks=True)
    return repo


def test_mask_prob_change_reruns_only_mask_annotate_and_later(reproduced, tmp_path):
    for stage in (*STAGES, "downstream"):
        assert f"Running stage '{stage}'" in reproduced[1]
    repo = fresh_copy(reproduced, tmp_path)
    assert "up to date" in dvc(repo, "status")
    before = (repo / "data" / "masked" / "train.parquet").read_bytes()

    set_param(repo, "mask_prob", "0.3")

    status = dvc(repo, "status")
    assert "mask-annotate:" in status and "mask_prob" in status
    assert "split:" not in status and "tokenize:" not in status

    second = dvc(repo, "repro")
    assert "Stage 'split' didn't change, skipping" in second
    assert "Stage 'tokenize' didn't change, skipping" in second
    assert "Running stage 'split'" not in second and "Running stage 'tokenize'" not in second
    assert "Running stage 'mask-annotate'" in second
    assert "Running stage 'downstream'" in second
    assert (repo / "data" / "masked" / "train.parquet").read_bytes() != before
    assert "up to date" in dvc(repo, "status")


def test_unit_source_and_lexicon_file_rerun_only_mask_annotate_and_later(reproduced, tmp_path):
    repo = fresh_copy(reproduced, tmp_path)
    before = (repo / "data" / "masked" / "train.parquet").read_bytes()

    set_param(repo, "unlabeled_units", "tagger")
    status = dvc(repo, "status")
    assert "mask-annotate:" in status and "params.yaml" in status
    assert not any(f"{s}:" in status for s in ("split", "tokenize", "unit-tagger"))
    out = dvc(repo, "repro")
    for stage in ("split", "tokenize", "unit-tagger"):
        assert f"Stage '{stage}' didn't change, skipping" in out
    assert "Running stage 'mask-annotate'" in out and "Running stage 'downstream'" in out
    assert (repo / "data" / "masked" / "train.parquet").read_bytes() != before

    # the lexicon feeds only the lexicon's unit-quality score under `tagger`: the masks and
    # so the downstream stage stay as they are
    set_param(repo, "lexicon_file", "data/demo/lexicon.tsv")
    out = dvc(repo, "repro")
    for stage in ("split", "tokenize", "unit-tagger", "downstream"):
        assert f"Stage '{stage}' didn't change, skipping" in out
    assert "Running stage 'mask-annotate'" in out
    with open(repo / "data" / "demo" / "lexicon.tsv", "a", encoding="utf-8") as f:
        f.write("口服\tDRUG\n")
    status = dvc(repo, "status")
    assert "mask-annotate:" in status and "modified:" in status and "lexicon.tsv" in status
    assert not any(f"{s}:" in status for s in ("split", "tokenize", "unit-tagger"))


def test_pair_task_reruns_mask_annotate_and_the_pair_weight_does_not(reproduced, tmp_path):
    repo = fresh_copy(reproduced, tmp_path)
    set_param(repo, "pair_weight", "0.5")  # pretrain's param: the masks stay
    assert "up to date" in dvc(repo, "status")

    set_param(repo, "pair_task", "sop")  # the pairs are drawn with the masks
    status = dvc(repo, "status")
    assert "mask-annotate:" in status and "pretrain.pair_task" in status
    assert not any(f"{s}:" in status for s in ("split", "tokenize", "unit-tagger"))
    out = dvc(repo, "repro")
    assert "Running stage 'mask-annotate'" in out and "Running stage 'downstream'" in out
    names = pq.read_schema(repo / "data" / "masked" / "train.parquet").names
    assert names[-2:] == ["token_type_ids", "pair_label"]
