"""Cost per pretraining step of the pair objectives and of dynamic masking, side by side.

Not run in CI. Prepares a corpus (default the real data, ``../shared/data/tcm_ner``) with
the project's split and tokenize stages under the real CPU profile's shape
(``tokenize.max_len: 128``, ``pretrain.batch_size: 32``, the general checkpoint
``general/model`` as base when it exists, else the ``scratch`` params), then mask-annotates
it once per option with ``mask_strategy: token`` at 0.15 and times the pretrain stage's
trainer (``dapt.training.mlm.build_mlm_trainer``) for a fixed number of steps, in one
process, the options taking turns for ``--rounds`` rounds:

* ``mlm``: static masks, MLM only (the reference);
* ``sop`` / ``nsp``: static masks + the sentence-pair head (``pretrain.pair_task``);
* ``dynamic``: ``mask_mode: dynamic`` (masks drawn when an epoch starts).

Dynamic masking draws each epoch's masks at once, outside the steps; that draw is timed on
its own and shown as a share of the epoch's step time. The options' batches differ a little
(a pair row has one more [SEP], a random next segment its own length), so beside seconds
per step it counts the non-pad tokens of the measured batches. Prints per option the
medians over the rounds and their ratios to ``mlm``:

    sop 0.412 s/step  x1.002 vs mlm; 9876 tok/s  x1.010 time per token vs mlm

Usage: python -m bench.pretrain_objectives [--data DIR] [--steps 40] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from bench.pretrain_throughput import CountingCollator, Meter, run_stage
from dapt.data.contracts import read_masked
from dapt.data.tokenizer_io import load_tokenizer
from dapt.masking.strategies import Vocab
from dapt.training.dynamic import DynamicMasks
from dapt.training.mlm import build_mlm_trainer, train_examples
from dapt.training.models import build_mlm_model, seed_for_init

REPO = Path(__file__).resolve().parents[1]
OPTIONS = {
    "mlm": {},
    "sop": {"pretrain": {"pair_task": "sop"}},
    "nsp": {"pretrain": {"pair_task": "nsp"}},
    "dynamic": {"mask_mode": "dynamic", "mask_dupe": 1},
}


def merged(params: dict, over: dict) -> dict:
    out = {**params}
    for key, value in over.items():
        out[key] = {**params[key], **value} if isinstance(value, dict) else value
    return out


def prepare(data: Path, work: Path) -> dict:
    """Params of the measurement, and split + tokenize + one mask-annotate per option."""
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["data"].update(labeled_dir=str(data / "labeled"),
                          unlabeled_dir=str(data / "unlabeled"), corpus_file=None)
    general = REPO / "general" / "model"
    params["base_model"] = str(general) if (general / "config.json").is_file() else "scratch"
    params.update(mask_strategy="token", mask_prob=0.15, mask_dupe=2)
    params["tokenize"]["max_len"] = 128
    params["pretrain"].update(batch_size=32, save_steps=100000)
    path = work / "params.yaml"
    path.write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), "utf-8")
    p = ["--params", str(path)]
    run_stage("stages.split", *p, "--out", str(work / "split"), "--metrics", str(work / "d.json"))
    run_stage("stages.tokenization", *p, "--split-dir", str(work / "split"),
              "--out", str(work / "tokenized"), "--tokenizer-out", str(work / "tokenizer"),
              "--metrics", str(work / "t.json"))
    for name, over in OPTIONS.items():
        option = work / f"params_{name}.yaml"
        option.write_text(yaml.safe_dump(merged(params, over), allow_unicode=True,
                                         sort_keys=False), "utf-8")
        run_stage("stages.mask_annotate", "--params", str(option),
                  "--mlm", str(work / "tokenized" / "mlm.parquet"),
                  "--tokenizer", str(work / "tokenizer"), "--units", "", "--dev", "",
                  "--out", str(work / f"masked_{name}"), "--metrics", str(work / f"m_{name}.json"))
    return params


def step_cost(params: dict, name: str, work: Path, steps: int, warmup: int
              ) -> tuple[float, float]:
    """(seconds per step, non-pad tokens per second) over the measured steps."""
    masked = work / f"masked_{name}"
    record = json.loads((masked / "masking.json").read_text(encoding="utf-8"))
    tokenizer = load_tokenizer(work / "tokenizer")
    rows = train_examples(masked, record, tokenizer).rows
    eval_rows = read_masked(masked / "eval.parquet", with_entity=True)
    p = merged(params, OPTIONS[name])
    seed_for_init(p["seed"])
    model = build_mlm_model(p["base_model"], p["scratch"], tokenizer, p["pretrain"]["pair_task"])
    meter = Meter(warmup)
    trainer = build_mlm_trainer(p, model, tokenizer, rows, eval_rows, work / f"out_{name}",
                                callbacks=[meter], max_steps=warmup + steps, eval_strategy="no",
                                save_strategy="no", logging_steps=warmup + steps,
                                disable_tqdm=True)
    counter = CountingCollator(trainer.data_collator, tokenizer.pad_token_id)
    trainer.data_collator = counter
    trainer.train()
    seconds = meter.end - meter.start
    return seconds / steps, sum(counter.tokens[warmup : warmup + steps]) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "tcm_ner")
    parser.add_argument("--work", type=Path, default=None, help="keep prepared data here")
    parser.add_argument("--steps", type=int, default=40, help="measured steps per run")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured first steps")
    parser.add_argument("--rounds", type=int, default=2, help="turns of every option")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="objectives_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    params = prepare(args.data, work)
    print(f"base {params['base_model']}, token masking at 0.15, max_len 128, batch 32, "
          f"{args.steps} measured steps x {args.rounds} rounds", flush=True)
    times: dict[str, list[float]] = {name: [] for name in OPTIONS}
    rates: dict[str, list[float]] = {name: [] for name in OPTIONS}
    for r in range(args.rounds):
        for name in OPTIONS:
            per_step, per_second = step_cost(params, name, work, args.steps, args.warmup)
            times[name].append(per_step)
            rates[name].append(per_second)
            print(f"round {r + 1} {name}: {per_step:.4f} s/step, {per_second:.0f} tok/s",
                  flush=True)
    med = {name: statistics.median(t) for name, t in times.items()}
    tok = {name: statistics.median(t) for name, t in rates.items()}
    tokenizer = load_tokenizer(work / "tokenizer")
    record = json.loads((work / "masked_dynamic" / "masking.json").read_text(encoding="utf-8"))
    masks = DynamicMasks(work / "masked_dynamic" / "units.parquet", record,
                         Vocab.from_tokenizer(tokenizer))
    start = time.perf_counter()
    masks.set_epoch(1)
    draw = time.perf_counter() - start
    epoch_steps = -(-len(masks) // int(params["pretrain"]["batch_size"]))
    for name in OPTIONS:
        print(f"{name} {med[name]:.4f} s/step  x{med[name] / med['mlm']:.3f} vs mlm; "
              f"{tok[name]:.0f} tok/s  x{tok['mlm'] / tok[name]:.3f} time per token vs mlm")
    print(f"dynamic: drawing one epoch's masks ({len(masks)} sequences) takes {draw:.2f} s, "
          f"{draw / (epoch_steps * med['dynamic']):.2%} of that epoch's {epoch_steps} steps")


if __name__ == "__main__":
    main()
