"""Ablation report: group DVC experiments by every param except ``seed``.

Reads ``dvc exp show --json`` (run here, or a saved file via ``--exp-json``) and writes a
Markdown report, a plot (``.png``) and an experiment page (``.html``, offline, interactive
charts: ``dapt.report_page``) beside it: per setting the number of seeds, mean ± sample std
of test strict F1 and (where recorded) of the dev F1 that fine-tuning kept, what the masks were
(mask rate = share of maskable tokens that carry a label, share of copies without any mask,
entity masked share; from ``metrics/masking.json``), and
the paired difference against each ``--baseline`` (same seeds on both sides) with a 95%
Student-t interval over the per-seed differences, plus one sentence per comparison saying
whether the interval excludes 0; then per-type F1 of every entity type. ``--reference``
adds rows of models that need no pretraining (``dapt.experiments.reference_rows``; dashed
lines in the plot) and, against each one with at least two seeds, every setting's
difference of means with Welch's unpaired 95% interval (a reference model's seed 1 shares
nothing with a pipeline run's seed 1, so nothing pairs them). Settings with fewer than three
seeds are flagged: their spread says little. A setting whose experiments are named
``<name>-s<seed>`` is labelled ``<name>`` (its params are listed under the table). Where
mask-annotate scored its entity units on dev (``unit_quality``), the strict F1 of the unit
source that entity masking used on unlabeled text is a column.
``--notes`` appends a hand-written Markdown file: what the numbers do and do not show.

Experiments of several commits join on their params: a param an experiment does not record
(it ran before the knob existed) takes its value from ``--defaults`` (this commit's
``params.yaml``; a new knob's default keeps the old behaviour), and ``--ignore-param`` drops
params that do not define a setting (``base_model`` when grids ran from different checkouts
of the same general checkpoint).

    python -m dapt.report --baseline mask_strategy=token --out reports/ablation.md
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import statistics
import subprocess
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dapt.cli import setup_logging
from dapt.data.atomic import atomic_file, write_text
from dapt.data.contracts import write_json

log = logging.getLogger("report")
METRICS_FILE = "metrics/eval.json"
FINETUNE_FILE = "metrics/finetune.json"  # dev F1 of the kept epoch, the one model selection saw
MIN_SEEDS = 3


MASK_FILE = "metrics/masking.json"
MASK_STATS = (("mask_rate", "mask rate"), ("no_mask_share", "copies without mask"),
              ("entity_masked_share", "entity masked share"))
UNIT_F1 = "unit_f1"  # dev strict F1 of the unlabeled-text unit source (mask-annotate)
UNIT_STRATEGIES = ("entity", "entity_token")  # the strategies that mask entity units
SEED_SUFFIX = re.compile(r"-s\d+$")


@dataclass
class Run:
    name: str
    params: dict[str, object]
    f1: float
    per_type: dict[str, float]
    support: dict[str, int]
    masking: dict[str, float] = field(default_factory=dict)
    dev_f1: float | None = None  # strict dev F1 of the kept (best) epoch
    best_epoch: int | None = None


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
    masking = (data.get("metrics") or {}).get(MASK_FILE, {}).get("data", {})
    stats = {k: float(masking[k]) for k, _ in MASK_STATS if k in masking}
    source = (masking.get("unlabeled_units") or {}).get("source")
    quality = (masking.get("unit_quality") or {}).get(source)
    if quality and masking.get("strategy") in UNIT_STRATEGIES:
        stats[UNIT_F1] = float(quality["f1"])
    dev = (data.get("metrics") or {}).get(FINETUNE_FILE, {}).get("data", {}).get("dev") or {}
    return Run(
        name=name,
        params=flatten(params),
        f1=float(metrics["f1"]),
        per_type={t: float(v["f1"]) for t, v in per_type.items()},
        support={t: int(v.get("support", 0)) for t, v in per_type.items()},
        masking=stats,
        dev_f1=float(dev["f1"]) if "f1" in dev else None,
        best_epoch=int(dev["best_epoch"]) if "best_epoch" in dev else None,
    )


def normalise_params(runs: list[Run], defaults: dict[str, object],
                     ignore: list[str]) -> None:
    """Fill each run's unrecorded params from ``defaults`` and drop the ``ignore`` ones."""
    for run in runs:
        run.params = {k: v for k, v in {**defaults, **run.params}.items() if k not in ignore}


