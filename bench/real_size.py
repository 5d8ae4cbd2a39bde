"""Training at hfl/chinese-roberta-wwm-ext's size: the project's pretrain and finetune-ner
code against the stock Hugging Face recipes, with FLOPs, utilisation, memory and a GPU
projection.

Not run in CI (about 40 minutes on 2 CPU cores). Builds an offline stand-in of the hub
checkpoint (hfl's config: 12 layers, hidden 768, 12 heads, intermediate 3072, vocabulary
21,128, 512 positions; random weights in ``pytorch_model.bin`` beside ``vocab.txt``,
``dapt.experiments.hub_standin``), prepares the real corpus with the project's own split,
tokenize and mask-annotate stages at ``tokenize.max_len: 512`` with that checkpoint's
vocabulary, then times each arm for ``--steps`` optimiser steps after ``--warmup``, every
arm in a fresh child process (so its peak memory is its own), one after the other, at the
same batch size (sequences), optimiser (AdamW, the Trainer's default fused kernel unless
the arm says otherwise), precision and thread count:

  stock-mlm        HF Trainer + DataCollatorForLanguageModeling (15%, 80/10/10) on the text
                   line by line, truncated at 512, random batches padded to their longest
                   line, BertForMaskedLM (vocabulary logits at every position)
  project          build_mlm_trainer on the stored masks: windows of whole documents,
                   length-grouped batches, vocabulary logits at the predicted positions only
  project-packed   the same with pretrain.packing (windows of 512 tokens, block-diagonal
                   attention)
  project-eager    the eager attention kernel instead of sdpa (transformers' default)
  project-foreach  AdamW's foreach kernel instead of the fused one
  project-ckpt     pretrain.gradient_checkpointing
  project-compile  packed, with torch.compile (TrainingArguments.torch_compile; the compile
                   time shows in the warm-up seconds, a new batch width recompiles)
  stock-ner        AutoModelForTokenClassification on the NER windows, random batches
  project-ner      build_ner_trainer (softmax head): length-grouped batches

For each arm: trained (non-pad) tokens/s, seconds/step, padded share of the batch cells,
peak memory (RSS on CPU, ``max_memory_allocated`` on a GPU), FLOPs per trained token from
the config (model FLOPs: encoder at each sequence's own length, MLM head at the predicted
positions only; executed FLOPs: what the arm computes, padding and whole-vocabulary logits
included), model FLOPs utilisation against this machine's dense matmul peak (fp32 on CPU,
bf16 on a GPU) measured in the same run with the same threads, and ratios to the stock
recipe. The project arm
also profiles one extra step (the top operators by self time) and times one evaluation.
Then a labelled projection: GPU hours of one pretraining run on this corpus and per
billion tokens, and the batch x 512 that fits 24, 40 and 80 GB, with the arithmetic.

Usage: python -m bench.real_size [--data ../shared/data/tcm_ner] [--steps 6] [--warmup 2]
           [--batch-size 4] [--threads 2] [--repeats 2] [--arms project stock-mlm ...]
           [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import torch
import yaml

from bench.pretrain_throughput import MAX_LEN, Meter, prepare
from dapt.data.contracts import read_ner_windows

REPO = Path(__file__).resolve().parents[1]
ARMS = ("stock-mlm", "project", "project-packed", "project-eager", "project-foreach",
        "project-ckpt", "project-compile", "stock-ner", "project-ner")
MLM_PROB = 0.15  # the stock collator's rate
# Dense bf16 tensor-core peaks (vendor data sheets, no sparsity), TFLOP/s.
GPUS = {"A100 (SXM/PCIe)": 312, "H100 SXM": 989, "L4": 121}
ASSUMED_MFU = 0.40
ACT_BYTES_PER_TOKEN_LAYER = 34  # x hidden: Korthikanti et al. 2022, 16-bit, fused attention


# ---------------------------------------------------------------- FLOPs and memory model


def encoder_flops(config) -> tuple[float, float]:
    """Forward FLOPs of the encoder per token: (dense matmuls, attention per unit of
    sequence length), multiply-add = 2 FLOPs."""
    h, i, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    return layers * 2 * (4 * h * h + 2 * h * i), layers * 2 * 2 * h


def head_flops(config, ner: bool) -> float:
    """Forward FLOPs of the head at one predicted position: the MLM head's transform and
    vocabulary projection, or the NER classifier."""
    h = config.hidden_size
    return 2 * h * config.num_labels if ner else 2 * (h * h + h * config.vocab_size)


class Counter:
    """Wraps a collator; records per batch the trained (non-pad) tokens, the cells, the sum of
    squared sequence lengths (attention FLOPs), the rows x width^2 the kernel computes, and
    the predicted positions."""

    def __init__(self, collate, pad_id: int):
        self.collate = collate
        self.pad_id = pad_id
        self.batches: list[dict[str, int]] = []

    def __call__(self, features):
        segments = [n for f in features for n in (f.get("segments") or [len(f["input_ids"])])]
        batch = self.collate(features)
        rows, width = batch["input_ids"].shape
        self.batches.append({
            "tokens": int((batch["input_ids"] != self.pad_id).sum()),
            "cells": rows * width, "squares": sum(n * n for n in segments),
            "kernel_squares": rows * width * width,
            "predicted": int((batch["labels"] != -100).sum())})
        return batch


def flops_per_token(config, counts: dict[str, int], full_vocab: bool,
                    ner: bool = False) -> tuple[float, float]:
    """(model, executed) training FLOPs per trained token (3x forward)."""
    dense, attention = encoder_flops(config)
    head = head_flops(config, ner)
    tokens = counts["tokens"]
    model = dense * tokens + attention * counts["squares"] + head * counts["predicted"]
    executed = (dense * counts["cells"] + attention * counts["kernel_squares"]
                + head * (counts["cells"] if full_vocab else counts["predicted"]))
    return 3 * model / tokens, 3 * executed / tokens


def matmul_peak(threads: int, repeats: int = 5) -> dict[str, float]:
    """Best dense GFLOP/s of ``torch.mm`` at the model's shapes and a square one: fp32 on
    CPU (what training runs there), bf16 on a GPU (what ``precision: auto`` runs)."""
    torch.set_num_threads(threads)
    cuda = torch.cuda.is_available()
    device, dtype = ("cuda", torch.bfloat16) if cuda else ("cpu", torch.float32)
    shapes = {"2048x768x3072": (2048, 768, 3072), "2048x3072x768": (2048, 3072, 768),
              "2048^3": (2048, 2048, 2048)}
    best = {}
    for name, (m, k, n) in shapes.items():
        a = torch.randn(m, k, device=device, dtype=dtype)
        b = torch.randn(k, n, device=device, dtype=dtype)
        torch.mm(a, b)
        times = []
        for _ in range(repeats):
            if cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            torch.mm(a, b)
            if cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        best[name] = 2 * m * k * n / min(times) / 1e9
    return best


# ---------------------------------------------------------------- one arm (child process)


def peak_memory_gib() -> float:
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


class Profile(Meter):
    """``Meter`` that also profiles step ``profile_step`` (after the measured ones)."""

    def __init__(self, warmup: int, measured_end: int, profile_step: int | None):
        super().__init__(warmup)
        self.measured_end = measured_end
        self.profile_step = profile_step
        self.profiler = None
        self.table = ""
        self.began = self.warmup_seconds = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self.began = time.perf_counter()

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step + 1 == self.profile_step:
            self.profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
            self.profiler.__enter__()

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.warmup:
            self.start = time.perf_counter()
            self.warmup_seconds = self.start - self.began
        if state.global_step == self.measured_end:
            self.end = time.perf_counter()
        if self.profiler is not None and state.global_step == self.profile_step:
            self.profiler.__exit__(None, None, None)
            self.table = self.profiler.key_averages().table(sort_by="self_cpu_time_total",
                                                             row_limit=15, max_name_column_width=40)
            self.profiler = None


def mlm_trainer(arm: str, params: dict, work: Path, hub: Path, tokenizer, total: int, meter):
    """The arm's Trainer and whether its logits cover the whole vocabulary."""
    from transformers import BertForMaskedLM, DataCollatorForLanguageModeling, Trainer

    from dapt.data.contracts import read_masked
    from dapt.data.documents import read_jsonl
    from dapt.params import Params
    from dapt.training.arguments import training_arguments
    from dapt.training.mlm import build_mlm_trainer, train_examples
    from dapt.training.models import build_mlm_model, seed_for_init

    common = dict(max_steps=total, logging_steps=total, disable_tqdm=True, eval_strategy="no",
                  save_strategy="no", report_to="none")
    seed_for_init(params["seed"])
    if arm == "stock-mlm":
        docs = [d for name in ("train", "unlabeled")
                for d in read_jsonl(work / "split" / f"{name}.jsonl")]
        lines = [line for d in docs for line in d.text.split("\n") if line.strip()]
        examples = [{"input_ids": ids} for ids in
                    tokenizer(lines, truncation=True, max_length=MAX_LEN)["input_ids"]]
        model = BertForMaskedLM.from_pretrained(hub)
        args = training_arguments(work / "out", params["pretrain"], params["seed"],
                                  train_sampling_strategy="random", **common)
        collate = DataCollatorForLanguageModeling(tokenizer, mlm_probability=MLM_PROB)
        return Trainer(model=model, args=args, data_collator=collate, train_dataset=examples,
                       processing_class=tokenizer, callbacks=[meter]), True
    record = json.loads((work / "masked" / "masking.json").read_text(encoding="utf-8"))
    rows = train_examples(work / "masked", record, tokenizer).rows
    eval_rows = read_masked(work / "masked" / "eval.parquet", with_entity=True)
    params["pretrain"]["packing"] = arm in ("project-packed", "project-compile")
    params["pretrain"]["gradient_checkpointing"] = arm == "project-ckpt"
    model = build_mlm_model(str(hub), params["scratch"], tokenizer)
    if arm == "project-eager":
        model.set_attn_implementation("eager")
    extra = {"project-foreach": {"optim": "adamw_torch"},
             "project-compile": {"torch_compile": True}}.get(arm, {})
    trainer = build_mlm_trainer(Params(params, work / "params.yaml"), model, tokenizer, rows,
                                eval_rows, work / "out", callbacks=[meter], **common, **extra)
    return trainer, False


