"""GPU smoke run (not CI; meant to take <= 10 min on one GPU): the real-data profile with a
BERT-base shape from scratch, windows of 512 tokens, ``precision: auto``.

    bash bench/gpu_smoke.sh                         # DATA=../shared/data/tcm_ner by default
    bash bench/gpu_smoke.sh key=value ...           # further overrides (last one wins)

Params: ``params.yaml`` + ``params_real_cpu.yaml`` + ``SMOKE`` below + the command
line. The model is 12 layers x 768 hidden (12 heads, 3072 intermediate) with the 22,344-entry
BERT-Chinese-layout vocabulary (``tokenize.scratch_vocab: chinese``, about the 21,128 of the
hub checkpoints), trained from scratch; learning rates are BERT-base ones, and fine-tuning
is cut to 3 epochs: the run measures speed and memory, its F1 means nothing. bf16 is used
where the GPU has it.

Every stage runs in this one process (``run(params, paths)``, as ``dvc repro`` would call
them), in a temporary folder: the repository and its DVC state are untouched. Printed: each
stage's wall time; for pretrain and finetune-ner tokens/s and peak GPU memory
(``torch.cuda.max_memory_allocated``, reset per stage; the stages' ``--speed`` files); last,
one JSON line with all of it (also written to ``--out`` when given).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import tempfile
import time
from pathlib import Path

import yaml

from dapt.cli import setup_logging
from dapt.experiments.profile import REAL_DATA, REPO, apply_overrides, profile_overrides
from dapt.params import load_params
from dapt.training.devices import claim_gpu

SMOKE = {
    "base_model": "scratch", "precision": "auto",
    "tokenize.max_len": "512", "tokenize.scratch_vocab": "chinese",
    "scratch.hidden_size": "768", "scratch.num_hidden_layers": "12",
    "scratch.num_attention_heads": "12", "scratch.intermediate_size": "3072",
    "scratch.max_position_embeddings": "512",
    "pretrain.learning_rate": "1.0e-4",
    "finetune.epochs": "3", "finetune.patience": "null",
    "finetune.learning_rate": "5.0e-5", "finetune.head_learning_rate": "1.0e-3",
}


def stage_paths(work: Path) -> dict[str, dict[str, str]]:
    """Paths of every stage under ``work`` (the dvc.yaml layout), in pipeline order."""
    w = {name: str(work / name) for name in ("split", "tokenized", "tokenizer", "masked",
                                             "pretrained", "ner", "plots", "predictions")}
    return {
        "split": {"out": w["split"], "metrics": f"{work}/data.json"},
        "tokenization": {"split_dir": w["split"], "out": w["tokenized"],
                         "tokenizer_out": w["tokenizer"], "metrics": f"{work}/tokenize.json"},
        "mask_annotate": {"mlm": f"{w['tokenized']}/mlm.parquet", "tokenizer": w["tokenizer"],
                          "units": "", "dev": "", "out": w["masked"],
                          "metrics": f"{work}/masking.json"},
        "pretrain": {"masked_dir": w["masked"], "tokenizer": w["tokenizer"],
                     "out": w["pretrained"], "checkpoints": f"{work}/checkpoints",
                     "metrics": f"{work}/pretrain.json", "live_dir": f"{work}/live/pretrain",
                     "speed": f"{work}/pretrain_speed.json"},
        "finetune_ner": {"ner": f"{w['tokenized']}/ner.parquet",
                         "dev": f"{w['split']}/dev.jsonl", "pretrained": w["pretrained"],
                         "tokenizer": w["pretrained"], "out": w["ner"],
                         "metrics": f"{work}/finetune.json",
                         "live_dir": f"{work}/live/finetune",
                         "speed": f"{work}/finetune_speed.json"},
        "evaluate": {"model": w["ner"], "test": f"{w['split']}/test.jsonl",
                     "metrics": f"{work}/eval.json", "plots": w["plots"],
                     "predictions": w["predictions"]},
    }


def smoke(data: Path, work: Path, overrides: dict[str, str]) -> dict:
    """Run the six stages on ``data`` in ``work``; returns the summary."""
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    apply_overrides(params, {**profile_overrides(data), **SMOKE, **overrides})
    params_file = work / "params.yaml"
    params_file.write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False),
                           encoding="utf-8")
    seconds = {}
    for name, paths in stage_paths(work).items():
        stage = importlib.import_module(f"stages.{name}")
        start = time.perf_counter()
        stage.run(load_params(params_file), stage.Paths(**paths))
        seconds[name] = round(time.perf_counter() - start, 1)
        print(f"{name}: {seconds[name]} s", flush=True)
    import torch

    summary = {"device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
               "stage_seconds": seconds, "total_seconds": round(sum(seconds.values()), 1)}
    for name in ("pretrain", "finetune"):
        summary[name] = json.loads((work / f"{name}_speed.json").read_text(encoding="utf-8"))
        print(f"{name}: {summary[name]['tokens_per_second']} tokens/s, peak GPU memory "
              f"{summary[name]['peak_gpu_memory_gib']} GiB", flush=True)
    summary["overrides"] = {**SMOKE, **overrides}
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", help="key=value on top of the smoke profile")
    parser.add_argument("--data", type=Path, default=REAL_DATA,
                        help="folder with labeled/ and unlabeled/ brat folders")
    parser.add_argument("--out", type=Path, help="also write the summary JSON here")
    args = parser.parse_args()
    if not (args.data / "labeled").is_dir():
        parser.error(f"{args.data}/labeled not found (set DATA or --data)")
    setup_logging()
    logging.getLogger("dvclive").setLevel(logging.WARNING)
    claim_gpu()
    with tempfile.TemporaryDirectory(prefix="gpu-smoke-") as work:
        summary = smoke(args.data, Path(work), dict(o.split("=", 1) for o in args.overrides))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
