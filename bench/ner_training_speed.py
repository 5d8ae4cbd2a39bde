"""CPU fine-tuning speed of the NER heads (and of ``torch.compile``), side by side in one run.

    python -m bench.ner_training_speed --model general/model \
        --ner /tmp/dapt-real-tuning/data/tokenized/ner.parquet --steps 25
    python -m bench.ner_training_speed --ner ... --variants bilstm_crf \
        --batch-sizes 16 32 --processes 2       # batch size; two 1-thread processes at once

Each variant builds the token classifier the finetune-ner stage builds (same builder, same
collator, AdamW), then times ``--steps`` optimiser steps on the train windows in
length-grouped batches (the first 3 steps excluded as warm-up). Variants: ``softmax``,
``crf``, ``bilstm_crf`` (``--lstm`` units per direction; several sizes: one variant each),
``bilstm_crf+packed`` (the BiLSTM through ``pack_padded_sequence``, as before
``dapt.ner.bilstm``) and ``bilstm_crf+compile`` (the encoder wrapped in ``torch.compile``).
``--batch-sizes`` times each variant at each batch size (``variant@size``). ``--processes
N`` adds, for each of them, N processes of one thread each training at once (``variant@size
xN``: their summed tokens/s, the throughput of N one-thread experiments run side by side,
as ``dapt-grid --jobs N --threads 1`` would).
Every variant is timed twice, interleaved, so drift in machine load hits all; prints
tokens/s and the ratio to the first variant.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from transformers import DataCollatorForTokenClassification

from dapt.data.contracts import TRAIN, read_ner_windows
from dapt.data.tokenizer_io import load_tokenizer
from dapt.ner import bilstm, heads
from dapt.ner.bio import label_list, tag_types
from dapt.training.models import seed_for_init
from dapt.training.ner_trainer import build_token_classifier, encode_windows

REPO = Path(__file__).resolve().parents[1]

VARIANTS = ("softmax", "crf", "bilstm_crf", "bilstm_crf+packed", "bilstm_crf+compile")


def batches(rows: list[dict], size: int, collator) -> list[dict]:
    """Batches of windows of similar length (as the length-grouped sampler makes them)."""
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
    return [collator([rows[i] for i in order[k : k + size]])
            for k in range(0, len(order), size)]


def timed_run(variant: str, model_dir: str, labels: list[str], tokenizer, data: list[dict],
              steps: int, lstm: int) -> float:
    """Training tokens per second of one variant over ``steps`` optimiser steps."""
    head, _, option = variant.partition("+")
    seed_for_init(0)
    model = build_token_classifier(model_dir, labels, {}, tokenizer, head, lstm)
    if option == "compile":
        model.bert = torch.compile(model.bert)
    heads.padded_bilstm = bilstm.packed_bilstm if option == "packed" else bilstm.padded_bilstm
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    tokens, start = 0, 0.0
    for step in range(steps + 3):
        batch = data[(step * 7) % len(data)]  # a spread of lengths, same for every variant
        if step == 3:
            start = time.perf_counter()
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if step >= 3:
            tokens += int(batch["attention_mask"].sum())
    return tokens / (time.perf_counter() - start)


def parallel_run(args: argparse.Namespace, variant: str, size: int, lstm: int) -> float:
    """Summed tokens/s of ``args.processes`` one-thread processes timing ``variant`` at once."""
    cmd = [sys.executable, __file__, "--model", args.model, "--ner", args.ner, "--steps",
           str(args.steps), "--worker", f"{variant}@{size}@{lstm}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(args.processes)]
    outputs = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit(f"a worker of {variant}@{size} failed")
    return sum(float(out.split()[-1]) for out in outputs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="general/model", help="encoder checkpoint folder")
    parser.add_argument("--ner", default="data/tokenized/ner.parquet", help="NER windows")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16])
    parser.add_argument("--lstm", type=int, nargs="+", default=[192],
                        help="BiLSTM units per direction (several: each is a variant)")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--processes", type=int, default=0,
                        help="also time this many one-thread processes at once (0: not)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # variant@size: print tok/s only
    args = parser.parse_args()
    windows = read_ner_windows(args.ner, TRAIN)
    labels = label_list(tag_types([w["tags"] for w in windows]))
    tokenizer = load_tokenizer(args.model)
    rows = encode_windows(windows, {label: i for i, label in enumerate(labels)})
    collator = DataCollatorForTokenClassification(tokenizer)
    if args.worker:
        variant, size, lstm = args.worker.split("@")
        print(timed_run(variant, args.model, labels, tokenizer,
                        batches(rows, int(size), collator), args.steps, int(lstm)))
        return
    data = {size: batches(rows, size, collator) for size in args.batch_sizes}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{len(rows)} windows, batch sizes {args.batch_sizes}", flush=True)
    runs = [(v, size, lstm, False) for v in args.variants for size in args.batch_sizes
            for lstm in (args.lstm if v.startswith("bilstm") else args.lstm[:1])]
    if args.processes:
        runs += [(v, size, lstm, True) for v, size, lstm, _ in runs]
    speeds: dict[str, list[float]] = {}
    for variant, size, lstm, parallel in [*runs, *runs]:
        name = (f"{variant}@{size}" + (f" lstm{lstm}" if len(args.lstm) > 1 else "")
                + (f" x{args.processes}" if parallel else ""))
        speed = (parallel_run(args, variant, size, lstm) if parallel else
                 timed_run(variant, args.model, labels, tokenizer, data[size], args.steps,
                           lstm))
        speeds.setdefault(name, []).append(speed)
        print(f"{name}: {speed:.0f} tok/s", flush=True)
    mean = {v: sum(x) / len(x) for v, x in speeds.items()}
    ref = next(iter(mean.values()))
    print(", ".join(f"{v} {mean[v]:.0f} tok/s (x{mean[v] / ref:.2f})" for v in mean))


if __name__ == "__main__":
    main()