def ner_trainer(arm: str, params: dict, work: Path, hub: Path, tokenizer, total: int, meter):
    from transformers import DataCollatorForTokenClassification, Trainer

    from dapt.data.contracts import TRAIN, read_ner_windows
    from dapt.ner.bio import label_list, tag_types
    from dapt.params import Params
    from dapt.training.arguments import training_arguments
    from dapt.training.models import seed_for_init
    from dapt.training.ner_trainer import build_ner_trainer, build_token_classifier, encode_windows

    windows = read_ner_windows(work / "tokenized" / "ner.parquet", TRAIN)
    labels = label_list(tag_types([w["tags"] for w in windows]))
    rows = encode_windows(windows, {label: i for i, label in enumerate(labels)})
    seed_for_init(params["seed"])
    model = build_token_classifier(str(hub), labels, {}, tokenizer, "softmax")
    common = dict(max_steps=total, logging_steps=total, disable_tqdm=True, eval_strategy="no",
                  save_strategy="no")
    cfg = {**params["finetune"], "batch_size": params["pretrain"]["batch_size"]}
    if arm == "stock-ner":
        args = training_arguments(work / "out", cfg, params["seed"],
                                  train_sampling_strategy="random", **common)
        return Trainer(model=model, args=args, train_dataset=rows, processing_class=tokenizer,
                       data_collator=DataCollatorForTokenClassification(tokenizer),
                       callbacks=[meter]), False
    params["finetune"] = cfg
    return build_ner_trainer(Params(params, work / "params.yaml"), model, tokenizer, rows, [],
                             work / "out", callbacks=[meter], **common), False


