"""Ablation report: grouping by params except seed, paired deltas, honesty about noise."""

from __future__ import annotations

import json

import pytest
from scipy.stats import ttest_ind, ttest_rel

from dapt.report import Run, Setting, comparison, verdict
from tests.helpers import run_module


def exp(name: str, seed: int, strategy: str, f1: float, error: bool = False,
        mask_rate: float = 0.15, units: dict | None = None) -> dict:
    data = {
        "params": {"params.yaml": {"data": {
            "seed": seed, "mask_strategy": strategy, "mask_prob": 0.5,
            "pretrain": {"epochs": 1}}}},
        "metrics": {} if error else {"metrics/masking.json": {"data": {
            "strategy": strategy, "mask_rate": mask_rate, "no_mask_share": 0.25,
            "entity_masked_share": 0.5,
            **(units or {})}},
            "metrics/eval.json": {"data": {"test": {
            "f1": f1, "per_type": {
                "SYMPTOM": {"f1": f1 + 0.1, "support": 50},
                "DRUG": {"f1": f1 - 0.1, "support": 5},
                "FOOD": {"f1": 0.0, "support": 1},
                "DISEASE": {"f1": f1, "support": 20}}}}}},
    }
    return {"revs": [{"rev": "0" * 40, "name": name, "data": data,
                      "error": {"msg": "failed"} if error else None}], "name": name}


def exp_show(experiments: list[dict]) -> list[dict]:
    return [{"rev": "workspace", "data": {}, "experiments": None},
            {"rev": "a" * 40, "name": "main", "data": {}, "experiments": experiments}]


def run_report(tmp_path, experiments, *args) -> str:
    src = tmp_path / "exp.json"
    src.write_text(json.dumps(exp_show(experiments)), encoding="utf-8")
    out = tmp_path / "report.md"
    run_module("dapt.report", "--exp-json", str(src), "--out", str(out), *args)
    assert out.with_suffix(".png").stat().st_size > 0
    return out.read_text(encoding="utf-8")


def test_groups_by_params_except_seed_with_paired_deltas(tmp_path):
    experiments = [exp(f"t{s}", s, "token", 0.50 + s / 100) for s in (1, 2, 3)]
    experiments += [exp(f"e{s}", s, "entity", 0.60 + s / 50) for s in (1, 2, 3)]
    experiments.append(exp("broken", 4, "entity", 0.0, error=True))
    report = run_report(tmp_path, experiments, "--baseline", "mask_strategy=token")
    main_table = report.split("## Per-type")[0]
    rows = [line for line in main_table.splitlines() if line.startswith("| mask_strategy")]
    assert len(rows) == 2
    entity, token = rows  # sorted by setting
    assert "mask_strategy=token **(baseline)**" in token and "| 3 |" in token
    # entity F1s 0.62, 0.64, 0.66; token 0.51, 0.52, 0.53 -> paired diffs 0.11, 0.12, 0.13:
    # mean 0.12, sd 0.01, t(0.975, 2) = 4.3027 -> half width 4.3027 * 0.01 / sqrt(3) = 0.0248
    assert "0.6400 ± 0.0200" in entity and "+0.1200 [+0.0952, +0.1448] (n=3)" in entity
    assert "| 0.1500 | 0.2500 | 0.5000 |" in entity  # mask rate, no-mask share, entity share
    assert "interval [+0.0952, +0.1448] over 3 paired seeds; the interval excludes 0" in report
    assert "| setting | SYMPTOM | DISEASE | DRUG | FOOD |" in report  # every type, by support
    assert "1 experiment(s) without test metrics" in report
    assert "fewer than 3 seeds" not in report


def test_flags_settings_with_fewer_than_three_seeds(tmp_path):
    experiments = [exp("t1", 1, "token", 0.5), exp("e1", 1, "entity", 0.6),
                   exp("e2", 2, "entity", 0.7)]
    report = run_report(tmp_path, experiments)
    assert "fewer than 3 seeds" in report and "2 ⚠" in report


