"""dapt.experiments.grid: runs of another CPU profile are refused, not joined."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from dapt.experiments.grid import (
    DEFAULT_SETTINGS,
    OBJECTIVE_SETTINGS,
    SETTING_NAMES,
    baselines,
    cache_lock_data,
    settings,
)
from dapt.experiments.guards import (
    GENERAL_STAGE,
    check_joined,
    general_checkpoint,
    general_model_change,
    other_profile,
)
from dapt.experiments.profile import REPO
from dapt.report import Run

PROFILE = {"base_model": "/here/general/model", "finetune.epochs": "8",
           "finetune.dropout": "0.3", "pretrain.learning_rate": "0.0005"}


def run(name: str, **params: object) -> Run:
    return Run(name=name, params=params, f1=0.6, per_type={}, support={})


def experiment_data(epochs: int) -> dict:
    """One experiment's ``data`` in ``dvc exp show --json``: seed 1, the given epochs."""
    return {"params": {"params.yaml": {"data": {
        "seed": 1, "finetune": {"epochs": epochs, "dropout": 0.3},
        "pretrain": {"learning_rate": 0.0005}}}},
        "metrics": {"metrics/eval.json": {"data": {"test": {"f1": 0.6, "per_type": {}}}}}}


def test_other_profile_names_the_first_differing_param_and_ignores_base_model():
    same = run("a-s1", **{"base_model": "/elsewhere/general/model", "finetune.epochs": 8,
                          "finetune.dropout": 0.3, "pretrain.learning_rate": 0.0005})
    older = run("b-s1", **{"finetune.epochs": 6, "pretrain.learning_rate": 0.0005})
    unrecorded = run("c-s1", **{"finetune.epochs": 8, "pretrain.learning_rate": 0.0005})
    found = other_profile([same, older, unrecorded], PROFILE)
    assert found == {"b-s1": "finetune.epochs=6, the profile has 8",
                     "c-s1": "finetune.dropout=None, the profile has 0.3"}


def test_check_joined_fails_naming_file_run_and_param(tmp_path):
    data = experiment_data(epochs=6)
    shown = [{"rev": "abc", "experiments": [
        {"revs": [{"rev": "1" * 40, "name": "old-s1", "data": data, "error": None}]}]}]
    path = tmp_path / "exp_show.json"
    path.write_text(json.dumps(shown))
    with pytest.raises(SystemExit, match=r"exp_show.json: old-s1 ran with another profile "
                                         r"\(finetune.epochs=6, the profile has 8\)"):
        check_joined([path], PROFILE, checkpoint=lambda rev: "m1")
    data["params"]["params.yaml"]["data"]["finetune"]["epochs"] = 8
    path.write_text(json.dumps(shown))
    check_joined([path], PROFILE, checkpoint=lambda rev: "m1")  # the same profile joins


def test_check_joined_fails_naming_file_and_commit_of_another_general_checkpoint(tmp_path):
    data = experiment_data(epochs=8)
    shown = [{"rev": "workspace", "experiments": None},
             {"rev": "abc1234" + "0" * 33, "experiments": [
                 {"revs": [{"rev": "1" * 40, "name": "old-s1", "data": data, "error": None}]}]}]
    path = tmp_path / "exp_show.json"
    path.write_text(json.dumps(shown))
    locks = {"HEAD": "new.dir", shown[1]["rev"]: "old.dir"}
    with pytest.raises(SystemExit, match=r"exp_show.json: its experiments ran at commit "
                                         r"abc1234, whose general/dvc.lock has another "
                                         r"general/model \(old.dir; HEAD: new.dir\)"):
        check_joined([path], PROFILE, checkpoint=locks.get)
    locks[shown[1]["rev"]] = "new.dir"
    check_joined([path], PROFILE, checkpoint=locks.get)  # the same checkpoint joins


def test_general_checkpoint_reads_the_committed_lock():
    found = general_checkpoint("HEAD")
    # the weights' md5s where the cache has the folder's manifest, else the folder's md5
    assert "model.safetensors:" in found or found.endswith(".dir")
    assert "README.md" not in found
    assert general_checkpoint("0" * 40) is None


