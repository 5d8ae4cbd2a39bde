"""pretrain stage: continued masked-LM pretraining on the stored masks (HF Trainer).

Inputs
  data/masked/{train,eval}.parquet   masked copies (input_ids, labels, in_entity, ...)
  models/tokenizer/                  the tokenizer of the tokenize stage
  base_model                         hub id / local folder, or ``scratch`` (``scratch`` params)
Outputs
  models/pretrained/                 safetensors + tokenizer (``AutoModelForMaskedLM``)
  metrics/pretrain.json              {"eval": {...}, "train": {...}}
  dvclive/pretrain/                  curves (plots/metrics/*.tsv at the global step)
  checkpoints/pretrain/              Trainer checkpoints (a DVC ``persist`` output)

Training
  The masks are data (mask-annotate drew them, seeded), so the collator only pads: there is
  no random masking at train time. Batches group sequences of similar length
  (``train_sampling_strategy="group_by_length"``), so little compute goes to padding.
  Evaluation (every ``save_steps`` and at the end) runs on the stored eval masks: MLM loss
  (mean over predicted tokens), perplexity, accuracy over predicted tokens and over those
  inside entity units (``in_entity``). Under DDP every process evaluates the whole (small)
  eval set itself, so all agree without communication.

Resume
  A checkpoint is written every ``save_steps`` (the last one kept) and removed once the
  run has finished and saved its outputs. A rerun resumes from
  the newest complete checkpoint (one whose trainer_state.json exists), but only when
  ``checkpoints/pretrain/fingerprint.json`` matches this run's params and input files;
  otherwise the stale checkpoints are removed and training starts fresh, so a persisted
  checkpoint never leaks into a run with other params or data.

Determinism and devices: see ``stages.modeling`` (CPU runs are bitwise reproducible).
Runs unchanged under ``torchrun --nproc_per_node=N -m stages.pretrain``.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import torch
import torch.nn.functional as F
from transformers import DataCollatorForTokenClassification, Trainer, TrainingArguments

from stages.common import load_params, setup_logging, stage_parser, write_json
from stages.modeling import (
    LiveCallback,
    SeededTrainer,
    build_mlm_model,
    pad_multiple,
    save_model,
    seed_for_init,
    token_loss,
    training_arguments,
)
from stages.tokenizer_io import load_tokenizer

log = setup_logging("pretrain")

STATE_FILE = "trainer_state.json"
FINGERPRINT = "fingerprint.json"


def read_masked(path: Path | str, with_entity: bool = False) -> list[dict]:
    """Rows of a masked parquet file as Trainer examples (input_ids, labels[, in_entity])."""
    columns = ["input_ids", "labels"] + (["in_entity"] if with_entity else [])
    table = pq.read_table(path, columns=columns)
    data = {name: table.column(name).to_pylist() for name in columns}
    rows = [dict(zip(columns, values)) for values in zip(*data.values())]
    for i, row in enumerate(rows):
        if len(row["input_ids"]) != len(row["labels"]):
            raise ValueError(f"{path}: row {i}: input_ids and labels differ in length")
    if not rows:
        raise ValueError(f"{path}: no masked sequences")
    return rows


def training_rows(path: Path | str) -> tuple[list[dict], int]:
    """Train rows with at least one predicted token, and how many copies were skipped.

    A copy in which nothing was masked adds no loss and no gradient, only compute.
    """
    rows = read_masked(path)
    kept = [r for r in rows if any(t != -100 for t in r["labels"])]
    return kept, len(rows) - len(kept)


class MaskedLMTrainer(SeededTrainer):
    """Trainer whose evaluation scores the stored eval masks, entity tokens apart."""

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval"):
        rows = eval_dataset if eval_dataset is not None else self.eval_dataset
        with self.accelerator.autocast():
            scores = mlm_scores(self.model, rows, self.data_collator,
                                self.args.per_device_eval_batch_size, self.args.device)
        self.model.train()
        metrics = {f"{metric_key_prefix}_{k}": v for k, v in scores.items() if v is not None}
        self.log(dict(metrics))  # log() adds "epoch" to the dict it gets
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control,
                                                         metrics)
        return metrics


@torch.no_grad()
def mlm_scores(model, rows: list[dict], collate, batch_size: int, device) -> dict[str, Any]:
    """Loss, perplexity and accuracy over the predicted tokens (overall and in entities)."""
    model.eval()
    order = sorted(range(len(rows)), key=lambda i: (len(rows[i]["input_ids"]), i))
    loss_sum, n, hits, n_ent, hits_ent = 0.0, 0, 0, 0, 0
    for b in range(0, len(order), batch_size):
        chunk = [rows[i] for i in order[b : b + batch_size]]
        batch = collate([{"input_ids": r["input_ids"], "labels": r["labels"]} for r in chunk])
        width = batch["input_ids"].shape[1]
        entity = torch.tensor([r["in_entity"] + [False] * (width - len(r["in_entity"]))
                               for r in chunk], dtype=torch.bool)
        logits = model(input_ids=batch["input_ids"].to(device),
                       attention_mask=batch["attention_mask"].to(device)).logits
        labels = batch["labels"].to(device)
        chosen = labels != -100
        logits, gold = logits[chosen].float(), labels[chosen]
        loss_sum += F.cross_entropy(logits, gold, reduction="sum").item()
        correct = (logits.argmax(-1) == gold).cpu()
        in_entity = entity[chosen.cpu()]
        n += int(gold.numel())
        hits += int(correct.sum())
        n_ent += int(in_entity.sum())
        hits_ent += int(correct[in_entity].sum())
    if n == 0:
        raise ValueError("the eval masks predict no token")
    loss = loss_sum / n
    return {
        "loss": loss,
        "perplexity": math.exp(min(loss, 700.0)),
        "accuracy": hits / n,
        "entity_accuracy": hits_ent / n_ent if n_ent else None,
        "masked_tokens": n,
        "entity_masked_tokens": n_ent,
    }


def fingerprint(stage_params: dict, files: list[Path]) -> str:
    """Hash of the stage params and the bytes of its input files."""
    digest = hashlib.sha256(json.dumps(stage_params, sort_keys=True).encode())
    for path in files:
        for f in sorted(p for p in (path.rglob("*") if path.is_dir() else [path]) if p.is_file()):
            digest.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
            digest.update(f.read_bytes())
    return digest.hexdigest()


def checkpoint_step(path: Path) -> int:
    return int(path.name.rsplit("-", 1)[1])


def checkpoints(directory: Path) -> list[Path]:
    """Trainer checkpoint folders (``checkpoint-<step>``), oldest first."""
    found = [p for p in directory.glob("checkpoint-*")
             if p.is_dir() and p.name.rsplit("-", 1)[1].isdigit()]
    return sorted(found, key=checkpoint_step)


def prepare_checkpoints(directory: Path, key: str, is_main: bool) -> Path | None:
    """Newest resumable checkpoint for this fingerprint; the main process clears stale ones."""
    marker = directory / FINGERPRINT
    found = checkpoints(directory)
    same = marker.is_file() and json.loads(marker.read_text())["fingerprint"] == key
    complete = [p for p in found if (p / STATE_FILE).is_file()] if same else []
    if is_main:
        stale = [p for p in found if p not in complete]
        if found and not same:
            log.info("checkpoints in %s come from other params or data: starting fresh",
                     directory)
        for p in stale:
            shutil.rmtree(p)
        directory.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"fingerprint": key}) + "\n")
    return complete[-1] if complete else None


def final_eval(trainer: Trainer) -> dict[str, Any]:
    """The evaluation logged at the last step (rerun if there is none)."""
    step = trainer.state.global_step
    for entry in reversed(trainer.state.log_history):
        if "eval_loss" in entry and entry.get("step") == step:
            return entry
    return trainer.evaluate()


def build_trainer(params: dict, model, tokenizer, train_rows: list[dict], eval_rows: list[dict],
                  output_dir: str | Path, callbacks: list | None = None,
                  **overrides: Any) -> MaskedLMTrainer:
    """The stage's Trainer (also used by bench/pretrain_throughput.py)."""
    cfg = params["pretrain"]
    settings: dict[str, Any] = dict(
        eval_strategy="steps", eval_steps=cfg["save_steps"],
        save_strategy="steps", save_steps=cfg["save_steps"], save_total_limit=1,
    )
    args: TrainingArguments = training_arguments(output_dir, cfg, params["seed"],
                                                 **{**settings, **overrides})
    collator = DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=pad_multiple())
    return MaskedLMTrainer(model=model, args=args, data_collator=collator,
                           train_dataset=train_rows, eval_dataset=eval_rows,
                           processing_class=tokenizer, callbacks=callbacks or [],
                           compute_loss_func=token_loss)


