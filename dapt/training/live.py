"""Training curves with dvclive, at the Trainer's global step."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

# Trainer log keys that are wall-clock measurements or totals, kept out of the curves.
UNPLOTTED = ("runtime", "per_second", "total_flos", "train_loss", "num_input_tokens_seen", "epoch")


def curve_name(key: str) -> str | None:
    """dvclive name of a Trainer log key (``eval_loss`` -> ``eval/loss``), None to skip."""
    if any(part in key for part in UNPLOTTED) or key == "step":
        return None
    split, _, name = key.partition("_")
    if split in ("eval", "dev", "train") and name:
        return f"{split}/{name}"
    return f"train/{key}"


class LiveCallback(TrainerCallback):
    """Training curves with dvclive at the Trainer's global step (main process only).

    ``Live(dir, dvcyaml=None, save_dvc_exp=False)``: dvclive never edits dvc.yaml nor creates
    experiments (the pipeline declares ``<dir>/plots/metrics``). Only the stage's own params
    are logged. After a resume, the restored ``log_history`` is replayed so the curves are
    whole and have no duplicated steps, and the summary is the same bytes as a run's that
    was never interrupted.

    dvclive writes its files itself, in place (not through ``dapt.data.atomic``): curves are
    appended row by row, the ``metrics.json`` summary is rewritten at each log; a kill can
    cut its last line short. These are plots, not stage outputs the next stage reads.
    """

    def __init__(self, directory: str | Path, params: Mapping[str, Any]):
        self.directory = str(directory)
        self.params = dict(params)
        self.live = None

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero or self.live is not None:
            return
        from dvclive import Live

        self.live = Live(self.directory, dvcyaml=None, save_dvc_exp=False)
        self.live.log_params(self.params)
        for entry in state.log_history:
            self.record(entry)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.live is not None and logs:
            self.record({**logs, "step": state.global_step})

    def record(self, entry: Mapping[str, Any]) -> None:
        values = {}
        for key, value in entry.items():
            name = curve_name(key)
            if name and isinstance(value, (int, float)) and not isinstance(value, bool):
                values[name] = value
        if not values:
            return
        self.live.step = int(entry["step"])
        # Sorted: a resumed run replays log_history from trainer_state.json (keys sorted),
        # and the metrics.json summary keeps the order in which names were first logged.
        for name, value in sorted(values.items()):
            self.live.log_metric(name, value)
        self.live.make_summary()

    def on_train_end(self, args, state, control, **kwargs):
        if self.live is not None:
            self.live.end()