def test_general_model_change_reads_changed_outs_only():
    """``dvc status --json`` shapes (DVC 3): code edited since the build is no change of the
    checkpoint; a rebuilt or missing folder is."""
    assert general_model_change({}) is None
    deps_only = {GENERAL_STAGE: [{"changed deps": {"dapt/cli.py": "modified"}}]}
    assert general_model_change(deps_only) is None
    for change in ("modified", "deleted", "not in cache"):
        status = {GENERAL_STAGE: [{"changed deps": {"dapt/cli.py": "modified"}},
                                  {"changed outs": {"general/model": change}}]}
        assert general_model_change(status) == change
    other = {GENERAL_STAGE: [{"changed outs": {"general/metrics/pretrain.json": "modified"}}]}
    assert general_model_change(other) is None


def test_baselines_name_only_the_settings_the_report_has():
    rates = {"token-at-entity-rate": 0.11284, "token-at-budget-rate": 0.09971}
    plain = "mask_mode=static,pretrain.pair_task=none"
    assert baselines(rates, {"no-domain-pretraining", "token-at-budget-rate"}, ["x=1"]) == [
        "finetune.init=base", f"mask_strategy=token,mask_prob=0.0997,{plain}", "x=1"]
    assert baselines(rates, {"token-at-entity-rate", "token-at-budget-rate"}, []) == [
        f"mask_strategy=token,mask_prob=0.1128,{plain}",
        f"mask_strategy=token,mask_prob=0.0997,{plain}"]
    # a grid of token-0.15 alone has no baseline run: the report then has none
    assert baselines(rates, {"token-0.15"}, []) == []
    # objective settings bring their static MLM-only twins, where the report has them
    assert baselines(rates, {"token-0.15", "token-0.15-dynamic"}, []) == [
        f"mask_strategy=token,mask_prob=0.15,mask_budget=None,finetune.init=pretrained,{plain}"]


def test_objective_settings_and_their_twins_differ_only_in_the_objective():
    grid = settings({"token-at-entity-rate": 0.1128}, dupe=2, epochs=1)
    for task in ("sop", "nsp"):
        assert grid[f"token-at-entity-rate-{task}"] == {**grid["token-at-entity-rate"],
                                                        "pretrain.pair_task": task}
    assert grid["entity-0.5-sop"] == {**grid["entity-0.5"], "pretrain.pair_task": "sop"}
    for name in ("token-0.15", "entity-0.5"):  # dynamic at the static budget: 2 x 1 = 2 epochs
        assert grid[f"{name}-dynamic"] == {**grid[name], "mask_mode": "dynamic",
                                           "mask_dupe": "1", "pretrain.epochs": "2"}
    assert set(OBJECTIVE_SETTINGS) <= set(SETTING_NAMES) and not (
        set(OBJECTIVE_SETTINGS) & set(DEFAULT_SETTINGS))


def test_a_dynamic_run_may_set_its_own_budget_keys():
    profile = {"mask_dupe": "2", "pretrain.epochs": "1", "seed": "1"}
    dynamic = Run("d-s1", {"mask_mode": "dynamic", "mask_dupe": 1, "pretrain.epochs": 2,
                           "seed": 1}, 0.5, {}, {})
    static = Run("s-s1", {"mask_mode": "static", "mask_dupe": 1, "pretrain.epochs": 1,
                          "seed": 1}, 0.5, {}, {})
    assert other_profile([dynamic, static], profile) == {
        "s-s1": "mask_dupe=1, the profile has 2"}


@pytest.mark.slow
def test_a_fresh_clone_gets_the_committed_locks_data_objects(tmp_path):
    """Queued runs restored from the run cache read the committed lock's dep objects: a
    clone whose cache lacks them (a machine that never ran the demo) must get them."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    cache_lock_data(clone)
    lock = yaml.safe_load((clone / "dvc.lock").read_text(encoding="utf-8"))
    for stage, path in (("tokenize", "data/tokenized"), ("mask-annotate", "data/masked")):
        md5 = next(o["md5"] for o in lock["stages"][stage]["outs"] if o["path"] == path)
        assert (clone / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]).is_file()


def test_wwm_and_span_run_on_request_at_the_entity_rate():
    grid = settings({"token-at-entity-rate": 0.11284})
    for strategy in ("wwm", "span"):
        name = f"{strategy}-at-entity-rate"
        assert grid[name] == {**grid["token-at-entity-rate"], "mask_strategy": strategy}
        assert grid[name]["mask_prob"] == "0.1128" and name not in DEFAULT_SETTINGS
    assert "wwm-at-entity-rate" not in settings({})