def test_two_baselines_an_interval_with_zero_and_reference_rows(tmp_path):
    experiments = [exp(f"t{s}", s, "token", f) for s, f in ((1, 0.50), (2, 0.52), (3, 0.54))]
    # paired diffs +0.02, -0.02, +0.03: mean 0.01, sd 0.0265, half 4.3027*0.0265/sqrt(3)=0.0657
    experiments += [exp(f"e{s}", s, "entity", f, mask_rate=0.11)
                    for s, f in ((1, 0.52), (2, 0.50), (3, 0.57))]
    experiments += [exp(f"w{s}", s, "wwm", 0.4) for s in (1, 2, 3)]
    reference = tmp_path / "reference.json"
    reference.write_text(json.dumps({"char_crf": {"test": {"f1": 0.64}},
                                     "bilstm_crf": {"test_f1": [0.67, 0.68, 0.69]}}))
    result = tmp_path / "result.json"
    report = run_report(tmp_path, experiments, "--baseline", "mask_strategy=token",
                        "--baseline", "mask_strategy=wwm", "--reference", str(reference),
                        "--json", str(result))
    entity = next(line for line in report.splitlines() if line.startswith("| mask_strategy=entity"))
    assert "+0.0100 [-0.0557, +0.0757] (n=3)" in entity and "+0.1300 [" in entity
    assert "| 0.1100 |" in entity
    assert "the interval includes 0: no difference is shown" in report
    assert "| char CRF (reference, no pretraining) | 1 | 0.6400 |" in report
    assert "| char BiLSTM-CRF (reference, no pretraining) | 3 | 0.6800 ± 0.0100 |" in report
    # Welch's interval against the reference with seeds (the one-seed CRF gets no column).
    welch = ttest_ind([0.52, 0.50, 0.57], [0.67, 0.68, 0.69], equal_var=False)
    low, high = welch.confidence_interval(0.95)
    assert f"-0.1500 [{low:+.4f}, {high:+.4f}] |" in entity
    assert "Δ F1 vs char BiLSTM-CRF [95% Welch CI]" in report and "vs char CRF [" not in report
    assert ("* mask_strategy=entity vs char BiLSTM-CRF (reference): Δ = -0.1500, Welch 95% "
            f"interval [{low:+.4f}, {high:+.4f}] over 3 and 3 seeds (unpaired); the interval "
            "excludes 0: a difference is shown.") in report
    saved = json.loads(result.read_text(encoding="utf-8"))["mask_strategy=entity"]
    assert list(saved["vs_reference"]) == ["char BiLSTM-CRF"]
    assert saved["vs_reference"]["char BiLSTM-CRF"]["low"] == pytest.approx(low)
    assert saved["vs_reference"]["char BiLSTM-CRF"]["high"] == pytest.approx(high)


def test_named_settings_unit_quality_notes_and_json(tmp_path):
    quality = {"lexicon": {"f1": 0.58}, "tagger": {"f1": 0.59}}
    units = {"unlabeled_units": {"source": "tagger"}, "unit_quality": quality}
    # Token masking uses no entity units: no unit F1 in its row, although recorded.
    experiments = [exp(f"token-s{s}", s, "token", 0.5 + s / 100, units=units) for s in (1, 2, 3)]
    experiments += [exp(f"entity-tagger-s{s}", s, "entity", 0.6, units=units) for s in (1, 2, 3)]
    notes = tmp_path / "notes.md"
    notes.write_text("Entity masking wins here, on one split.\n", encoding="utf-8")
    result = tmp_path / "result.json"
    report = run_report(tmp_path, experiments, "--baseline", "mask_strategy=token",
                        "--notes", str(notes), "--json", str(result))
    assert "| entity-tagger | 3 | 0.6000 ± 0.0000 | 0.1500 | 0.2500 | 0.5000 | 0.5900 |" in report
    assert "| token **(baseline)** | 3 | 0.5200 ± 0.0100 | 0.1500 | 0.2500 | 0.5000 | – |" in report
    assert "**entity-tagger**: mask_strategy=entity" in report
    assert "* entity-tagger vs token: Δ = +0.0800" in report
    assert report.endswith("## What the numbers show, and what they do not\n\n"
                           "Entity masking wins here, on one split.\n")
    saved = json.loads(result.read_text(encoding="utf-8"))
    assert "vs_reference" not in saved["token"]  # no reference given
    assert saved["entity-tagger"]["params"] == {"mask_strategy": "entity"}
    assert saved["entity-tagger"]["f1"] == [0.6, 0.6, 0.6]
    assert saved["entity-tagger"]["masking"]["unit_f1"] == [0.59, 0.59, 0.59]