def experiment_revs(exp_show: list[dict]) -> Iterator[dict]:
    """Every experiment record of ``dvc exp show --json`` (not the commits themselves)."""
    for commit in exp_show:
        for exp in commit.get("experiments") or []:
            yield from exp.get("revs", [])


def collect_runs(exp_show: list[dict]) -> tuple[list[Run], int]:
    """Experiments (not the workspace or commits themselves); also count the unusable ones:
    failed, queued, and running (``dvc exp show`` lists a running experiment with the
    *workspace's* metrics, its ``data.rev`` being ``workspace``)."""
    runs, unusable = [], 0
    for rev in experiment_revs(exp_show):
        data = rev.get("data") or {}
        running = data.get("rev") == "workspace"
        run = None if rev.get("error") or running else run_from_record(
            rev.get("name") or rev["rev"][:7], data)
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
    """The first setting whose params match ``key=value[,key=value]`` (default: the first
    setting); a key may be one that does not vary."""
    if not text:
        return settings[0]
    wanted = dict(part.split("=", 1) for part in text.split(","))
    for setting in settings:
        params = next(iter(setting.runs.values())).params  # also the keys that do not vary
        if all(str(params.get(k)) == v for k, v in wanted.items()):
            return setting
    raise SystemExit(f"no setting matches baseline {text!r}; settings: "
                     f"{[dict(zip(varying, s.key)) for s in settings]}")


def types_by_support(runs: list[Run]) -> list[str]:
    """Every entity type seen, most frequent first."""
    support: dict[str, int] = defaultdict(int)
    for run in runs:
        for t, n in run.support.items():
            support[t] = max(support[t], n)
    return sorted(support, key=lambda t: (-support[t], t))


def paired_interval(diffs: list[float]) -> tuple[float, float, float] | None:
    """Mean of per-seed differences and its 95% Student-t interval (None below 2 seeds)."""
    if len(diffs) < 2:
        return None
    from scipy.stats import t

    mean = statistics.mean(diffs)
    half = t.ppf(0.975, len(diffs) - 1) * statistics.stdev(diffs) / len(diffs) ** 0.5
    return mean, mean - half, mean + half


def welch_interval(a: list[float], b: list[float]) -> tuple[float, float, float] | None:
    """mean(a) - mean(b) and its 95% Welch interval (unequal variances, Welch-Satterthwaite
    degrees of freedom); None unless both sides have two values or more."""
    if len(a) < 2 or len(b) < 2:
        return None
    from scipy.stats import t

    diff = statistics.mean(a) - statistics.mean(b)
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    if va + vb == 0:
        return diff, diff, diff
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = t.ppf(0.975, dof) * (va + vb) ** 0.5
    return diff, diff - half, diff + half


def verdict(low: float, high: float) -> str:
    return ("excludes 0: a difference is shown" if low > 0 or high < 0 else
            "includes 0: no difference is shown")