def run_arm(arm: str, work: Path, steps: int, warmup: int, batch_size: int) -> dict:
    """Train one arm for ``warmup + steps`` steps (``project``: one more, profiled)."""
    from dapt.data.tokenizer_io import load_tokenizer

    params = yaml.safe_load((work / "params.yaml").read_text(encoding="utf-8"))
    params["pretrain"]["batch_size"] = batch_size
    hub = next((work / "hub").glob("*/*"))
    tokenizer = load_tokenizer(work / "tokenizer")
    profiled = arm == "project"
    total = warmup + steps + (1 if profiled else 0)
    meter = Profile(warmup, warmup + steps, total if profiled else None)
    build = ner_trainer if arm.endswith("-ner") else mlm_trainer
    trainer, full_vocab = build(arm, params, work, hub, tokenizer, total, meter)
    counter = Counter(trainer.data_collator, tokenizer.pad_token_id)
    trainer.data_collator = counter
    rss_before = peak_memory_gib()
    trainer.train()
    accum = trainer.args.gradient_accumulation_steps
    measured = counter.batches[warmup * accum : (warmup + steps) * accum]
    counts = {k: sum(b[k] for b in measured) for k in measured[0]}
    seconds = meter.end - meter.start
    model_flops, executed_flops = flops_per_token(trainer.model.config, counts, full_vocab,
                                                  ner=arm.endswith("-ner"))
    result = {"arm": arm, "tokens_per_s": counts["tokens"] / seconds,
              "s_per_step": seconds / steps, "warmup_seconds": meter.warmup_seconds,
              "pad_share": 1 - counts["tokens"] / counts["cells"],
              "tokens_per_step": counts["tokens"] / steps,
              "peak_memory_gib": peak_memory_gib(), "memory_before_train_gib": rss_before,
              "model_flops_per_token": model_flops, "executed_flops_per_token": executed_flops,
              "predicted_share": counts["predicted"] / counts["tokens"],
              "attention_length": counts["squares"] / counts["tokens"],
              "params": sum(p.numel() for p in trainer.model.parameters()),
              "max_batch_tokens": max(b["tokens"] for b in counter.batches),
              "profile": meter.table}
    if profiled:
        eval_start = time.perf_counter()
        trainer.evaluate()
        result["eval_seconds"] = time.perf_counter() - eval_start
        result["save_steps"] = params["pretrain"]["save_steps"]
    return result