def test_experiments_of_several_exp_show_files_are_joined(tmp_path):
    first = [exp(f"token-s{s}", s, "token", 0.5) for s in (1, 2, 3)]
    second = tmp_path / "second.json"
    second.write_text(json.dumps(exp_show([exp(f"entity-s{s}", s, "entity", 0.6)
                                           for s in (1, 2, 3)])), encoding="utf-8")
    report = run_report(tmp_path, first, "--exp-json", str(second),
                        "--baseline", "mask_strategy=token")
    assert "| entity | 3 | 0.6000 ± 0.0000 |" in report
    assert "| token **(baseline)** | 3 | 0.5000 ± 0.0000 |" in report


def test_a_running_experiment_is_not_read_as_finished(tmp_path):
    experiments = [exp(f"token-s{s}", s, "token", 0.5) for s in (1, 2, 3)]
    running = exp("entity-s1", 1, "entity", 0.99)  # dvc shows the workspace's metrics
    running["revs"][0]["data"]["rev"] = "workspace"
    report = run_report(tmp_path, [*experiments, running])
    assert "\n| entity" not in report and "0.99" not in report
    assert "1 experiment(s) without test metrics" in report


def test_older_runs_take_unrecorded_params_from_defaults_and_ignored_params_drop(tmp_path):
    old = [exp(f"entity-s{s}", s, "entity", 0.6) for s in (1, 2, 3)]
    new = [exp(f"entity-s{s}", s, "entity", 0.7) for s in (4, 5)]
    new += [exp(f"entity-tagger-s{s}", s, "entity", 0.65) for s in (1, 2, 3)]
    for run, units in [*((r, "lexicon") for r in new[:2]), *((r, "tagger") for r in new[2:])]:
        params = run["revs"][0]["data"]["params"]["params.yaml"]["data"]
        params.update(units=units, base_model=f"/checkout-{units}/general/model")
    for run in old:  # another checkout, and no `units` knob yet
        run["revs"][0]["data"]["params"]["params.yaml"]["data"]["base_model"] = "/old/model"
    defaults = tmp_path / "defaults.yaml"
    defaults.write_text("units: lexicon\nbase_model: general/model\n", encoding="utf-8")
    report = run_report(tmp_path, [*old, *new], "--defaults", str(defaults),
                        "--ignore-param", "base_model", "--baseline", "units=lexicon")
    # The old runs (no `units`: the default, lexicon) and seeds 4-5 are one setting.
    assert "| entity **(baseline)** | 5 | 0.6400 ± 0.0548 |" in report
    assert "**entity-tagger**: units=tagger" in report and "base_model" not in report
    without_defaults = run_report(tmp_path, [*old, *new], "--defaults", str(tmp_path / "none"),
                                  "--ignore-param", "base_model")
    assert "| entity | 3 | 0.6000 ± 0.0000 |" in without_defaults