def check_lengths(rows: list[dict], model) -> None:
    longest = max(len(r["input_ids"]) for r in rows)
    limit = model.config.max_position_embeddings
    if longest > limit:
        raise ValueError(f"masked sequences reach {longest} tokens, the model takes {limit} "
                         "(raise scratch.max_position_embeddings or lower tokenize.max_len)")


def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--masked-dir", default="data/masked")
    parser.add_argument("--tokenizer", default="models/tokenizer")
    parser.add_argument("--out", default="models/pretrained")
    parser.add_argument("--checkpoints", default="checkpoints/pretrain")
    parser.add_argument("--metrics", default="metrics/pretrain.json")
    parser.add_argument("--live-dir", default="dvclive/pretrain")
    args = parser.parse_args()
    params = load_params(args.params)
    own = {k: params[k] for k in ("seed", "base_model", "scratch", "pretrain")}

    masked = Path(args.masked_dir)
    train_rows, skipped = training_rows(masked / "train.parquet")
    eval_rows = read_masked(masked / "eval.parquet", with_entity=True)
    tokenizer = load_tokenizer(args.tokenizer)
    log.info("%d train masked sequences (%d without a mask skipped), %d eval",
             len(train_rows), skipped, len(eval_rows))

    seed_for_init(params["seed"])
    model = build_mlm_model(params["base_model"], params["scratch"], tokenizer)
    check_lengths(train_rows + eval_rows, model)
    trainer = build_trainer(params, model, tokenizer, train_rows, eval_rows, args.checkpoints,
                            callbacks=[LiveCallback(args.live_dir, own)])
    targs = trainer.args
    # Code and process count are part of the key: a checkpoint written by other code or
    # another world size (different steps per epoch) must not be resumed.
    code = [Path(__file__), Path(__file__).with_name("modeling.py")]
    key = fingerprint({**own, "world_size": targs.world_size},
                      [masked / "train.parquet", masked / "eval.parquet", Path(args.tokenizer),
                       *code])
    with targs.main_process_first(local=False, desc="checkpoint check"):
        resume = prepare_checkpoints(Path(args.checkpoints), key, targs.process_index == 0)
    if resume is not None:
        log.info("resuming from %s (step %d)", resume, checkpoint_step(resume))
    log.info("device %s, %d process(es), bf16 %s", targs.device, targs.world_size, targs.bf16)

    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    scores = final_eval(trainer)
    if not trainer.is_world_process_zero():
        return
    train_losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    metrics = {
        "eval": {k: scores.get(f"eval_{k}") for k in
                 ("loss", "perplexity", "accuracy", "entity_accuracy", "masked_tokens",
                  "entity_masked_tokens")},
        "train": {
            "loss": train_losses[-1] if train_losses else None,
            "tokens": params["pretrain"]["epochs"] * sum(len(r["input_ids"]) for r in train_rows),
            "steps": trainer.state.global_step,
            "sequences": len(train_rows),
            "skipped_unmasked": skipped,
        },
    }
    save_model(trainer.model, tokenizer, args.out)
    write_json(args.metrics, metrics)
    # Checkpoints only serve an interrupted run; a finished one leaves just the fingerprint
    # (so the persisted folder is byte-identical across reruns).
    for path in checkpoints(Path(args.checkpoints)):
        shutil.rmtree(path)
    log.info("eval loss %.4f, perplexity %.2f, accuracy %.4f, entity accuracy %s; saved %s",
             metrics["eval"]["loss"], metrics["eval"]["perplexity"],
             metrics["eval"]["accuracy"], metrics["eval"]["entity_accuracy"], args.out)


if __name__ == "__main__":
    main()