# ---------------------------------------------------------------- the whole run (parent)


def spawn(arm: str, args: argparse.Namespace, work: Path) -> dict:
    cmd = [sys.executable, "-m", "bench.real_size", "--arm", arm, "--work", str(work),
           "--steps", str(args.steps), "--warmup", str(args.warmup),
           "--batch-size", str(args.batch_size), "--threads", str(args.threads)]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    print(f"  {arm} ...", flush=True)
    out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if out.returncode or line is None:
        print(out.stderr[-3000:], file=sys.stderr)
        return {"arm": arm, "error": f"exit {out.returncode}"}
    return json.loads(line[len("RESULT "):])


def merged(runs: list[dict]) -> dict:
    """One arm's runs as one result: the means of its speeds, the largest peak memory, and
    each run's tokens/s (``runs``)."""
    ok = [r for r in runs if "error" not in r]
    if len(ok) < len(runs):
        return next(r for r in runs if "error" in r)
    result = dict(ok[0])
    for key in ("tokens_per_s", "s_per_step", "warmup_seconds", "eval_seconds"):
        if key in result:
            result[key] = sum(r[key] for r in ok) / len(ok)
    result["peak_memory_gib"] = max(r["peak_memory_gib"] for r in ok)
    result["runs"] = [r["tokens_per_s"] for r in ok]
    return result


def corpus_tokens(work: Path) -> int:
    table = pq.read_table(work / "tokenized" / "mlm.parquet", columns=["input_ids"])
    return sum(len(x) for x in table.column("input_ids").to_pylist())


