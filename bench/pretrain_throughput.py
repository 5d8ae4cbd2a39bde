"""Pretraining throughput: the pretrain stage's setup vs the classic line-by-line MLM recipe.

Not run in CI. Prepares the real corpus (``../shared/data/tcm_ner``) with the project's own
split, tokenize and mask-annotate stages (a temporary params file: the real data folders,
``tokenize.max_len: 512``, ``base_model: scratch``), then trains the same small scratch BERT
(the ``scratch`` params, 512 positions) for a fixed number of steps with each setup, in one
process, one after the other:

* pretrain: ``dapt.training.mlm.build_mlm_trainer`` on the stored masks: windows of <= 510 tokens
  (+ [CLS]/[SEP]) that cover whole documents, a pad-only collator, length-grouped batches;
* line-by-line: the HF ``run_mlm.py --line_by_line`` recipe: one example per document line
  truncated at 510 tokens (+ 2 specials), ``DataCollatorForLanguageModeling`` (random 15%
  masking) padding each batch to its longest line, random batches.

Both use the same batch size (sequences), optimiser settings and thread count. It prints
the share of corpus tokens each setup trains on at all (line-by-line loses what truncation
cuts) and the trained non-pad tokens per second over the measured steps (the first
``--warmup`` steps are excluded), and ends with

    pretrain <A> tok/s, line-by-line <B> tok/s, ratio <A/B>

Usage: python -m bench.pretrain_throughput [--data ../shared/data/tcm_ner] [--steps 50]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import yaml
from transformers import DataCollatorForLanguageModeling, Trainer, TrainerCallback

from dapt.data.contracts import read_masked
from dapt.data.documents import read_jsonl
from dapt.data.encoding import CharEncoder
from dapt.data.tokenizer_io import load_tokenizer
from dapt.training.arguments import training_arguments
from dapt.training.mlm import build_mlm_trainer, training_rows
from dapt.training.models import build_mlm_model, seed_for_init

REPO = Path(__file__).resolve().parents[1]

MAX_LEN = 512


def run_stage(module: str, *args: str) -> None:
    print(f"$ python -m {module} {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)


def prepare(data: Path, work: Path, base_model: str = "scratch") -> Path:
    """Split, tokenize (max_len 512) and mask-annotate the real corpus into ``work`` (the
    tokenizer: ``base_model``'s, or a scratch vocabulary); returns the params file used."""
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["data"].update(labeled_dir=str(data / "labeled"), unlabeled_dir=str(data / "unlabeled"),
                          corpus_file=None)
    params["tokenize"]["max_len"] = MAX_LEN
    params["base_model"] = base_model
    params["scratch"]["max_position_embeddings"] = MAX_LEN
    path = work / "params.yaml"
    path.write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), encoding="utf-8")
    p = ["--params", str(path)]
    run_stage("stages.split", *p, "--out", str(work / "split"), "--metrics", str(work / "d.json"))
    run_stage("stages.tokenization", *p, "--split-dir", str(work / "split"),
              "--out", str(work / "tokenized"), "--tokenizer-out", str(work / "tokenizer"),
              "--metrics", str(work / "t.json"))
    run_stage("stages.mask_annotate", *p, "--mlm", str(work / "tokenized" / "mlm.parquet"),
              "--tokenizer", str(work / "tokenizer"), "--units", "", "--dev", "",
              "--out", str(work / "masked"),
              "--metrics", str(work / "m.json"))
    return path


class CountingCollator:
    """Wraps a collator and records the non-pad tokens of every batch it builds."""

    def __init__(self, collate, pad_id: int):
        self.collate = collate
        self.pad_id = pad_id
        self.tokens: list[int] = []
        self.cells: list[int] = []

    def __call__(self, features):
        batch = self.collate(features)
        self.tokens.append(int((batch["input_ids"] != self.pad_id).sum()))
        self.cells.append(batch["input_ids"].numel())
        return batch


class Meter(TrainerCallback):
    """Wall time between the end of step ``warmup`` and the end of the last step."""

    def __init__(self, warmup: int):
        self.warmup = warmup
        self.start = self.end = 0.0

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.warmup:
            self.start = time.perf_counter()
        if state.global_step == state.max_steps:
            self.end = time.perf_counter()


