"""Does one real-data experiment give the same bytes under two users' environments?

    python -m dapt.experiments.repro_check                      # token 0.15, seed 1
    python -m dapt.experiments.repro_check --set mask_strategy=entity mask_prob=0.5 \
        --env-b OMP_NUM_THREADS=2 ATEN_CPU_CAPABILITY=default

Clones the committed HEAD twice (``--root``), writes the real-data profile
(``params_real_cpu.yaml``) plus ``--set`` into each clone's params.yaml and runs ``dvc repro``
in each, the first under ``--env-a`` and the second under ``--env-b`` (environment variables a
user might have set; ``dapt.numerics`` should make them irrelevant). Then compares every
output hash in the two ``dvc.lock`` files and every metrics file byte for byte, prints the
table and exits 1 on any difference. Needs ``general/model`` (``make general``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import time
from pathlib import Path

import yaml

from dapt.experiments.profile import (
    REAL_DATA,
    REPO,
    checked,
    dvc,
    profile_overrides,
    write_clone_params,
)

SETTING = ["mask_strategy=token", "mask_prob=0.15", "mask_budget=null", "seed=1"]


def env_pairs(pairs: list[str]) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in pairs)


def run_clone(clone: Path, overrides: dict[str, str], env: dict[str, str]) -> float:
    """Clone HEAD into ``clone`` with the overrides in its params.yaml, ``dvc repro`` under
    ``env``; the minutes it took."""
    if clone.exists():
        shutil.rmtree(clone)
    checked(subprocess.run(["git", "clone", "-q", str(REPO), str(clone)]), "git clone")
    write_clone_params(clone, overrides)
    start = time.monotonic()
    checked(dvc(clone, "repro", env=env), f"dvc repro in {clone}")
    return (time.monotonic() - start) / 60


def outputs(clone: Path) -> dict[str, str]:
    """``stage:path`` -> md5 of every output in ``clone``'s dvc.lock."""
    lock = yaml.safe_load((clone / "dvc.lock").read_text(encoding="utf-8"))
    return {f"{name}:{out['path']}": out.get("md5", "") for name, stage in lock["stages"].items()
            for out in stage.get("outs", [])}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REAL_DATA)
    parser.add_argument("--root", type=Path, default=Path("/tmp/dapt-repro-check"))
    parser.add_argument("--set", nargs="+", default=SETTING, metavar="KEY=VALUE",
                        help="params over the profile (default: %(default)s)")
    parser.add_argument("--env-a", nargs="*", default=["OMP_NUM_THREADS=1"],
                        metavar="VAR=VALUE", help="the first run's environment (%(default)s)")
    parser.add_argument("--env-b", nargs="*", metavar="VAR=VALUE",
                        default=["OMP_NUM_THREADS=2", "MKL_NUM_THREADS=2",
                                 "ATEN_CPU_CAPABILITY=default", "MKL_CBWR=COMPATIBLE",
                                 "ONEDNN_MAX_CPU_ISA=SSE41", "OMP_DYNAMIC=true"],
                        help="the second run's environment (%(default)s)")
    args = parser.parse_args(argv)
    overrides = {**profile_overrides(args.data), **env_pairs(args.set)}
    runs = {"a": (args.root / "a", env_pairs(args.env_a)),
            "b": (args.root / "b", env_pairs(args.env_b))}
    for name, (clone, env) in runs.items():
        minutes = run_clone(clone, overrides, env)
        print(f"run {name} ({' '.join(f'{k}={v}' for k, v in env.items())}): "
              f"{minutes:.1f} min", flush=True)
    a, b = (outputs(clone) for clone, _ in runs.values())
    print("| output | run a md5 | run b md5 | same |\n|---|---|---|---|")
    for key in sorted(set(a) | set(b)):
        print(f"| {key} | {a.get(key)} | {b.get(key)} | {a.get(key) == b.get(key)} |")
    metric_files = sorted(p.name for p in (runs["a"][0] / "metrics").glob("*.json"))
    differ = [m for m in metric_files
              if (runs["a"][0] / "metrics" / m).read_bytes()
              != (runs["b"][0] / "metrics" / m).read_bytes()]
    print(f"metrics files compared: {len(metric_files)}; differing: {differ or 'none'}")
    if a != b or differ:
        raise SystemExit("the two runs differ")
    print("identical: every output hash and every metrics file")


if __name__ == "__main__":
    main()