def test_dev_f1_column_and_json_where_finetuning_recorded_it(tmp_path):
    experiments = [exp(f"token-s{s}", s, "token", 0.5) for s in (1, 2, 3)]
    for seed, record in enumerate(experiments, start=1):
        record["revs"][0]["data"]["metrics"]["metrics/finetune.json"] = {"data": {
            "dev": {"f1": 0.60 + seed / 100, "best_epoch": 6 + seed}}}
    result = tmp_path / "result.json"
    reference = tmp_path / "reference.json"
    reference.write_text(json.dumps({
        "char_crf": {"test": {"f1": 0.64}, "dev": {"f1": 0.6}},
        "bilstm_crf": {"test_f1": [0.67, 0.68], "seeds": {"1": {"dev_f1": 0.7},
                                                           "2": {"dev_f1": 0.72}}}}))
    report = run_report(tmp_path, experiments, "--json", str(result),
                        "--reference", str(reference))
    assert "| setting | seeds | test F1 | dev F1 | mask rate |" in report
    assert "| char CRF (reference, no pretraining) | 1 | 0.6400 | 0.6000 | – |" in report
    assert ("| char BiLSTM-CRF (reference, no pretraining) | 2 | 0.6750 ± 0.0071 | "
            "0.7100 ± 0.0141 |") in report
    assert "| token **(baseline)** | 3 | 0.5000 ± 0.0000 | 0.6200 ± 0.0100 | 0.1500 |" in report
    assert "pick a setting by it, not by test F1" in report
    saved = json.loads(result.read_text(encoding="utf-8"))["token"]
    assert saved["dev_f1"] == [0.61, 0.62, 0.63] and saved["best_epoch"] == [7, 8, 9]


def test_pairs_by_seed_over_the_seeds_both_settings_ran(tmp_path):
    """Baseline seeds {1, 2, 3} against {2, 3, 4}: n = 2 paired differences, of seeds 2 and 3
    only (pairing by position would give n = 3 and another mean)."""
    experiments = [exp(f"t{s}", s, "token", f) for s, f in ((1, 0.50), (2, 0.52), (3, 0.55))]
    experiments += [exp(f"e{s}", s, "entity", f) for s, f in ((2, 0.60), (3, 0.64), (4, 0.90))]
    report = run_report(tmp_path, experiments, "--baseline", "mask_strategy=token")
    # diffs 0.60 - 0.52 = 0.08 and 0.64 - 0.55 = 0.09: mean 0.085, sd 0.00707, t(0.975, 1)
    # = 12.706 -> half width 12.706 * 0.00707 / sqrt(2) = 0.0635
    low, high = ttest_rel([0.60, 0.64], [0.52, 0.55]).confidence_interval(0.95)
    assert (f"{low:+.4f}", f"{high:+.4f}") == ("+0.0215", "+0.1485")
    entity = next(line for line in report.splitlines() if line.startswith("| mask_strategy=entity"))
    assert "| +0.0850 [+0.0215, +0.1485] (n=2) |" in entity
    assert ("Δ = +0.0850, 95% interval [+0.0215, +0.1485] over 2 paired seeds; the interval "
            "excludes 0") in report


def test_an_interval_that_touches_zero_includes_it():
    """An interval with an end exactly at 0 includes 0 (only low > 0 or high < 0 excludes it),
    down to the sentence of a comparison whose per-seed differences are all 0."""
    includes, excludes = "includes 0: no difference is shown", "excludes 0: a difference is shown"
    assert verdict(0.0, 0.2) == verdict(-0.2, 0.0) == verdict(0.0, 0.0) == includes
    assert verdict(1e-9, 0.2) == verdict(-0.2, -1e-9) == excludes

    def setting(name: str) -> Setting:
        return Setting((name,), {s: Run(f"{name}{s}", {"seed": s}, f, {}, {})
                                 for s, f in ((1, 0.5), (2, 0.6), (3, 0.7))})

    cell, sentence = comparison(setting("a"), setting("b"))
    assert cell == "+0.0000 [+0.0000, +0.0000] (n=3)"
    assert sentence.endswith(f"over 3 paired seeds; the interval {includes}.")
