"""Tune the real-data CPU profile on dev: one ``dvc repro finetune-ner`` per setting.

    dapt-tune --name crf-lr1e-3 finetune.head=crf finetune.learning_rate=1e-3
    dapt-tune --render      # reports/tuning.md (+ png) from reports/results/tuning.json

(``dapt-tune`` is ``python -m dapt.experiments.tune``.) Each setting is the profile
``params_real_cpu.yaml`` plus the given ``key=value`` overrides, written into the params.yaml
of a persistent clone of the committed HEAD (``--clone``, created on first use), so that
DVC's run cache restores every stage seen before. Only dev is read
(``metrics/finetune.json``); the evaluate stage never runs. Each setting appends a row to
``reports/results/tuning.json`` (overrides, dev P/R/F1, best epoch, dev F1 per epoch, MLM
eval loss, minutes, stages run); then ``reports/tuning.md`` and ``reports/tuning.png`` are
rewritten from all rows, with ``--notes`` appended.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

from dapt.experiments.profile import (
    REAL_DATA,
    REPO,
    checked,
    dvc,
    profile_overrides,
    write_clone_params,
)

RESULTS = REPO / "reports" / "results" / "tuning.json"
REPORT = REPO / "reports" / "tuning.md"
NOTES = REPO / "reports" / "tuning_notes.md"
CURVE = Path("dvclive/finetune/plots/metrics/dev/f1.tsv")


def ensure_clone(clone: Path) -> None:
    """``clone`` at the committed HEAD of this repository (cloned on first use)."""
    if not (clone / ".git").is_dir():
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "fetch", "-q", str(REPO), "HEAD"], check=True)
    subprocess.run(["git", "-C", str(clone), "reset", "-q", "--hard", "FETCH_HEAD"], check=True)


def run_setting(clone: Path, name: str, overrides: dict[str, str]) -> dict:
    """``dvc repro finetune-ner`` in ``clone`` with ``overrides``; the setting's row."""
    # Every setting starts from the committed params: an earlier setting must not leak in.
    write_clone_params(clone, overrides)
    start = time.perf_counter()
    proc = checked(dvc(clone, "repro", "finetune-ner"), f"setting {name}")
    minutes = (time.perf_counter() - start) / 60
    ran = [line.split("'")[1] for line in proc.stdout.splitlines()
           if line.startswith("Running stage")]
    finetune = json.loads((clone / "metrics" / "finetune.json").read_text())
    pretrain = json.loads((clone / "metrics" / "pretrain.json").read_text())
    masking = json.loads((clone / "metrics" / "masking.json").read_text())
    return {
        "dev_f1_curve": dev_curve(clone),
        "name": name, "overrides": overrides, "minutes": round(minutes, 2), "stages_run": ran,
        "dev": {k: finetune["dev"][k] for k in ("f1", "precision", "recall", "best_epoch")},
        "stopped_early": finetune["train"].get("stopped_early"),
        "mlm_eval_loss": pretrain["eval"]["loss"], "mask_rate": masking["mask_rate"],
    }


def dev_curve(clone: Path) -> list[float]:
    """Dev F1 after each fine-tuning epoch (dvclive's curve of the last finetune-ner run)."""
    lines = (clone / CURVE).read_text(encoding="utf-8").splitlines()[1:]
    return [round(float(line.split("\t")[1]), 4) for line in lines if line.strip()]


def plot_curves(rows: list[dict], out: Path) -> None:
    """Dev F1 per fine-tuning epoch, one line per setting that recorded its curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for i, r in enumerate(rows, 1):
        if r.get("dev_f1_curve"):
            curve = r["dev_f1_curve"]
            ax.plot(range(1, len(curve) + 1), curve, marker=".", label=f"{i} {r['name']}")
    ax.set(xlabel="fine-tuning epoch", ylabel="dev strict F1",
           title="Real-data tuning: dev F1 per epoch")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def differences(overrides: dict[str, str], profile: dict[str, str]) -> dict[str, str]:
    """The settings of a row that differ from the current profile (params a row did not
    override are the committed params.yaml values, shown as ``(params.yaml)``)."""
    keys = [*overrides, *(k for k in profile if k not in overrides)]
    return {k: overrides.get(k, "(params.yaml)") for k in keys
            if overrides.get(k) != profile.get(k)}


def render(rows: list[dict], profile: dict[str, str], notes: str | None = None) -> str:
    """reports/tuning.md: one table row per setting, then ``notes`` (Markdown)."""
    lines = ["# Tuning the real-data CPU profile (dev only)", "",
             "Every setting tried, in order, from `python -m dapt.experiments.tune` (rows in "
             "`reports/results/tuning.json`): the current profile "
             "`params_real_cpu.yaml` with the listed differences, strict span F1 on "
             "the 80 dev documents. Minutes are the wall time of `dvc repro finetune-ner` "
             "on 2 CPU cores (stages restored from "
             "DVC's run cache cost ~0; the stages that ran are listed). Test was not read. "
             "Dev F1 after every epoch: `reports/tuning.png`.", "",
             "| # | setting | differences from the profile | dev F1 | P | R | best epoch | "
             "MLM eval loss | minutes | stages run |", "|---|---|---|---|---|---|---|---|---|---|"]
    for i, r in enumerate(rows, 1):
        diff = differences(r["overrides"], profile)
        extra = ", ".join(f"`{k}={v}`" for k, v in diff.items()) or "(profile)"
        d = r["dev"]
        lines.append(f"| {i} | {r['name']} | {extra} | {d['f1']:.4f} | {d['precision']:.3f} | "
                     f"{d['recall']:.3f} | {d['best_epoch']} | {r['mlm_eval_loss']:.3f} | "
                     f"{r['minutes']:.1f} | {', '.join(r['stages_run']) or '-'} |")
    text = "\n".join(lines) + "\n"
    return text + "\n" + notes.strip() + "\n" if notes else text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", help="key=value on top of the profile")
    parser.add_argument("--name", help="setting name (required unless --render)")
    parser.add_argument("--data", type=Path, default=REAL_DATA,
                        help="folder with labeled/ and unlabeled/ (%(default)s)")
    parser.add_argument("--clone", type=Path, default=Path("/tmp/dapt-real-tuning"))
    parser.add_argument("--render", action="store_true", help="only rewrite reports/tuning.md")
    parser.add_argument("--notes", type=Path, default=NOTES,
                        help="Markdown appended to the report (%(default)s)")
    args = parser.parse_args(argv)
    rows = json.loads(RESULTS.read_text()) if RESULTS.is_file() else []
    if not args.render:
        if not args.name:
            parser.error("--name is required")
        extra = dict(o.split("=", 1) for o in args.overrides)
        ensure_clone(args.clone)
        row = run_setting(args.clone, args.name, {**profile_overrides(args.data), **extra})
        row["extra"] = extra
        rows.append(row)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        print(json.dumps({k: row[k] for k in ("name", "dev", "minutes", "stages_run")}))
    notes = args.notes.read_text(encoding="utf-8")
    REPORT.write_text(render(rows, profile_overrides(args.data), notes), encoding="utf-8")
    plot_curves(rows, REPORT.with_suffix(".png"))


if __name__ == "__main__":
    main()