def report(results: list[dict], peak: dict[str, float], args: argparse.Namespace,
           work: Path) -> None:
    from transformers import BertConfig

    from dapt.numerics import cpu_flags, cpu_model

    gflops = max(peak.values())
    flags = sorted(f for f in cpu_flags() if f.startswith(("avx", "amx", "fma")))
    print(f"\nmachine: {cpu_model()} ({', '.join(flags)}), {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {args.threads} threads, "
          f"{'CUDA ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'CPU'}")
    kind = "bf16" if torch.cuda.is_available() else "fp32"
    print(f"dense {kind} matmul peak: " + ", ".join(f"{k} {v:.1f}" for k, v in peak.items())
          + f" GFLOP/s -> peak {gflops:.1f} GFLOP/s")
    print(f"batch {args.batch_size} sequences, {args.warmup} warm-up + {args.steps} measured "
          f"steps per arm, each run in its own process, {args.repeats} runs per arm in "
          "alternating order (figures: means; tok/s of each run in brackets)\n")
    head = (f"{'arm':16} {'tok/s':>7} {'s/step':>7} {'tok/step':>8} {'pad':>6} {'mem GiB':>8} "
            f"{'GF/tok':>7} {'exec':>7} {'MFU':>6} {'HFU':>6}")
    print(head)
    ok = [r for r in results if "error" not in r]
    for r in results:
        if "error" in r:
            print(f"{r['arm']:16} failed ({r['error']})")
            continue
        mfu = r["tokens_per_s"] * r["model_flops_per_token"] / (gflops * 1e9)
        hfu = r["tokens_per_s"] * r["executed_flops_per_token"] / (gflops * 1e9)
        r["mfu"] = mfu
        print(f"{r['arm']:16} {r['tokens_per_s']:7.1f} {r['s_per_step']:7.2f} "
              f"{r['tokens_per_step']:8.0f} {r['pad_share']:6.1%} {r['peak_memory_gib']:8.2f} "
              f"{r['model_flops_per_token'] / 1e9:7.3f} "
              f"{r['executed_flops_per_token'] / 1e9:7.3f} {mfu:6.1%} {hfu:6.1%}  ["
              + ", ".join(f"{x:.1f}" for x in r["runs"]) + "]")
    print("(GF/tok: model training FLOPs per trained token; exec: executed; MFU = tok/s x "
          "GF/tok / peak; HFU the same with executed FLOPs)")
    by = {r["arm"]: r for r in ok}
    for ref, arms in (("stock-mlm", [a for a in by if a.startswith("project") and
                                     not a.endswith("-ner")]), ("stock-ner", ["project-ner"])):
        if ref in by:
            for arm in arms:
                if arm in by:
                    ratio = by[arm]["tokens_per_s"] / by[ref]["tokens_per_s"]
                    print(f"ratio {arm} / {ref}: x{ratio:.2f} trained tokens/s")
    best = max((r for r in ok if r["arm"].startswith("project") and not
                r["arm"].endswith("-ner")), key=lambda r: r["tokens_per_s"], default=None)
    if best is not None and "stock-mlm" in by:
        ratio = best["tokens_per_s"] / by["stock-mlm"]["tokens_per_s"]
        print(f"target >= 1.5x the stock recipe's trained tokens/s: {best['arm']} x{ratio:.2f}"
              f" -> {'met' if ratio >= 1.5 else 'MISSED'}")
        print(f"target >= 60% MFU: {best['arm']} {best['mfu']:.1%} -> "
              f"{'met' if best['mfu'] >= 0.6 else 'MISSED'}")
    if "project" in by:
        base = by["project"]
        for arm in ("project-packed", "project-eager", "project-foreach", "project-ckpt",
                    "project-compile"):
            if arm in by:
                r = by[arm]
                print(f"lever {arm} vs project: x{r['tokens_per_s'] / base['tokens_per_s']:.2f} "
                      f"tokens/s, peak memory {r['peak_memory_gib']:.2f} vs "
                      f"{base['peak_memory_gib']:.2f} GiB, warm-up {r['warmup_seconds']:.0f} s "
                      f"vs {base['warmup_seconds']:.0f} s")
        steps_between = base["save_steps"] * base["s_per_step"]
        print(f"evaluation: one pass over the held-out masks takes {base['eval_seconds']:.1f} s, "
              f"every pretrain.save_steps={base['save_steps']} steps "
              f"({steps_between:.0f} s of training): "
              f"{base['eval_seconds'] / (steps_between + base['eval_seconds']):.1%} of the run")
        if "project-ner" in by:
            dev, train = (sum(len(w["input_ids"]) for w in read_ner_windows(
                work / "tokenized" / "ner.parquet", split)) for split in ("dev", "train"))
            print(f"evaluation in finetune-ner: the dev documents after every epoch, "
                  f"{dev:,} window tokens forward only against {train:,} trained (x3 FLOPs): "
                  f"~{dev / (dev + 3 * train):.1%} of the compute (FLOPs ratio, not timed; "
                  "CRF decoding on top)")
        print(f"\nprofile of one project step (top operators by self CPU time):\n{base['profile']}")
    config = BertConfig.from_pretrained(next((work / "hub").glob("*/*")))
    projection(config, by, work, gflops)


