"""Short probes of optimiser settings for the general checkpoint (general/params.yaml).

Not run in CI. Each probe runs the pretrain stage itself (``stages.pretrain``) on every
``--stride``-th masked copy of the general pipeline (general/data/masked, made by its
mask-annotate stage) with ``pretrain.*`` overrides, and prints the MLM eval loss and
accuracy on the pipeline's 256 held-out sequences, with the minutes. One probe at a time,
general/params.yaml's ``threads``; the linear schedule decays to 0 within each probe.

    python -m dapt.experiments.general_probe --probe lr1e-3 learning_rate=1e-3 \
        --probe lr3e-3 learning_rate=3e-3 --probe b16 batch_size=16 learning_rate=2e-3

The unigram plateau (predicting the most frequent character) is eval loss ~6.58,
accuracy 0.042.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from dapt.experiments.profile import REPO, apply_overrides

GENERAL = REPO / "general"


def subset_masked(masked: Path, stride: int, out: Path) -> int:
    """Every ``stride``-th training copy of ``masked`` (eval set and masking record whole)
    into ``out``; the number of training copies kept."""
    out.mkdir(parents=True)
    train = pq.read_table(masked / "train.parquet")
    pq.write_table(train.take(list(range(0, train.num_rows, stride))), out / "train.parquet")
    for name in ("eval.parquet", "masking.json"):
        (out / name).write_bytes((masked / name).read_bytes())
    return (train.num_rows + stride - 1) // stride


def run_probe(work: Path, name: str, overrides: dict[str, str], masked: Path) -> dict:
    params = yaml.safe_load((GENERAL / "params.yaml").read_text(encoding="utf-8"))
    apply_overrides(params, {f"pretrain.{key}": value for key, value in overrides.items()})
    params["pretrain"]["save_steps"] = 10**9  # evaluate at the end only
    params_file = work / f"{name}.yaml"
    params_file.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    start = time.perf_counter()
    env = {**os.environ, "DAPT_CHECKPOINT_DIR": str(work / "checkpoints")}
    subprocess.run([sys.executable, "-m", "stages.pretrain", "--params", str(params_file),
                    "--masked-dir", str(masked), "--tokenizer", str(GENERAL / "tokenizer"),
                    "--out", str(work / name / "model"),
                    "--metrics", str(work / name / "pretrain.json"),
                    "--live-dir", str(work / name / "live")], cwd=REPO, env=env, check=True)
    metrics = json.loads((work / name / "pretrain.json").read_text())
    return {"probe": name, "overrides": overrides, "steps": metrics["train"]["steps"],
            "eval_loss": round(metrics["eval"]["loss"], 4),
            "eval_accuracy": round(metrics["eval"]["accuracy"], 4),
            "minutes": round((time.perf_counter() - start) / 60, 2)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probe", nargs="+", action="append", required=True,
                        metavar=("NAME", "KEY=VALUE"),
                        help="a probe: its name, then pretrain.KEY=VALUE overrides")
    parser.add_argument("--stride", type=int, default=4, help="keep every Nth masked copy")
    parser.add_argument("--masked", type=Path, default=GENERAL / "data" / "masked")
    args = parser.parse_args(argv)
    if not (args.masked / "masking.json").is_file():
        raise SystemExit(f"{args.masked}: no masked copies; run dvc repro general/dvc.yaml "
                         "(mask-annotate) first")
    with tempfile.TemporaryDirectory(prefix="general-probe-") as tmp:
        work = Path(tmp)
        kept = subset_masked(args.masked, args.stride, work / "masked")
        print(f"{kept} training copies (every {args.stride}th)", flush=True)
        for name, *pairs in args.probe:
            overrides = dict(pair.split("=", 1) for pair in pairs)
            print(json.dumps(run_probe(work, name, overrides, work / "masked")), flush=True)


if __name__ == "__main__":
    main()
