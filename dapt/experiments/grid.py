r"""The real-data masking grid through DVC's queue: settings x seeds, then the report.

    dapt-grid                   # the default settings, seeds 1 2 3
    dapt-grid --dry-run         # print the experiments it would queue
    dapt-grid --resume          # after an interruption: finish what is missing
    dapt-grid --settings token-0.15 entity-0.5 --seeds 4 5 \
        --exp-json /tmp/dapt-real-grid/exp_show.json  # more seeds, joined to a saved grid

(``dapt-grid`` is ``python -m dapt.experiments.grid``.) Runs in a fresh clone of the
committed HEAD (``--clone``) whose DVC cache holds this repository's objects and the data
stages of the committed ``dvc.lock`` (``dvc repro mask-annotate`` first). Every experiment is
the profile ``params_real_cpu.yaml`` plus its setting's overrides and ``seed``; all continue
from the general checkpoint, the split stays fixed. Settings (``--help`` lists the names):
no domain pretraining, token 0.15, token at the *measured* mask rate of entity p=0.5 and of
entity p=0.5 with ``mask_budget=0.2`` (measured with mask-annotate alone), entity p=0.5,
with and without the budget, entity_token; on request, entity p=0.5 with each source of
units in unlabeled text, and whole-word and SpanBERT masking at the entity rate.

The queue runs ``--jobs`` experiments at a time with ``--threads`` torch threads each
(the ``threads`` param; CPU results are identical only at the same thread count, so join
only grids of one thread setting). Then ``dapt.report`` writes ``reports/real_tcm.md`` (+
png) and ``reports/results/real_tcm.json``: baselines no domain pretraining and the token
settings at measured rates (plus ``--baseline``), the reference rows of
``reports/results/reference_rows.json``, the notes ``reports/real_tcm_notes.md``. The
clone keeps ``exp_show.json``. It prints the grid's minutes and the whole command's.

``--exp-json`` joins the finished experiments of an earlier grid (its saved ``dvc exp show
--json``) to the report; they are not run again. Guards (``dapt.experiments.guards``): the
grid refuses to start unless ``general/model`` is the checkpoint the committed
``general/dvc.lock`` records (``make general`` builds it), a joined file must hold runs of
the current profile from a commit with the same general checkpoint, and the data stages
must reproduce the committed ``dvc.lock``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from dapt.experiments.guards import DYNAMIC_BUDGET, check_general_model, check_joined
from dapt.experiments.profile import REAL_DATA, REPO, checked, dvc, profile_overrides, set_flags
from dapt.report import SEED_SUFFIX, collect_runs, experiment_revs

RESULTS = REPO / "reports" / "results"
RATE_FILE = "mask_rates.json"
DATA_STAGES = "mask-annotate"  # with its upstream stages: split, tokenize, unit-tagger

ENTITY = {"mask_strategy": "entity", "mask_prob": "0.5", "mask_budget": "null",
          "finetune.init": "pretrained"}
STATIC_MLM = {"mask_mode": "static", "pretrain.pair_task": "none"}  # a baseline's own keys


BUDGET = {**ENTITY, "mask_budget": "0.2"}
# Token settings at the *measured* mask rate of an entity setting (mask-annotate only).
RATED = {"token-at-entity-rate": ENTITY, "token-at-budget-rate": BUDGET}


def dynamic_twin(setting: dict[str, str], dupe: int, epochs: int) -> dict[str, str]:
    """``setting`` with dynamic masks at the static budget: ``dupe`` stored copies seen for
    ``epochs`` epochs become ``dupe x epochs`` epochs of fresh masks (same tokens seen, same
    optimiser steps)."""
    budget = dict(zip(DYNAMIC_BUDGET, ("1", str(dupe * epochs))))
    return {**setting, "mask_mode": "dynamic", **budget}


def settings(rates: dict[str, float], dupe: int = 2, epochs: int = 1
             ) -> dict[str, dict[str, str]]:
    """Grid settings in run order: no-domain-pretraining follows token-0.15, whose pretrain
    stage (same params) DVC's run cache then restores instead of training it again. A token
    setting of ``RATED`` is there when ``rates`` has its measured rate. ``dupe`` and
    ``epochs``: the profile's ``mask_dupe`` and ``pretrain.epochs`` (the dynamic twins'
    budget)."""
    token = {**ENTITY, "mask_strategy": "token", "mask_prob": "0.15"}
    rated = {name: {**token, "mask_prob": f"{rates[name]:.4f}"} for name in RATED
             if name in rates}
    # Whole-word and SpanBERT masking at the entity setting's rate (p is their token share).
    other = {f"{strategy}-at-entity-rate": {**rated["token-at-entity-rate"],
                                            "mask_strategy": strategy}
             for strategy in ("wwm", "span") if "token-at-entity-rate" in rated}
    # The pair objectives beside the rate-matched token baseline and entity masking.
    other |= {f"token-at-entity-rate-{task}": {**rated["token-at-entity-rate"],
                                               "pretrain.pair_task": task}
              for task in ("sop", "nsp") if "token-at-entity-rate" in rated}
    return {
        "token-0.15": token,
        "no-domain-pretraining": {**token, "finetune.init": "base"},
        **rated,
        "entity-0.5": ENTITY,
        "entity-0.5-budget-0.2": BUDGET,
        "entity_token": {**ENTITY, "mask_strategy": "entity_token"},
        "entity-0.5-lexicon-units": {**ENTITY, "mask.unlabeled_units": "lexicon"},
        "entity-0.5-tagger-units": {**ENTITY, "mask.unlabeled_units": "tagger"},
        "entity-0.5-no-units": {**ENTITY, "mask.unlabeled_units": "none"},
        **other,
        "entity-0.5-sop": {**ENTITY, "pretrain.pair_task": "sop"},
        "token-0.15-dynamic": dynamic_twin(token, dupe, epochs),
        "entity-0.5-dynamic": dynamic_twin(ENTITY, dupe, epochs),
    }


SETTING_NAMES = list(settings({name: 0.0 for name in RATED}))
UNIT_SETTINGS = ["entity-0.5-lexicon-units", "entity-0.5-tagger-units", "entity-0.5-no-units"]
OBJECTIVE_SETTINGS = ["token-at-entity-rate-sop", "token-at-entity-rate-nsp", "entity-0.5-sop",
                      "token-0.15-dynamic", "entity-0.5-dynamic"]
ON_REQUEST = [*UNIT_SETTINGS, "wwm-at-entity-rate", "span-at-entity-rate", *OBJECTIVE_SETTINGS]
DEFAULT_SETTINGS = [name for name in SETTING_NAMES if name not in ON_REQUEST]


def share_cache(repo: Path, clone: Path) -> None:
    """Hard-link ``repo``'s DVC cache objects into ``clone``'s cache (read-only files)."""
    source = repo / ".dvc" / "cache" / "files"
    if source.is_dir():
        shutil.copytree(source, clone / ".dvc" / "cache" / "files", copy_function=os.link,
                        dirs_exist_ok=True)


def measure_rate(clone: Path, profile: dict[str, str], rated: str) -> float:
    """mask_rate on the real data of the entity setting that ``rated`` (a ``RATED`` token
    setting) matches, from mask-annotate alone; kept in the clone's ``RATE_FILE``."""
    stored = clone / RATE_FILE
    rates = json.loads(stored.read_text()) if stored.is_file() else {}
    if rated not in rates:
        checked(dvc(clone, "exp", "run", "-n", "measure-rate", "mask-annotate",
                    *set_flags({**profile, **RATED[rated]})), f"measuring the rate for {rated}")
        rates[rated] = json.loads((clone / "metrics" / "masking.json").read_text())["mask_rate"]
        checked(dvc(clone, "exp", "remove", "measure-rate"), "removing the measurement")
        checked(subprocess.run(["git", "checkout", "--", "."], cwd=clone), "restoring the clone")
        stored.write_text(json.dumps(rates, indent=1) + "\n")
    return float(rates[rated])