def params_of(setting: Setting, varying: list[str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in zip(varying, setting.key)) or "(all)"


def label_of(setting: Setting, varying: list[str]) -> str:
    """``<name>`` when every run is named ``<name>-s<seed>``; otherwise the params."""
    runs = setting.runs.values()
    names = {SEED_SUFFIX.sub("", r.name) for r in runs}
    if len(names) == 1 and all(SEED_SUFFIX.search(r.name) for r in runs):
        return names.pop()
    return params_of(setting, varying)


def comparison(s: Setting, base: Setting) -> tuple[str, str | None]:
    """(table cell, sentence) of setting ``s`` against ``base`` over their shared seeds."""
    shared = sorted(set(s.runs) & set(base.runs))
    diffs = [s.runs[x].f1 - base.runs[x].f1 for x in shared]
    interval = paired_interval(diffs)
    if interval is None:
        return (f"{diffs[0]:+.4f} (n=1)" if diffs else "–"), None
    mean, low, high = interval
    return (f"{mean:+.4f} [{low:+.4f}, {high:+.4f}] (n={len(diffs)})",
            f"Δ = {mean:+.4f}, 95% interval [{low:+.4f}, {high:+.4f}] over {len(diffs)} "
            f"paired seeds; the interval {verdict(low, high)}.")


def reference_comparison(f1s: list[float], reference: list[float]) -> tuple[str, str | None]:
    """(table cell, sentence) of a setting's per-seed F1 against a reference row's, unpaired."""
    interval = welch_interval(f1s, reference)
    if interval is None:
        return "–", None
    diff, low, high = interval
    return (f"{diff:+.4f} [{low:+.4f}, {high:+.4f}]",
            f"Δ = {diff:+.4f}, Welch 95% interval [{low:+.4f}, {high:+.4f}] over {len(f1s)} "
            f"and {len(reference)} seeds (unpaired); the interval {verdict(low, high)}.")


def mean_of(values: list[float]) -> str:
    return f"{statistics.mean(values):.4f}" if values else "–"


def reference_scores(reference: dict, split: str = "test") -> dict[str, list[float]]:
    """F1 per seed on ``split`` (``test`` or ``dev``, the kept epoch or chosen c1/c2) of each
    model that needs no pretraining (reference_rows.json); a model without them is left out."""
    crf, bilstm = reference.get("char_crf") or {}, reference.get("bilstm_crf") or {}
    if split == "test":
        scores = {"char CRF": [crf["test"]["f1"]] if crf else [],
                  "char BiLSTM-CRF": bilstm.get("test_f1", [])}
    else:
        scores = {"char CRF": [crf["dev"]["f1"]] if crf.get("dev") else [],
                  "char BiLSTM-CRF": [seed["dev_f1"] for seed in
                                      (bilstm.get("seeds") or {}).values() if "dev_f1" in seed]}
    return {name: [float(x) for x in f1s] for name, f1s in scores.items() if f1s}


def welch_references(reference: dict | None) -> dict[str, list[float]]:
    """The reference rows a setting is compared with: those with two seeds or more."""
    return {name: f1s for name, f1s in reference_scores(reference or {}).items()
            if len(f1s) >= 2}


def reference_rows(reference: dict, columns: int, with_dev: bool = False) -> list[list[str]]:
    """Table rows (cells) of the models that need no pretraining."""
    dev = reference_scores(reference, "dev")
    rows = [[f"{name} (reference, no pretraining)", str(len(f1s)), mean_std(f1s),
             *([mean_std(dev.get(name, []))] if with_dev else [])]
            for name, f1s in reference_scores(reference).items()]
    return [r + ["–"] * (columns - len(r)) for r in rows]


@dataclass
class ReportTables:
    """Every number and sentence of a report, as table cells in inline Markdown (bold,
    backquoted code); :func:`markdown` and ``dapt.report_page`` format the same object."""
    header: list[str]
    rows: list[list[str]]  # settings, then reference rows
    notes: list[str]  # paragraphs under the table
    sentences: list[str]  # one per comparison
    per_type_header: list[str]
    per_type_rows: list[list[str]]


def report_tables(settings: list[Setting], varying: list[str], baselines: list[Setting],
                  types: list[str], unusable: int,
                  reference: dict | None = None) -> ReportTables:
    stats = list(MASK_STATS)
    if any(UNIT_F1 in r.masking for s in settings for r in s.runs.values()):
        stats.append((UNIT_F1, "unit F1 (dev)"))
    against = welch_references(reference)
    with_dev = any(r.dev_f1 is not None for s in settings for r in s.runs.values())
    header = ["setting", "seeds", "test F1", *(["dev F1"] if with_dev else []),
              *[name for _, name in stats],
              *[f"Δ F1 vs {label_of(b, varying)} [95% CI]" for b in baselines],
              *[f"Δ F1 vs {name} [95% Welch CI]" for name in against]]
    rows, sentences = [], []
    for s in settings:
        label = label_of(s, varying)
        if s in baselines:
            label += " **(baseline)**"
        seeds = sorted(s.runs)
        flag = "" if len(seeds) >= MIN_SEEDS else " ⚠"
        dev = [s.runs[x].dev_f1 for x in seeds if s.runs[x].dev_f1 is not None]
        cells = [label, f"{len(seeds)}{flag}", mean_std([s.runs[x].f1 for x in seeds]),
                 *([mean_std(dev)] if with_dev else []),
                 *[mean_of([s.runs[x].masking[k] for x in seeds if k in s.runs[x].masking])
                   for k, _ in stats]]
        for base in baselines:
            cell, sentence = ("–", None) if s is base else comparison(s, base)
            cells.append(cell)
            if sentence:
                sentences.append(f"{label_of(s, varying)} vs {label_of(base, varying)}: "
                                 f"{sentence}")
        for name, f1s in against.items():
            cell, sentence = reference_comparison([s.runs[x].f1 for x in seeds], f1s)
            cells.append(cell)
            if sentence:
                sentences.append(f"{label_of(s, varying)} vs {name} (reference): {sentence}")
        rows.append(cells)
    rows += reference_rows(reference or {}, len(header), with_dev)
    per_type_rows = [[label_of(s, varying)] + [
        mean_of([s.runs[x].per_type.get(t, 0.0) for x in sorted(s.runs)]) for t in types]
        for s in settings]
    notes = [
        f"Mean ± sample standard deviation over seeds of strict span-level test F1 "
        f"(`{METRICS_FILE}`)"
        + (f"; dev F1 is that of the epoch fine-tuning kept (`{FINETUNE_FILE}`): pick a "
           "setting by it, not by test F1" if with_dev else "")
        + f"; mask statistics are means over seeds (`{MASK_FILE}`). Δ is "
        "the mean per-seed difference against a baseline over the seeds both ran, with a "
        "95% Student-t interval over those differences."
        + (" Against a reference row, Δ is the difference of means with Welch's unpaired 95% "
           "interval." if against else ""),
    ]
    named = [s for s in settings if label_of(s, varying) != params_of(s, varying)]
    if named:
        notes.append("Settings: " + "; ".join(
            f"**{label_of(s, varying)}**: {params_of(s, varying)}" for s in named) + ".")
    few = [s for s in settings if len(s.runs) < MIN_SEEDS]
    if few:
        notes.append(f"⚠ {len(few)} setting(s) have fewer than {MIN_SEEDS} seeds: their "
                     "spread is not a reliable estimate of noise; run more seeds before "
                     "reading differences.")
    if unusable:
        notes.append(f"{unusable} experiment(s) without test metrics (failed or unfinished) "
                     "were left out.")
    return ReportTables(header, rows, notes, sentences, ["setting", *types], per_type_rows)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
                      *("| " + " | ".join(row) + " |" for row in rows)])


