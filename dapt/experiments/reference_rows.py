"""Classical reference rows for the real-data report: models that need no pretraining.

* char CRF (python-crfsuite): c1/c2 picked on dev from a small grid; the chosen fit is
  scored on dev and test (nothing is retrained).
* char BiLSTM-CRF from random init: learning rate picked on dev with seed 1 (each run keeps
  its best dev epoch, early stopping), then seeds ``--seeds`` with the chosen config (the
  seed-1 tuning run of that config is reused, not retrained).

Test scores use the project's strict span scorer (``dapt.ner.scoring``). Only scores go to
``--out``; the split comes from the split stage (``python -m stages.split``) run on the
real data outside the repo:

  python -m dapt.experiments.reference_rows --split-dir /tmp/real_split
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from dapt.cli import setup_logging  # first: pins the numerical environment before torch loads

# isort: split
from dapt.char_taggers import bilstm_crf, feature_crf
from dapt.data.contracts import write_json
from dapt.data.documents import Document, read_jsonl
from dapt.ner.scoring import doc_spans, score_spans

log = logging.getLogger("reference_rows")


def scores(gold: list[Document], pred: list[Document]) -> dict:
    s = score_spans(doc_spans(gold), doc_spans(pred))
    return {"precision": s["precision"], "recall": s["recall"], "f1": s["f1"],
            "macro_f1": s["macro_f1"], "support": s["support"], "predicted": s["predicted"],
            "per_type_f1": {t: v["f1"] for t, v in s["per_type"].items()}}


def run_char_crf(args, train, dev, test, tried: list) -> dict:
    grid = [(c1, c2) for c1 in args.crf_c1 for c2 in args.crf_c2]
    best = None
    with tempfile.TemporaryDirectory() as tmp:
        for c1, c2 in tqdm(grid, desc="char CRF grid", file=sys.stderr):
            t0 = time.perf_counter()
            path = feature_crf.train(train, c1, c2, args.crf_iterations,
                                     Path(tmp) / f"crf_{c1}_{c2}.crfsuite")
            dev_scores = scores(dev, feature_crf.predict(path, dev))
            minutes = (time.perf_counter() - t0) / 60
            row = {"model": "char_crf", "c1": c1, "c2": c2,
                   "max_iterations": args.crf_iterations, "dev_f1": dev_scores["f1"],
                   "minutes": round(minutes, 2)}
            tried.append(row)
            log.info("char CRF c1=%g c2=%g: dev F1 %.4f (%.1f min)", c1, c2,
                     dev_scores["f1"], minutes)
            if best is None or dev_scores["f1"] > best[0]["f1"]:
                best = (dev_scores, path, row)
        dev_scores, path, row = best
        test_scores = scores(test, feature_crf.predict(path, test))
    log.info("char CRF chosen c1=%g c2=%g: dev F1 %.4f, test F1 %.4f", row["c1"], row["c2"],
             dev_scores["f1"], test_scores["f1"])
    return {"config": {"c1": row["c1"], "c2": row["c2"], "max_iterations": args.crf_iterations,
                       "features": "char, +-1/+-2 chars, 4 bigrams, char class of 0/+-1, "
                                   "whitespace gap before/after, BOS/EOS"},
            "dev": dev_scores, "test": test_scores, "minutes": row["minutes"]}


def run_bilstm(args, train, dev, test, tried: list, checkpoint=None) -> dict:
    base = dict(epochs=args.epochs, patience=args.patience, batch_size=args.batch_size,
                max_len=args.max_len, dropout=args.dropout, max_minutes=args.max_minutes)
    tuned = None  # (dev F1, lr, model, history)
    for lr in args.lrs:
        cfg = bilstm_crf.Config(lr=lr, seed=args.seeds[0], **base)
        model, hist = bilstm_crf.fit(train, dev, cfg)
        tried.append({"model": "bilstm_crf", "lr": lr, "seed": cfg.seed,
                      "best_epoch": hist["best_epoch"], "epochs_run": len(hist["epochs"]),
                      "dev_f1": hist["best_dev_f1"], "minutes": round(hist["minutes"], 2)})
        if tuned is None or hist["best_dev_f1"] > tuned[0]:
            tuned = (hist["best_dev_f1"], lr, model, hist)
    _, lr, model, hist = tuned
    log.info("BiLSTM-CRF chosen lr %g (dev F1 %.4f with seed %d)", lr, tuned[0], args.seeds[0])
    seeds: dict = {}
    config = {k: v for k, v in hist["config"].items() if k != "seed"}

    def summary() -> dict:
        f1s = [seeds[str(s)]["test"]["f1"] for s in args.seeds if str(s) in seeds]
        return {"config": config, "seeds": seeds, "test_f1": f1s,
                "test_f1_mean": statistics.mean(f1s),
                "test_f1_std": statistics.stdev(f1s) if len(f1s) > 1 else 0.0}

    for seed in args.seeds:
        if seed != args.seeds[0]:
            cfg = bilstm_crf.Config(lr=lr, seed=seed, **base)
            model, hist = bilstm_crf.fit(train, dev, cfg)
            tried.append({"model": "bilstm_crf", "lr": lr, "seed": seed,
                          "best_epoch": hist["best_epoch"], "epochs_run": len(hist["epochs"]),
                          "dev_f1": hist["best_dev_f1"], "minutes": round(hist["minutes"], 2)})
        test_scores = scores(test, bilstm_crf.predict(model, test))
        seeds[str(seed)] = {"best_epoch": hist["best_epoch"], "dev_f1": hist["best_dev_f1"],
                            "dev_f1_per_epoch": [e["dev_f1"] for e in hist["epochs"]],
                            "epoch_seconds": [round(e["seconds"], 1) for e in hist["epochs"]],
                            "stopped": hist["stopped"],
                            "test": test_scores, "minutes": round(hist["minutes"], 2)}
        log.info("BiLSTM-CRF seed %d: best epoch %d, dev F1 %.4f, test F1 %.4f (%.1f min)",
                 seed, hist["best_epoch"], hist["best_dev_f1"], test_scores["f1"],
                 hist["minutes"])
        if checkpoint is not None:
            checkpoint(summary())  # partial results survive an interrupted run
    return summary()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--split-dir", default="data/split",
                   help="folder with train/dev/test.jsonl (%(default)s)")
    p.add_argument("--out", default="reports/results/reference_rows.json")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3],
                   help="BiLSTM-CRF seeds; the first one tunes the learning rate")
    p.add_argument("--crf-c1", type=float, nargs="+", default=[0.05, 0.1])
    p.add_argument("--crf-c2", type=float, nargs="+", default=[0.01, 0.05])
    p.add_argument("--crf-iterations", type=int, default=100)
    p.add_argument("--lrs", type=float, nargs="+", default=[2e-3],
                   help="BiLSTM-CRF learning rates tried on dev with the first seed")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--patience", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-len", type=int, default=256)
    p.add_argument("--dropout", type=float, default=0.3)
    p.add_argument("--max-minutes", type=float, default=None,
                   help="per BiLSTM-CRF run: start no new epoch after this many minutes")
    p.add_argument("--skip", choices=["char_crf", "bilstm_crf"], nargs="*", default=[])
    args = p.parse_args(argv)
    setup_logging()
    logging.getLogger("bilstm_crf").setLevel(logging.INFO)

    split = Path(args.split_dir)
    train, dev, test = (read_jsonl(split / f"{s}.jsonl") for s in ("train", "dev", "test"))
    split_info = {name: {"documents": len(d), "entities": sum(len(x.entities) for x in d)}
                  for name, d in (("train", train), ("dev", dev), ("test", test))}
    # Rows not recomputed this time (--skip) are kept from an earlier run on the same split.
    out = Path(args.out)
    result: dict = json.loads(out.read_text()) if out.is_file() else {}
    if result.get("split") != split_info:
        result = {}
    result.update(split=split_info, tried=result.get("tried", []))
    if "char_crf" not in args.skip:
        result["char_crf"] = run_char_crf(args, train, dev, test, result["tried"])
        write_json(args.out, result)
    if "bilstm_crf" not in args.skip:
        def checkpoint(partial: dict) -> None:
            write_json(args.out, {**result, "bilstm_crf": partial})

        result["bilstm_crf"] = run_bilstm(args, train, dev, test, result["tried"], checkpoint)
    write_json(args.out, result)
    log.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