def head_commit(repo: Path) -> str:
    return checked(subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                                  text=True), "git rev-parse").stdout.strip()


def cache_lock_data(clone: Path) -> None:
    """Put the objects of the committed ``dvc.lock``'s data stages (up to ``mask-annotate``)
    in ``clone``'s cache: a queued experiment that restores a stage from the run cache (no
    domain pretraining restores token-0.15's mask-annotate and pretrain) reads the committed
    lock's entries of its deps and fails ("failed to load directory") where the cache lacks
    them, as on a machine that never ran the demo pipeline. These stages are deterministic
    at any thread count (seconds); a changed ``dvc.lock`` means they no longer reproduce it."""
    checked(dvc(clone, "repro", DATA_STAGES), "dvc repro of the demo's data stages")
    if subprocess.run(["git", "diff", "--quiet", "--", "dvc.lock"], cwd=clone).returncode:
        raise SystemExit(f"dvc repro {DATA_STAGES} changed the committed dvc.lock in {clone}: "
                         "commit an up-to-date dvc.lock (dvc repro) before running the grid")


def prepare_clone(clone: Path, resume: bool) -> None:
    """A clone of the committed HEAD, its cache holding this repository's objects and the
    committed lock's data objects; with ``resume`` an existing clone of the same commit
    is kept (its finished experiments and DVC cache too)."""
    if clone.exists() and resume and head_commit(clone) == head_commit(REPO):
        return
    if clone.exists():
        shutil.rmtree(clone)
    checked(subprocess.run(["git", "clone", "-q", str(REPO), str(clone)]), "git clone")
    share_cache(REPO, clone)
    cache_lock_data(clone)


