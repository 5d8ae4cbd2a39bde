"""The real-data masking grid through DVC's queue: settings x seeds, then the report.

    python bench/real_grid.py                 # all settings, seeds 1 2 3
    python bench/real_grid.py --dry-run       # print the queued commands only

Runs in a fresh clone of the committed HEAD (``--clone``). Every setting is the CPU profile
``bench/profiles/real_cpu.yaml`` plus its own overrides; all continue from the general
checkpoint. The split stays fixed (``split.seed``); ``seed`` changes masks, initialisation
and data order. Settings: no domain pretraining (``finetune.init=base``), token 0.15,
token at the *measured* mask rate of entity p=0.5 (mask-annotate is run first to measure
it), entity p=0.5, entity p=0.5 with ``mask_budget=0.2``, entity_token. The queue runs
with ``dvc exp run --run-all``; then ``dapt.report`` writes ``reports/real_tcm.md`` (+ png)
and ``bench/results/real_tcm.json`` with both baselines, 95% paired intervals, per-type F1
and the reference rows of ``bench/results/reference_rows.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from real_tuning import REPO, dvc, profile_overrides, set_flags  # noqa: E402

ENTITY = {"mask_strategy": "entity", "mask_prob": "0.5", "mask_budget": "null",
          "finetune.init": "pretrained"}


def settings(token_rate: float) -> dict[str, dict[str, str]]:
    token = {**ENTITY, "mask_strategy": "token", "mask_prob": "0.15"}
    return {
        "no-domain-pretraining": {**token, "finetune.init": "base"},
        "token-0.15": token,
        "token-at-entity-rate": {**token, "mask_prob": f"{token_rate:.4f}"},
        "entity-0.5": ENTITY,
        "entity-0.5-budget-0.2": {**ENTITY, "mask_budget": "0.2"},
        "entity_token": {**ENTITY, "mask_strategy": "entity_token"},
    }


def checked(proc: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"{what} failed")
    return proc


def measure_entity_rate(clone: Path, profile: dict[str, str]) -> float:
    """mask_rate of entity p=0.5 on the real data (mask-annotate only)."""
    checked(dvc(clone, "exp", "run", "-n", "measure-entity-rate", "mask-annotate",
                *set_flags({**profile, **ENTITY})), "measuring the entity mask rate")
    rate = json.loads((clone / "metrics" / "masking.json").read_text())["mask_rate"]
    checked(dvc(clone, "exp", "remove", "measure-entity-rate"), "removing the measurement")
    checked(subprocess.run(["git", "checkout", "--", "."], cwd=clone), "restoring the clone")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "tcm_ner")
    parser.add_argument("--clone", type=Path, default=Path("/tmp/dapt-real-grid"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    if args.clone.exists():
        shutil.rmtree(args.clone)
    checked(subprocess.run(["git", "clone", "-q", str(REPO), str(args.clone)]), "git clone")
    profile = profile_overrides(args.data)
    rate = measure_entity_rate(args.clone, profile)
    print(f"entity p=0.5 mask rate on the real data: {rate:.4f}", flush=True)
    for name, overrides in settings(rate).items():
        for seed in args.seeds:
            flags = set_flags({**profile, **overrides, "seed": str(seed)})
            cmd = ["exp", "run", "--queue", "-n", f"{name}-s{seed}", *flags]
            print("dvc " + " ".join(cmd[:5]) + " ...", flush=True)
            if not args.dry_run:
                checked(dvc(args.clone, *cmd), f"queueing {name} seed {seed}")
    if args.dry_run:
        return
    checked(dvc(args.clone, "exp", "run", "--run-all", "--jobs", str(args.jobs)), "the grid")
    exp_json = args.clone / "exp_show.json"
    exp_json.write_text(checked(dvc(args.clone, "exp", "show", "--json"), "exp show").stdout)
    reference = REPO / "bench" / "results" / "reference_rows.json"
    report = [sys.executable, "-m", "dapt.report", "--exp-json", str(exp_json),
              "--baseline", "finetune.init=base",
              "--baseline", f"mask_strategy=token,mask_prob={rate:.4f}",
              "--out", str(REPO / "reports" / "real_tcm.md"),
              "--json", str(REPO / "bench" / "results" / "real_tcm.json")]
    if reference.is_file():
        report += ["--reference", str(reference)]
    checked(subprocess.run(report, cwd=REPO, capture_output=True, text=True), "the report")
    print((REPO / "reports" / "real_tcm.md").read_text())


if __name__ == "__main__":
    main()
