"""Unit quality on the real data: how well each unit source finds the dev entities.

Runs split, tokenize, unit-tagger and mask-annotate (one masked copy) on the real data in a
temporary folder, with params.yaml's values (the data paths swapped in, ``key=value``
overrides applied), and prints mask-annotate's ``unit_quality``: strict P/R/F1, overall
and per type, of the spans the lexicon and the tagger find in the dev documents' text
(as if it were unlabeled) against the dev gold. The scores go to ``--out``.

    python -m dapt.experiments.unit_quality [--data ../shared/data/tcm_ner] [unit_tagger.c1=0.1 ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from dapt.experiments.profile import REAL_DATA, REPO, with_overrides

SOURCES = ("lexicon", "tagger")


def unit_quality(data: Path, overrides: dict) -> tuple[dict, dict]:
    """(mask-annotate's unit_quality, unit-tagger's metrics) on ``data``."""
    params = yaml.safe_load((REPO / "params.yaml").read_text("utf-8"))
    params = with_overrides(params, {
        "data.labeled_dir": str(data / "labeled"), "data.unlabeled_dir": str(data / "unlabeled"),
        "data.corpus_file": None, "base_model": "scratch", "mask_dupe": 1, **overrides})
    with tempfile.TemporaryDirectory() as tmp:
        w = Path(tmp)
        (w / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), "utf-8")
        steps = [
            ["split", "--out", w / "split", "--metrics", w / "data.json"],
            ["tokenization", "--split-dir", w / "split", "--out", w / "tokenized",
             "--tokenizer-out", w / "tokenizer", "--metrics", w / "tokenize.json"],
            ["unit_tagger", "--split-dir", w / "split", "--model", w / "tagger",
             "--out", w / "units", "--metrics", w / "unit_tagger.json"],
            ["mask_annotate", "--mlm", w / "tokenized" / "mlm.parquet", "--tokenizer",
             w / "tokenizer", "--units", w / "units", "--dev", w / "split" / "dev.jsonl",
             "--out", w / "masked", "--metrics", w / "masking.json"],
        ]
        for stage, *args in steps:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", f"stages.{stage}", "--params",
                            w / "params.yaml", *args], cwd=REPO, check=True)
            print(f"{stage}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
        masking = json.loads((w / "masking.json").read_text("utf-8"))
        tagger = json.loads((w / "unit_tagger.json").read_text("utf-8"))
    return masking["unit_quality"], tagger


def table(quality: dict) -> str:
    """Markdown: overall (micro), then per type by gold support, P/R/F1 of each source."""
    lines = ["| type | support | " + " | ".join(f"{s} P | {s} R | {s} F1" for s in SOURCES)
             + " |", "|" + " --- |" * (2 + 3 * len(SOURCES))]
    per_type = quality[SOURCES[0]]["per_type"]
    rows = [("all (micro)", [quality[s] for s in SOURCES])] + [
        (t, [quality[s]["per_type"].get(t, {"precision": 0.0, "recall": 0.0, "f1": 0.0})
             for s in SOURCES])
        for t in sorted(per_type, key=lambda t: (-per_type[t]["support"], t))]
    for name, scores in rows:
        support = (per_type.get(name) or quality[SOURCES[0]])["support"]
        lines.append(f"| {name} | {support} | " + " | ".join(
            f"{sc['precision']:.3f} | {sc['recall']:.3f} | {sc['f1']:.3f}" for sc in scores)
            + " |")
    found = ", ".join(f"{s} {quality[s]['predicted']}" for s in SOURCES)
    return "\n".join(lines) + f"\n\nspans found: {found}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REAL_DATA)
    parser.add_argument("--out", type=Path,
                        default=REPO / "reports" / "results" / "unit_quality.json")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="params overrides (YAML values), e.g. unit_tagger.c1=0.1")
    args = parser.parse_args(argv)
    if not (args.data / "labeled").is_dir():
        sys.exit(f"no labeled data under {args.data}")
    overrides = {k: yaml.safe_load(v) for k, v in (o.split("=", 1) for o in args.overrides)}
    quality, tagger = unit_quality(args.data.resolve(), overrides)
    print(table(quality))
    keep = ("precision", "recall", "f1", "macro_f1", "support", "predicted", "errors")
    result = {"overrides": overrides, "train": tagger["train"],
              **{s: {**{k: quality[s][k] for k in keep},
                     "per_type": quality[s]["per_type"]} for s in SOURCES}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                        "utf-8")


if __name__ == "__main__":
    main()