def failures(shown: list[dict]) -> list[str]:
    """Names of the experiments DVC reports as failed."""
    return [rev.get("name") or rev["rev"][:7] for rev in experiment_revs(shown)
            if rev.get("error")]


def finished(clone: Path, joined: list[Path]) -> set[str]:
    """Names of the experiments with test metrics in the clone and in the ``joined`` saved
    ``exp_show.json`` files (an earlier grid's: the report joins them, the grid skips them)."""
    shown = json.loads(checked(dvc(clone, "exp", "show", "--json"), "exp show").stdout)
    shown += [c for path in joined for c in json.loads(path.read_text(encoding="utf-8"))]
    return {run.name for run in collect_runs(shown)[0]}


def baselines(rates: dict[str, float], reported: set[str], extra: list[str]) -> list[str]:
    """Report baselines: no domain pretraining and the token settings at measured rates,
    those the report has (``reported``: setting names of this grid and the joined ones;
    a baseline without runs would fail the report); with objective settings their static
    MLM-only twins (token 0.15, entity 0.5); then ``extra``. Each names its static MLM-only
    keys, so that an objective setting never stands in for it."""
    plain = ",".join(f"{k}={v}" for k, v in STATIC_MLM.items())
    base = ["finetune.init=base"] if "no-domain-pretraining" in reported else []
    rated = [f"mask_strategy=token,mask_prob={rates[name]:.4f},{plain}" for name in RATED
             if name in rates and name in reported]
    twins = []
    if reported & set(OBJECTIVE_SETTINGS):
        twins = [f"mask_strategy={s['mask_strategy']},mask_prob={s['mask_prob']},"
                 f"mask_budget=None,finetune.init=pretrained,{plain}"
                 for name, s in (("token-0.15", {"mask_strategy": "token", "mask_prob": "0.15"}),
                                 ("entity-0.5", ENTITY)) if name in reported]
    return [*base, *rated, *twins, *extra]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REAL_DATA,
                        help="folder with labeled/ and unlabeled/ (%(default)s)")
    parser.add_argument("--clone", type=Path, default=Path("/tmp/dapt-real-grid"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--settings", nargs="+", metavar="NAME",
                        help=f"run these settings (default: {' '.join(DEFAULT_SETTINGS)}; "
                             f"on request: {' '.join(ON_REQUEST)})")
    parser.add_argument("--jobs", type=int, default=1, help="experiments at a time")
    parser.add_argument("--threads", type=int,
                        help="the `threads` param of every experiment (torch threads; "
                             "default: params.yaml's)")
    parser.add_argument("--exp-json", type=Path, action="append", default=[],
                        help="saved `dvc exp show --json` of an earlier grid: its finished "
                             "experiments join the report and are not run again")
    parser.add_argument("--baseline", action="append", default=[], metavar="KEY=VALUE[,...]",
                        help="a further report baseline (after no domain pretraining and "
                             "the token settings at measured rates)")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--resume", action="store_true",
                        help="keep a clone of the same commit and queue only the experiments "
                             "it has not finished (after an interrupted grid)")
    args = parser.parse_args(argv)
    began = time.monotonic()
    wanted = args.settings or DEFAULT_SETTINGS
    unknown = set(wanted) - set(SETTING_NAMES)
    if unknown:
        raise SystemExit(f"unknown settings {sorted(unknown)}; known: {SETTING_NAMES}")
    profile = profile_overrides(args.data)
    if args.threads is not None:
        profile["threads"] = str(args.threads)
    check_joined(args.exp_json, profile)
    if not args.dry_run:
        check_general_model()
    prepare_clone(args.clone, args.resume)
    if args.resume:  # tasks queued by the interrupted grid are queued again below
        checked(dvc(args.clone, "queue", "remove", "--queued", "--failed"), "clearing the queue")
    done = finished(args.clone, args.exp_json)
    # The entity rate is always measured: token at that rate is a report baseline.
    rates = {name: measure_rate(args.clone, profile, name) for name in RATED
             if name in wanted or name == "token-at-entity-rate"}
    for name, rate in rates.items():
        print(f"{name}: mask rate of the matching entity setting {rate:.4f}", flush=True)
    grid = settings(rates, int(profile["mask_dupe"]), int(profile["pretrain.epochs"]))
    queued = 0
    for name, overrides in grid.items():
        if name not in wanted:
            continue
        for seed in args.seeds:
            if f"{name}-s{seed}" in done:
                print(f"{name}-s{seed}: finished earlier, kept", flush=True)
                continue
            flags = set_flags({**profile, **overrides, "seed": str(seed)})
            cmd = ["exp", "run", "--queue", "-n", f"{name}-s{seed}", *flags]
            print("dvc " + " ".join(cmd[:5]) + " ...", flush=True)
            queued += 1
            if not args.dry_run:
                checked(dvc(args.clone, *cmd), f"queueing {name} seed {seed}")
    if args.dry_run:
        return
    start = time.monotonic()
    checked(dvc(args.clone, "exp", "run", "--run-all", "--jobs", str(args.jobs)), "the grid")
    minutes = (time.monotonic() - start) / 60
    print(f"grid: {queued} experiments in {minutes:.1f} min ({minutes / max(queued, 1):.1f} "
          f"min each; --jobs {args.jobs}, --threads {args.threads})", flush=True)
    exp_json = args.clone / "exp_show.json"
    exp_json.write_text(checked(dvc(args.clone, "exp", "show", "--json"), "exp show").stdout)
    failed = failures(json.loads(exp_json.read_text()))
    if failed:
        print(f"failed: {', '.join(failed)} (logs: dvc queue logs NAME in {args.clone}; "
              "rerun them with --resume)", flush=True)
    reported = set(wanted) | {SEED_SUFFIX.sub("", name) for name in done}
    reference = RESULTS / "reference_rows.json"
    notes = REPO / "reports" / "real_tcm_notes.md"
    report = [sys.executable, "-m", "dapt.report",
              *[arg for path in [exp_json, *args.exp_json] for arg in ("--exp-json", str(path))],
              "--ignore-param", "base_model",  # the checkout's general/model: same bytes
              *[arg for base in baselines(rates, reported, args.baseline)
                for arg in ("--baseline", base)],
              "--out", str(REPO / "reports" / "real_tcm.md"),
              "--json", str(RESULTS / "real_tcm.json")]
    if reference.is_file():
        report += ["--reference", str(reference)]
    if notes.is_file():
        report += ["--notes", str(notes)]
    checked(subprocess.run(report, cwd=REPO, capture_output=True, text=True), "the report")
    print((REPO / "reports" / "real_tcm.md").read_text())
    print(f"the whole command: {(time.monotonic() - began) / 60:.1f} min (clone, mask-rate "
          "measurements, grid and report)", flush=True)


if __name__ == "__main__":
    main()
