"""pretrain stage: continued masked-LM pretraining on the stored masks (HF Trainer).

Inputs
  data/masked/{train,eval}.parquet   masked copies (input_ids, labels, in_entity, ...; with a
                                     pair task also token_type_ids and pair_label)
  data/masked/units.parquet          mask_mode dynamic: unmasked sequences + candidate units
                                     (in place of train.parquet)
  models/tokenizer/                  the tokenizer of the tokenize stage
  base_model                         hub id / local folder, or ``scratch`` (``scratch`` params)
Outputs
  models/pretrained/                 safetensors + tokenizer (``AutoModelForMaskedLM``) and
                                     a model card README.md (``dapt.training.model_card``)
  metrics/pretrain.json              {"eval": {...}, "train": {...}}
  dvclive/pretrain/                  curves (plots/metrics/*.tsv at the global step)

Training
  Static masks (``mask_mode: static``) are data (mask-annotate drew them, seeded), so the
  collator only pads: there is no random masking at train time. Copies without any mask
  (and no pair label) are skipped (no loss, only compute) and counted. With ``mask_mode:
  dynamic`` the masks of every epoch are drawn from (seed, epoch, sequence) when the epoch
  starts (``dapt.training.dynamic``), by the strategy code and params mask-annotate
  recorded. ``train.mask_rate`` is the realised rate over the run. With
  ``pretrain.pair_task`` the model is ``BertForPreTraining``-shaped and the loss is MLM +
  ``pair_weight`` x pair loss (``dapt.training.arguments.pair_task_loss``); the saved
  folder still loads with ``AutoModelForMaskedLM``. Batches group sequences of similar
  length. Evaluation (every ``pretrain.save_steps`` and at the end) scores the stored eval
  masks, and the eval pairs' accuracy and loss (``dapt.training.mlm``).

Resume
  A checkpoint is written every ``save_steps`` (the last one kept) to
  ``$DAPT_CHECKPOINT_DIR/pretrain/<fingerprint>/`` (default root ``~/.cache/dapt/checkpoints``,
  outside the repo, so neither ``dvc repro`` nor ``dvc exp run`` resets it) and removed once
  the run has saved its outputs. A rerun with the same fingerprint (stage params, input files
  and a local base model, world size, the stage's code deps as dvc.yaml lists them) resumes
  from the newest complete checkpoint (``dapt.training.checkpoints``).

Determinism and devices: see ``dapt.training.models`` (CPU runs are bitwise reproducible).
Runs unchanged under ``torchrun --nproc_per_node=N -m stages.pretrain``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from dapt.cli import path_flag, stage_main
from dapt.data.contracts import MASKING_RECORD, read_masked, write_json
from dapt.data.tokenizer_io import load_tokenizer
from dapt.numerics import describe
from dapt.params import Params, as_params
from dapt.training.arguments import report_speed, run_precision, speed_start
from dapt.training.checkpoints import ResumableRun
from dapt.training.devices import claim_gpu
from dapt.training.live import LiveCallback
from dapt.training.mlm import (
    build_mlm_trainer,
    check_lengths,
    final_eval,
    train_examples,
)
from dapt.training.model_card import digest, pretrained_card, write_card
from dapt.training.models import build_mlm_model, save_model, seed_for_init
from dapt.training.trainer import sequence_lengths

log = logging.getLogger("pretrain")


@dataclass
class Paths:
    masked_dir: str = path_flag("data/masked", "masked copies")
    tokenizer: str = path_flag("models/tokenizer", "tokenizer folder")
    out: str = path_flag("models/pretrained", "model folder", output=True)
    checkpoints: str | None = path_flag(None, "resume-state root (default: "
                                              "$DAPT_CHECKPOINT_DIR or ~/.cache/dapt/checkpoints)")
    metrics: str = path_flag("metrics/pretrain.json", "MLM metrics", output=True)
    live_dir: str = path_flag("dvclive/pretrain", "dvclive folder", output=True)
    speed: str | None = path_flag(None, "optional JSON: tokens/s (evaluations included) "
                                        "and peak GPU memory (wall clock, so not a DVC metric)")


def run(params: Params, paths: Paths) -> dict | None:
    """Pretrain (resuming when possible); returns the metrics (None on non-main processes)."""
    params = as_params(params)
    run_precision(params["precision"])  # an impossible precision fails before any work
    # The params this stage reads: they fingerprint its resume state and label its curves.
    stage_params = {k: params[k] for k in ("seed", "base_model", "precision", "scratch",
                                           "pretrain")}
    stage_params = {k: v.to_dict() if isinstance(v, Params) else v
                    for k, v in stage_params.items()}
    masked = Path(paths.masked_dir)
    masking = json.loads((masked / MASKING_RECORD).read_text(encoding="utf-8"))
    tokenizer = load_tokenizer(paths.tokenizer)
    examples = train_examples(masked, masking, tokenizer)
    train_rows, skipped, train_file = examples.rows, examples.skipped, examples.file
    eval_rows = read_masked(masked / "eval.parquet", with_entity=True)
    log.info("%d train sequences (%s masks; %d without a mask skipped), %d eval",
             len(train_rows), masking.get("mask_mode", "static"), skipped, len(eval_rows))

    seed_for_init(params["seed"])
    pair_task = params["pretrain"]["pair_task"]
    if pair_task != masking.get("pair_task", "none"):
        raise ValueError(f"pretrain.pair_task={pair_task!r} but {masked} holds pairs for "
                         f"{masking.get('pair_task', 'none')!r}: rerun mask-annotate")
    model = build_mlm_model(params["base_model"], params["scratch"], tokenizer, pair_task)
    check_lengths(sequence_lengths(train_rows) + sequence_lengths(eval_rows), model)
    trainer = build_mlm_trainer(params, model, tokenizer, train_rows, eval_rows, paths.out,
                                callbacks=[LiveCallback(paths.live_dir, stage_params)])
    targs = trainer.args
    run_state = ResumableRun(trainer, "pretrain", stage_params,
                             [train_file, masked / "eval.parquet", masked / MASKING_RECORD,
                              Path(paths.tokenizer), Path(params["base_model"])],
                             paths.checkpoints)
    log.info("device %s, %d process(es), precision %s", targs.device, targs.world_size,
             "bf16" if targs.bf16 else "fp16" if targs.fp16 else "fp32")

    start = speed_start()
    run_state.train()
    epochs = params["pretrain"]["epochs"]
    tokens = epochs * sum(sequence_lengths(train_rows))
    if trainer.is_world_process_zero():
        report_speed(start, tokens, paths.speed)
    scores = final_eval(trainer)
    if not trainer.is_world_process_zero():
        return None
    train_losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    eval_keys = ["loss", "perplexity", "accuracy", "entity_accuracy", "masked_tokens",
                 "entity_masked_tokens"]
    if pair_task != "none":
        eval_keys += ["pair_loss", "pair_accuracy", "pairs"]
    metrics = {
        "eval": {k: scores.get(f"eval_{k}") for k in eval_keys},
        "train": {
            "loss": train_losses[-1] if train_losses else None,
            "tokens": tokens,
            "steps": trainer.state.global_step,
            "sequences": len(train_rows),
            "skipped_unmasked": skipped,
            "mask_rate": examples.mask_rate(epochs),
        },
        "numerics": describe(params["threads"]),
    }
    save_model(trainer.model, tokenizer, paths.out)
    inputs = digest([train_file, masked / "eval.parquet", Path(paths.tokenizer)])
    write_card(paths.out, pretrained_card(params, masking, inputs, metrics))
    write_json(paths.metrics, metrics)
    run_state.finish()  # checkpoints only serve an interrupted run
    log.info("eval loss %.4f, perplexity %.2f, accuracy %.4f, entity accuracy %s; saved %s",
             metrics["eval"]["loss"], metrics["eval"]["perplexity"],
             metrics["eval"]["accuracy"], metrics["eval"]["entity_accuracy"], paths.out)
    return metrics


def main(argv: list[str] | None = None) -> None:
    stage_main(__doc__, Paths, run, argv, before_run=claim_gpu)


if __name__ == "__main__":
    main()