def measure(trainer: Trainer, counter: CountingCollator, meter: Meter, steps: int,
            accum: int) -> tuple[float, float]:
    """(non-pad tokens per second, padding share of the batches) over the measured steps."""
    trainer.train()
    measured = slice(meter.warmup * accum, (meter.warmup + steps) * accum)
    tokens, cells = sum(counter.tokens[measured]), sum(counter.cells[measured])
    return tokens / (meter.end - meter.start), 1 - tokens / cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "tcm_ner")
    parser.add_argument("--work", type=Path, default=None, help="keep prepared data here")
    parser.add_argument("--steps", type=int, default=50, help="measured steps per setup")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured first steps")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="sequences per step (default: pretrain.batch_size)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="pretrain_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    params_path = work / "params.yaml"
    if not (work / "masked" / "train.parquet").is_file():
        params_path = prepare(args.data, work)
    params = yaml.safe_load(Path(params_path).read_text(encoding="utf-8"))
    if args.batch_size:
        params["pretrain"]["batch_size"] = args.batch_size
    cfg = params["pretrain"]
    accum = cfg.get("grad_accum", 1)
    tokenizer = load_tokenizer(work / "tokenizer")
    total = args.warmup + args.steps

    docs = [d for name in ("train", "unlabeled")
            for d in read_jsonl(work / "split" / f"{name}.jsonl")]
    encoder = CharEncoder.from_tokenizer(tokenizer)
    corpus = sum(len(encoder.encode(d.text).ids) for d in docs)
    print(f"corpus: {len(docs)} documents (train + unlabeled), {corpus} tokens; "
          f"batch {cfg['batch_size']} x accumulation {accum}, {args.steps} measured steps")

    # A: the pretrain stage's setup on the stored masks.
    rows, skipped = training_rows(work / "masked" / "train.parquet")
    eval_rows = read_masked(work / "masked" / "eval.parquet", with_entity=True)
    table = pq.read_table(work / "masked" / "train.parquet", columns=["seq_id", "input_ids"])
    seq_len = dict(zip(table.column("seq_id").to_pylist(),
                       (len(x) - 2 for x in table.column("input_ids").to_pylist())))
    share_a = sum(seq_len.values()) / corpus
    seed_for_init(params["seed"])
    model = build_mlm_model("scratch", params["scratch"], tokenizer)
    meter_a = Meter(args.warmup)
    trainer = build_mlm_trainer(params, model, tokenizer, rows, eval_rows, work / "out_a",
                            callbacks=[meter_a], max_steps=total, eval_strategy="no",
                            save_strategy="no", logging_steps=total, disable_tqdm=True)
    counter_a = CountingCollator(trainer.data_collator, tokenizer.pad_token_id)
    trainer.data_collator = counter_a
    rate_a, pad_a = measure(trainer, counter_a, meter_a, args.steps, accum)
    print(f"pretrain setup: {len(seq_len)} windows of <= {MAX_LEN - 2} tokens x "
          f"{params['mask_dupe']} masked copies ({skipped} copies without a mask skipped); "
          f"trains on {share_a:.1%} of corpus tokens (the rest: held-out eval sequences); "
          f"padding {pad_a:.1%} of batch cells")

    # B: classic line-by-line recipe.
    lines = [line for d in docs for line in d.text.split("\n") if line.strip()]
    full = tokenizer(lines, add_special_tokens=False)["input_ids"]
    examples = [{"input_ids": ids} for ids in
                tokenizer(lines, truncation=True, max_length=MAX_LEN)["input_ids"]]
    share_b = sum(len(e["input_ids"]) - 2 for e in examples) / sum(len(ids) for ids in full)
    seed_for_init(params["seed"])
    model = build_mlm_model("scratch", params["scratch"], tokenizer)
    meter_b = Meter(args.warmup)
    counter_b = CountingCollator(DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15),
                                 tokenizer.pad_token_id)
    targs = training_arguments(work / "out_b", cfg, params["seed"], max_steps=total,
                               train_sampling_strategy="random", logging_steps=total,
                               disable_tqdm=True)
    trainer = Trainer(model=model, args=targs, data_collator=counter_b, train_dataset=examples,
                      processing_class=tokenizer, callbacks=[meter_b])
    rate_b, pad_b = measure(trainer, counter_b, meter_b, args.steps, accum)
    print(f"line-by-line: {len(lines)} lines truncated at {MAX_LEN - 2} tokens; "
          f"trains on {share_b:.1%} of corpus tokens; padding {pad_b:.1%} of batch cells")
    print(f"pretrain {rate_a:.0f} tok/s, line-by-line {rate_b:.0f} tok/s, "
          f"ratio {rate_a / rate_b:.2f}")


if __name__ == "__main__":
    main()
