"""Ablation report: group DVC experiments by every param except ``seed``.

Reads ``dvc exp show --json`` (run here, or a saved file via ``--exp-json``) and writes a
Markdown table and a plot: mean ± sample std of test strict F1 per setting (and per-type F1
for the three most frequent entity types), the number of seeds, and each setting's paired
difference against a baseline setting (same seeds on both sides). Settings with fewer than
three seeds are flagged: their spread says little.

    python -m dapt.report --baseline mask_strategy=token --out reports/ablation.md
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from dapt.cli import setup_logging

log = logging.getLogger("report")
METRICS_FILE = "metrics/eval.json"
MIN_SEEDS = 3


@dataclass
class Run:
    name: str
    params: dict[str, object]
    f1: float
    per_type: dict[str, float]
    support: dict[str, int]


@dataclass
class Setting:
    key: tuple
    runs: dict[int, Run] = field(default_factory=dict)  # by seed


def flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def run_from_record(name: str, data: dict) -> Run | None:
    """A finished experiment with test metrics, or None."""
    metrics = (data.get("metrics") or {}).get(METRICS_FILE, {}).get("data", {}).get("test")
    params = (data.get("params") or {}).get("params.yaml", {}).get("data")
    if not metrics or params is None:
        return None
    per_type = metrics.get("per_type", {})
    return Run(
        name=name,
        params=flatten(params),
        f1=float(metrics["f1"]),
        per_type={t: float(v["f1"]) for t, v in per_type.items()},
        support={t: int(v.get("support", 0)) for t, v in per_type.items()},
    )


def collect_runs(exp_show: list[dict]) -> tuple[list[Run], int]:
    """Experiments (not the workspace or commits themselves); also count the unusable ones."""
    runs, unusable = [], 0
    for commit in exp_show:
        for exp in commit.get("experiments") or []:
            for rev in exp.get("revs", []):
                run = None if rev.get("error") else run_from_record(
                    rev.get("name") or rev["rev"][:7], rev.get("data") or {})
                if run is None:
                    unusable += 1
                else:
                    runs.append(run)
    return runs, unusable


def group_settings(runs: list[Run]) -> tuple[list[Setting], list[str]]:
    """Group runs by all params except seed; return settings and the params that vary."""
    names = sorted({k for r in runs for k in r.params} - {"seed"})
    varying = [k for k in names if len({repr(r.params.get(k)) for r in runs}) > 1]
    settings: dict[tuple, Setting] = {}
    for run in sorted(runs, key=lambda r: r.name):
        key = tuple(run.params.get(k) for k in varying)
        setting = settings.setdefault(key, Setting(key))
        seed = int(run.params.get("seed", 0))
        if seed in setting.runs:
            log.warning("%s repeats seed %d of %s; keeping %s", run.name, seed, key,
                        setting.runs[seed].name)
            continue
        setting.runs[seed] = run
    return sorted(settings.values(), key=lambda s: repr(s.key)), varying


def mean_std(values: list[float]) -> str:
    if not values:
        return "–"
    if len(values) < 2:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def parse_baseline(text: str | None, varying: list[str], settings: list[Setting]) -> Setting:
    if not text:
        return settings[0]
    wanted = dict(part.split("=", 1) for part in text.split(","))
    for setting in settings:
        values = dict(zip(varying, setting.key))
        if all(str(values.get(k)) == v for k, v in wanted.items()):
            return setting
    raise SystemExit(f"no setting matches baseline {text!r}; settings: "
                     f"{[dict(zip(varying, s.key)) for s in settings]}")


def top_types(runs: list[Run], k: int = 3) -> list[str]:
    support: dict[str, int] = defaultdict(int)
    for run in runs:
        for t, n in run.support.items():
            support[t] = max(support[t], n)
    return sorted(support, key=lambda t: (-support[t], t))[:k]


def render(settings: list[Setting], varying: list[str], baseline: Setting,
           types: list[str], unusable: int) -> str:
    header = ["setting", "seeds", "test F1", *[f"{t} F1" for t in types],
              "Δ F1 vs baseline (paired)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for s in settings:
        label = ", ".join(f"{k}={v}" for k, v in zip(varying, s.key)) or "(all)"
        if s is baseline:
            label += " **(baseline)**"
        seeds = sorted(s.runs)
        flag = "" if len(seeds) >= MIN_SEEDS else " ⚠"
        shared = [seed for seed in seeds if seed in baseline.runs]
        diffs = [s.runs[x].f1 - baseline.runs[x].f1 for x in shared]
        delta = "–" if s is baseline else f"{mean_std(diffs)} (n={len(diffs)})"
        cells = [label, f"{len(seeds)}{flag}", mean_std([s.runs[x].f1 for x in seeds]),
                 *[mean_std([s.runs[x].per_type.get(t, 0.0) for x in seeds]) for t in types],
                 delta]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [
        "",
        f"Mean ± sample standard deviation over seeds of strict span-level test F1 "
        f"(`{METRICS_FILE}`). Δ is the per-seed difference against the baseline, "
        "averaged over the seeds both settings ran.",
    ]
    few = [s for s in settings if len(s.runs) < MIN_SEEDS]
    if few:
        notes.append(f"⚠ {len(few)} setting(s) have fewer than {MIN_SEEDS} seeds: their "
                     "spread is not a reliable estimate of noise; run more seeds before "
                     "reading differences.")
    if unusable:
        notes.append(f"{unusable} experiment(s) without test metrics (failed or unfinished) "
                     "were left out.")
    return "\n".join(["# Ablation report", "", *lines]) + "\n" + "\n\n".join(notes) + "\n"


def plot(settings: list[Setting], varying: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = ["\n".join(f"{k}={v}" for k, v in zip(varying, s.key)) for s in settings]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.6 * len(settings)), 4))
    for i, s in enumerate(settings):
        f1s = [r.f1 for r in s.runs.values()]
        ax.scatter([i] * len(f1s), f1s, color="grey", s=12, zorder=3)
        std = statistics.stdev(f1s) if len(f1s) > 1 else 0.0
        ax.errorbar(i, statistics.mean(f1s), yerr=std, fmt="o", capsize=6, zorder=4)
    ax.set_xticks(range(len(settings)), labels, fontsize=8)
    ax.set_ylabel("test strict F1")
    ax.set_title("mean ± std over seeds (dots: single seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def load_exp_show(path: str | None) -> list[dict]:
    if path:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    out = subprocess.run(["dvc", "exp", "show", "--json"], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exp-json", help="saved `dvc exp show --json` output (default: run it)")
    parser.add_argument("--baseline", help="e.g. mask_strategy=token (default: first setting)")
    parser.add_argument("--out", default="reports/ablation.md")
    args = parser.parse_args()
    setup_logging()

    runs, unusable = collect_runs(load_exp_show(args.exp_json))
    if not runs:
        raise SystemExit("no finished experiments with metrics/eval.json found")
    settings, varying = group_settings(runs)
    baseline = parse_baseline(args.baseline, varying, settings)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(settings, varying, baseline, top_types(runs), unusable),
                   encoding="utf-8")
    plot(settings, varying, out.with_suffix(".png"))
    log.info("%d runs in %d settings -> %s", len(runs), len(settings), out)


if __name__ == "__main__":
    main()
