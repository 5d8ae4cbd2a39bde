"""CPU pretraining speed of three variants, side by side in one run.

    python -m bench.cpu_training_speed --params general/params.yaml \
        --masked-dir general/data/masked --tokenizer general/tokenizer --steps 30

Variants (the pretrain Trainer's own settings, the model of the params file's ``scratch``
section): ``full`` = fp32, vocabulary logits at every position (stock ``BertForMaskedLM``);
``masked`` = fp32, logits at the predicted positions only (``BertForMaskedLMAtPositions``,
what the stage uses); ``masked-bf16`` = the same under bf16 autocast. Each is timed twice,
interleaved, so drift in machine load hits all; prints tokens/s and ratios to ``full``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from transformers import BertForMaskedLM

from dapt.data.contracts import read_masked
from dapt.data.tokenizer_io import load_tokenizer
from dapt.params import Params, load_params
from dapt.training.mlm import build_mlm_trainer, training_rows
from dapt.training.models import build_mlm_model, seed_for_init

REPO = Path(__file__).resolve().parents[1]

VARIANTS = {"full": ("fp32", False), "masked": ("fp32", True), "masked-bf16": ("bf16", True)}


def timed_run(params: Params, variant: str, rows: list[dict], eval_rows: list[dict],
              tokenizer, steps: int) -> float:
    """Tokens per second over ``steps`` steps (the first 3 steps excluded as warm-up)."""
    precision, at_positions = VARIANTS[variant]
    data = params.to_dict()
    data["precision"] = precision
    params = Params(data, params.file)
    seed_for_init(params["seed"])
    model = build_mlm_model("scratch", params["scratch"], tokenizer)
    if not at_positions:
        model = BertForMaskedLM(model.config)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = build_mlm_trainer(params, model, tokenizer, rows, eval_rows, tmp,
                                    max_steps=steps, save_strategy="no", eval_strategy="no",
                                    disable_tqdm=True)
        loader = trainer.get_train_dataloader()
        tokens, start = 0, None
        for step, inputs in enumerate(loader):
            if step == 3:
                start = time.perf_counter()
            if step >= steps:
                break
            trainer.model.train()
            with trainer.accelerator.autocast():
                loss = trainer.compute_loss(trainer.model, dict(inputs))
            loss.backward()
            trainer.create_optimizer().step()
            trainer.model.zero_grad()
            if step >= 3:
                tokens += int(inputs["attention_mask"].sum())
        return tokens / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--masked-dir", default="data/masked")
    parser.add_argument("--tokenizer", default="models/tokenizer")
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    params = load_params(args.params)
    rows, _ = training_rows(Path(args.masked_dir) / "train.parquet")
    eval_rows = read_masked(Path(args.masked_dir) / "eval.parquet", with_entity=True)
    tokenizer = load_tokenizer(args.tokenizer)
    speeds: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for variant in [*VARIANTS, *VARIANTS]:
        speeds[variant].append(timed_run(params, variant, rows, eval_rows, tokenizer,
                                         args.steps))
        print(f"{variant}: {speeds[variant][-1]:.0f} tok/s", flush=True)
    mean = {v: sum(x) / len(x) for v, x in speeds.items()}
    print(", ".join(f"{v} {mean[v]:.0f} tok/s (x{mean[v] / mean['full']:.2f})" for v in mean))


if __name__ == "__main__":
    main()
