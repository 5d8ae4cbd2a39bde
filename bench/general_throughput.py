"""Throughput of candidate shapes for the general checkpoint (general/params.yaml).

Not run in CI. Trains each shape for a few steps on the stored masks of the general
pipeline (general/data/masked, made by its mask-annotate stage) with the pretrain stage's
own Trainer, and prints trained tokens per second (non-pad tokens, first --warmup steps
excluded) and the minutes one epoch over the masked copies would take.

Usage: python -m bench.general_throughput [--steps 20] [--warmup 3] [--shapes 256x4 128x4]
(a shape is HIDDENxLAYERS; heads = hidden / 64, intermediate = 4 * hidden)
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

from transformers import TrainerCallback

from dapt.data.contracts import read_masked
from dapt.data.tokenizer_io import load_tokenizer
from dapt.params import load_params
from dapt.training.mlm import build_mlm_trainer, training_rows
from dapt.training.models import build_mlm_model, seed_for_init

REPO = Path(__file__).resolve().parents[1]


class Clock(TrainerCallback):
    def __init__(self, warmup: int):
        self.warmup, self.t0, self.t1 = warmup, None, None

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.warmup:
            self.t0 = time.perf_counter()
        self.t1 = time.perf_counter()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default=str(REPO / "general/params.yaml"))
    ap.add_argument("--masked", default=str(REPO / "general/data/masked"))
    ap.add_argument("--tokenizer", default=str(REPO / "general/tokenizer"))
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--shapes", nargs="+", default=["256x4", "256x2", "128x4"])
    args = ap.parse_args()
    base = load_params(args.params)
    rows, _ = training_rows(Path(args.masked) / "train.parquet")
    eval_rows = read_masked(Path(args.masked) / "eval.parquet", with_entity=True)
    tokenizer = load_tokenizer(args.tokenizer)
    batch = base["pretrain"]["batch_size"]
    epoch_tokens = sum(len(r["input_ids"]) for r in rows)
    print(f"{len(rows)} masked copies, {epoch_tokens} tokens, vocab {len(tokenizer)}, "
          f"batch {batch}")
    for shape in args.shapes:
        hidden, layers = (int(x) for x in shape.split("x"))
        params = copy.deepcopy(base)
        params["scratch"].update(hidden_size=hidden, num_hidden_layers=layers,
                                 num_attention_heads=max(1, hidden // 64),
                                 intermediate_size=4 * hidden)
        seed_for_init(params["seed"])
        model = build_mlm_model("scratch", params["scratch"], tokenizer)
        n_params = sum(p.numel() for p in model.parameters())
        clock = Clock(args.warmup)
        with tempfile.TemporaryDirectory() as tmp:
            trainer = build_mlm_trainer(params, model, tokenizer, rows, eval_rows, tmp,
                                    callbacks=[clock], max_steps=args.steps,
                                    eval_strategy="no", save_strategy="no")
            order = list(trainer.get_train_dataloader().sampler)
            trainer.train()
        measured = order[args.warmup * batch: args.steps * batch]
        tokens = sum(len(rows[i]["input_ids"]) for i in measured)
        rate = tokens / (clock.t1 - clock.t0)
        print(f"{shape}: {n_params / 1e6:.1f} M params, {rate:.0f} tok/s, "
              f"one epoch {epoch_tokens / rate / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
