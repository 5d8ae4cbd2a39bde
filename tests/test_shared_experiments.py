"""Experiments of several machines in one report: the way to spread a grid over machines.

Two clones of one shared git remote (here a bare repo in a folder) each run one experiment of
a two-line grid, at the same time as two machines would, and ``dvc exp push origin`` it: the
experiment's git refs go to the shared git remote, its outputs to the shared DVC remote (a
local folder, configured in the shared repo). Machine 1 does it by hand; machine 2 is array
task 2 of ``scripts/slurm_grid.sbatch`` (run by bash with SLURM's variables set). A third
clone ``dvc exp pull origin`` and ``python -m dapt.report`` groups the experiments of both as
one setting with two seeds; their models are in its cache. docs/distributed.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dapt.browser_check import check_page, find_chromium, problems
from tests.helpers import REPO, dvc, dvc_env, git, run_at_once, run_module, tiny_clone

SBATCH = REPO / "scripts" / "slurm_grid.sbatch"
GRID = "# name, then its dvc exp run flags\ngrid-s1 -S seed=1\n\ngrid-s2  -S seed=2\n"
SEEDS = (1, 2)  # one experiment per machine, named grid-s<seed>
TIMEOUT = 300  # seconds for both experiments (each about 70 s alone on 2 cores)


def shared_repo(tmp_path: Path) -> Path:
    """A bare git repo holding the tiny profile, with a DVC remote in ``tmp_path/storage``
    as its default remote."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "--initial-branch=main", str(origin))
    first = tiny_clone(tmp_path / "first")
    dvc(first, "remote", "add", "-d", "shared", str(tmp_path / "storage"))
    git(first, "commit", "-qam", "shared DVC remote")
    git(first, "push", "-q", str(origin), "HEAD:main")
    return origin


def test_slurm_script_is_valid_bash_with_help():
    subprocess.run(["bash", "-n", str(SBATCH)], check=True)
    shown = subprocess.run(["bash", str(SBATCH), "--help"], check=True, capture_output=True,
                           text=True).stdout
    assert "sbatch --array=1-6 scripts/slurm_grid.sbatch grid.txt" in shown
    assert "#SBATCH" not in shown
    wrong = subprocess.run(["bash", str(SBATCH)], capture_output=True, text=True)
    assert wrong.returncode == 2 and "sbatch --array" in wrong.stderr


@pytest.mark.slow
def test_experiments_of_two_machines_meet_in_one_report(tmp_path):
    origin = shared_repo(tmp_path)
    machines = [tmp_path / f"machine{seed}" for seed in SEEDS]
    collector = tmp_path / "collector"
    for clone in [*machines, collector]:
        git(tmp_path, "clone", "-q", str(origin), str(clone))
    grid = tmp_path / "grid.txt"
    grid.write_text(GRID, encoding="utf-8")
    by_hand = [sys.executable, "-m", "dvc", "exp", "run", "-n", "grid-s1", "-S", "seed=1"]
    slurm = {"SLURM_ARRAY_TASK_ID": "2", "SLURM_SUBMIT_DIR": str(machines[1]),
             "TMPDIR": str(tmp_path)}
    run_at_once({"machine 1: dvc exp run": (by_hand, machines[0], dvc_env()),
                 "machine 2: SLURM array task 2": (["bash", str(SBATCH), str(grid)],
                                                   machines[1], dvc_env(**slurm))}, TIMEOUT)
    dvc(machines[0], "exp", "push", "origin")  # the experiments of HEAD: git refs, outputs
    assert not list(tmp_path.glob("dapt-grid-*")), "the SLURM task left its clone"
    assert any((tmp_path / "storage").rglob("*.dir")), "no output reached the DVC remote"

    dvc(collector, "exp", "pull", "origin")  # the experiments of HEAD, with their outputs
    names = set(dvc(collector, "exp", "list", "--name-only").split())
    assert names == {f"grid-s{seed}" for seed in SEEDS}

    # The models of both experiments came with them (the outputs in the DVC cache).
    cache = collector / ".dvc" / "cache" / "files" / "md5"
    refs = git(collector, "for-each-ref", "--format=%(refname)", "refs/exps").split()
    assert len(refs) == len(SEEDS)
    for ref in refs:
        lock = yaml.safe_load(git(collector, "show", f"{ref}:dvc.lock"))
        ner = next(o for o in lock["stages"]["finetune-ner"]["outs"] if o["path"] == "models/ner")
        assert (cache / ner["md5"][:2] / ner["md5"][2:]).is_file(), ref

    report = tmp_path / "report.md"
    run_module("dapt.report", "--out", str(report), "--json", str(tmp_path / "report.json"),
               cwd=collector, env={"PATH": dvc_env()["PATH"]})
    settings = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert list(settings) == ["grid"] and settings["grid"]["seeds"] == list(SEEDS)
    assert "fewer than 3 seeds" in report.read_text(encoding="utf-8")
    # The two experiments side by side, as a person looks at them: offline (vendored Vega).
    dvc(collector, "plots", "diff", "grid-s1", "grid-s2", "-o", str(tmp_path / "plots"))
    page = tmp_path / "plots" / "index.html"
    text = page.read_text(encoding="utf-8")
    assert "grid-s1" in text and "grid-s2" in text and "cdn.jsdelivr" not in text
    browser = find_chromium()
    if browser is not None:  # .ci/run installs one; tests/test_offline_pages.py tests more
        found = problems(check_page(page, browser), min_views=text.count("vegaEmbed('#"))
        # The tiny profile's models tag no entity: an empty type confusion draws no marks.
        assert [p for p in found if p != "chart plots_type_confusion_json drew no marks"] == []