def markdown(tables: ReportTables, notes_text: str | None = None) -> str:
    """The report as Markdown (``reports/<name>.md``)."""
    parts = ["# Ablation report", markdown_table(tables.header, tables.rows),
             "\n\n".join(tables.notes)]
    if tables.sentences:
        parts += ["## Comparisons", "\n".join(f"* {s}" for s in tables.sentences)]
    parts += ["## Per-type test F1 (mean over seeds; types by support)",
              markdown_table(tables.per_type_header, tables.per_type_rows)]
    if notes_text:
        parts += ["## What the numbers show, and what they do not", notes_text.strip()]
    return "\n\n".join(parts) + "\n"


def render(settings: list[Setting], varying: list[str], baselines: list[Setting],
           types: list[str], unusable: int, reference: dict | None = None,
           notes_text: str | None = None) -> str:
    return markdown(report_tables(settings, varying, baselines, types, unusable, reference),
                    notes_text)


def plot(settings: list[Setting], varying: list[str], path: Path,
         reference: dict | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [label_of(s, varying).replace(", ", "\n") for s in settings]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.6 * len(settings)), 4))
    for i, s in enumerate(settings):
        f1s = [r.f1 for r in s.runs.values()]
        ax.scatter([i] * len(f1s), f1s, color="grey", s=12, zorder=3)
        std = statistics.stdev(f1s) if len(f1s) > 1 else 0.0
        ax.errorbar(i, statistics.mean(f1s), yerr=std, fmt="o", capsize=6, zorder=4)
    for k, (name, f1s) in enumerate(reference_scores(reference or {}).items()):
        ax.axhline(statistics.mean(f1s), linestyle="--", color=f"C{k + 1}",
                   label=f"{name} (no pretraining)")
    if reference:
        ax.legend(fontsize=8, loc="lower right")
    ax.set_xticks(range(len(settings)), labels, fontsize=8)
    ax.set_ylabel("test strict F1")
    ax.set_title("mean ± std over seeds (dots: single seeds)")
    fig.tight_layout()
    with atomic_file(path) as tmp:
        fig.savefig(tmp, dpi=120, format=path.suffix.lstrip("."))
    plt.close(fig)