def projection(config, by: dict[str, dict], work: Path, gflops: float) -> None:
    """GPU hours and the batch that fits, labelled as a projection, with the arithmetic."""
    params = yaml.safe_load((work / "params.yaml").read_text(encoding="utf-8"))
    arm = max((r for r in by.values() if r["arm"].startswith("project") and not
               r["arm"].endswith("-ner")), key=lambda r: r["tokens_per_s"], default=None)
    if arm is None:
        return
    tokens = corpus_tokens(work)
    copies, epochs = params["mask_dupe"], params["pretrain"]["epochs"]
    per_token = arm["model_flops_per_token"]
    total = tokens * copies * epochs * per_token
    print("\nPROJECTION (arithmetic, not a measurement)")
    print(f"one pretraining run on this corpus: {tokens:,} tokens x {copies} copies x "
          f"{epochs} epochs x {per_token / 1e9:.3f} GFLOP/token ({arm['arm']}) = "
          f"{total:.3e} FLOP")
    for gpu, tflops in GPUS.items():
        hours = total / (tflops * 1e12 * ASSUMED_MFU) / 3600
        billion = 1e9 * per_token / (tflops * 1e12 * ASSUMED_MFU) / 3600
        print(f"  {gpu}: {tflops} TFLOP/s bf16 dense x {ASSUMED_MFU:.0%} MFU (assumed) -> "
              f"{hours * 60:.1f} GPU-minutes; {billion:.1f} GPU-hours per billion trained tokens")
    print(f"  this CPU at the measured {arm['tokens_per_s']:.0f} tok/s: "
          f"{tokens * copies * epochs / arm['tokens_per_s'] / 3600:.1f} hours")
    n_params = arm["params"]
    h, layers = config.hidden_size, config.num_hidden_layers
    static = n_params * (4 + 4 + 8 + 2)
    act = layers * h * ACT_BYTES_PER_TOKEN_LAYER
    head = arm["predicted_share"] * config.vocab_size * (2 + 4 + 4)
    ckpt = layers * h * 2 + h * ACT_BYTES_PER_TOKEN_LAYER
    scores = layers * 5 * config.num_attention_heads * MAX_LEN  # eager: probs, dropout mask
    print(f"memory per GPU, bf16 autocast: {n_params / 1e6:.1f}M params x (4 fp32 weights + 4 "
          f"grads + 8 AdamW states + 2 bf16 copies) = {static / 2**30:.2f} GiB; activations "
          f"{layers} layers x {h} x {ACT_BYTES_PER_TOKEN_LAYER} B = {act / 1024:.0f} KiB/token "
          f"(fused attention, Korthikanti et al. 2022) + MLM head at "
          f"{arm['predicted_share']:.1%} of tokens x {config.vocab_size} x 10 B = "
          f"{head / 1024:.0f} KiB/token; with gradient checkpointing {layers} x {h} x 2 B + one "
          f"layer's {h} x {ACT_BYTES_PER_TOKEN_LAYER} B = {ckpt / 1024:.0f} KiB/token; "
          f"eager attention adds {layers} x 5 x {config.num_attention_heads} heads x "
          f"{MAX_LEN} B = {scores / 1024:.0f} KiB/token; 90% of the card usable, 1 GiB for the "
          "CUDA context")
    for gb in (24, 40, 80):
        room = gb * 1e9 * 0.9 - 2**30 - static
        fits = math.floor(room / (MAX_LEN * (act + head)))
        fits_ckpt = math.floor(room / (MAX_LEN * (ckpt + head)))
        fits_eager = math.floor(room / (MAX_LEN * (act + scores + head)))
        print(f"  {gb} GB: ({gb} GB x 0.9 - 1 GiB - {static / 2**30:.2f} GiB) / (512 x "
              f"{(act + head) / 1024:.0f} KiB) = batch {fits} x 512; eager attention "
              f"{fits_eager}; with checkpointing {fits_ckpt} x 512")
    if "project" in by and "project-ckpt" in by:
        a, c = by["project"], by["project-ckpt"]
        print(f"  measured here (fp32, CPU): peak RSS {a['peak_memory_gib']:.2f} GiB without, "
              f"{c['peak_memory_gib']:.2f} GiB with gradient checkpointing "
              f"({a['memory_before_train_gib']:.2f} GiB before training)")
        grown = (a["peak_memory_gib"] - a["memory_before_train_gib"]) * 2**30 - 12 * n_params
        fp32 = 2 * (act + scores)  # CPU: fp32, attention through the math kernel (dropout)
        measured = grown / a["max_batch_tokens"]
        print(f"  check of the activation model: (peak - before - 12 B x params of grads and "
              f"AdamW states) / {a['max_batch_tokens']} tokens of the largest batch = "
              f"{measured / 1024:.0f} KiB/token measured; the model at fp32 with the attention "
              f"scores stored: {fp32 / 1024:.0f} KiB/token (x{measured / fp32:.2f})")
        for gb in (24, 40, 80):
            room = gb * 1e9 * 0.9 - 2**30 - static
            print(f"  {gb} GB if a GPU's activations exceed the model as this CPU's do "
                  f"(x{measured / fp32:.2f}): batch "
                  f"{math.floor(room / (MAX_LEN * (act * measured / fp32 + head)))} x 512")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "tcm_ner")
    parser.add_argument("--work", type=Path, default=None, help="keep prepared data here")
    parser.add_argument("--steps", type=int, default=6, help="measured steps per arm")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured first steps")
    parser.add_argument("--batch-size", type=int, default=4, help="sequences per step")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (all arms)")
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    parser.add_argument("--repeats", type=int, default=2,
                        help="runs per arm, in alternating order (the figures are means)")
    parser.add_argument("--report-only", action="store_true",
                        help="print the report of the runs saved in WORK/runs.json")
    parser.add_argument("--arm", choices=ARMS, help=argparse.SUPPRESS)  # child process
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.arm:
        result = run_arm(args.arm, args.work, args.steps, args.warmup, args.batch_size)
        print("RESULT " + json.dumps(result))
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="real_size_"))
    work.mkdir(parents=True, exist_ok=True)
    if not args.report_only and not (work / "masked" / "train.parquet").is_file():
        from dapt.experiments.hub_standin import hub_checkpoint

        hub = hub_checkpoint(work / "hub", shape=None)
        prepare(args.data, work, base_model=str(hub))
    saved = work / "runs.json"
    if args.report_only:
        runs, peak = json.loads(saved.read_text(encoding="utf-8"))
    else:
        peak = matmul_peak(args.threads)
        print("dense matmul GFLOP/s: " + ", ".join(f"{k} {v:.1f}" for k, v in peak.items()),
              flush=True)
        order = [*args.arms, *reversed(args.arms)] * (args.repeats // 2) + args.arms[
            : args.repeats % 2 * len(args.arms)]  # forward, backward, ...: drift hits all
        runs = {}
        for arm in order:
            runs.setdefault(arm, []).append(spawn(arm, args, work))
        after = matmul_peak(args.threads)
        peak = {k: max(v, after[k]) for k, v in peak.items()}
        saved.write_text(json.dumps([runs, peak]), encoding="utf-8")
    report([merged(runs[arm]) for arm in args.arms if arm in runs], peak, args, work)


if __name__ == "__main__":
    main()