def summary(setting: Setting, varying: list[str], reference: dict | None = None) -> dict:
    """Params, seeds, per-seed test F1, mask statistics and the Welch differences against
    the reference rows of one setting (JSON output)."""
    seeds = sorted(setting.runs)
    f1 = [setting.runs[x].f1 for x in seeds]
    found = {"params": dict(zip(varying, setting.key)), "seeds": seeds, "f1": f1,
             "f1_mean": statistics.mean(f1),
             "dev_f1": [setting.runs[x].dev_f1 for x in seeds],
             "best_epoch": [setting.runs[x].best_epoch for x in seeds],
             "masking": {k: [setting.runs[x].masking.get(k) for x in seeds]
                         for k in [*(k for k, _ in MASK_STATS), UNIT_F1]}}
    against = {name: welch_interval(f1, ref) for name, ref in welch_references(reference).items()}
    if against:
        found["vs_reference"] = {name: dict(zip(("delta", "low", "high"), interval))
                                 for name, interval in against.items() if interval}
    return found


def load_exp_show(path: str | None) -> list[dict]:
    if path:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    out = subprocess.run(["dvc", "exp", "show", "--json"], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exp-json", action="append",
                        help="saved `dvc exp show --json` output (default: run it); repeat to "
                             "join experiments of several repositories or grids")
    parser.add_argument("--baseline", action="append",
                        help="e.g. mask_strategy=token; repeat for several (default: the first "
                             "setting)")
    parser.add_argument("--reference", type=Path,
                        help="reference_rows.json of dapt.experiments.reference_rows (rows "
                             "that need no pretraining)")
    parser.add_argument("--notes", type=Path,
                        help="hand-written Markdown appended as 'what the numbers show'")
    parser.add_argument("--defaults", type=Path, default=Path("params.yaml"),
                        help="params an experiment does not record (an older commit's) take "
                             "their value from this file (default: %(default)s)")
    parser.add_argument("--ignore-param", action="append", default=[], metavar="KEY",
                        help="a param that does not define a setting (repeatable)")
    parser.add_argument("--out", default="reports/ablation.md")
    parser.add_argument("--json", type=Path,
                        help="also write per setting the seeds, per-seed test F1 and the mean")
    args = parser.parse_args()
    setup_logging()

    shown = [c for path in args.exp_json or [None] for c in load_exp_show(path)]
    runs, unusable = collect_runs(shown)
    if not runs:
        raise SystemExit("no finished experiments with metrics/eval.json found")
    defaults = {}
    if args.defaults.is_file():
        defaults = flatten(yaml.safe_load(args.defaults.read_text(encoding="utf-8")) or {})
    normalise_params(runs, defaults, args.ignore_param)
    settings, varying = group_settings(runs)
    baselines = [parse_baseline(b, varying, settings) for b in (args.baseline or [None])]
    reference = json.loads(args.reference.read_text(encoding="utf-8")) if args.reference else None
    out = Path(args.out)
    notes = args.notes.read_text(encoding="utf-8") if args.notes else None
    types = types_by_support(runs)
    tables = report_tables(settings, varying, baselines, types, unusable, reference)
    write_text(out, markdown(tables, notes))
    plot(settings, varying, out.with_suffix(".png"), reference)
    from dapt.report_page import page  # it imports this module

    write_text(out.with_suffix(".html"),
               page(tables, settings, varying, types, out.stem, reference, notes))
    if args.json:
        write_json(args.json, {label_of(s, varying): summary(s, varying, reference)
                               for s in settings})
    log.info("%d runs in %d settings -> %s", len(runs), len(settings), out)


if __name__ == "__main__":
    main()
