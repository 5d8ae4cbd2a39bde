"""CPU fine-tuning speed of the NER heads (and of ``torch.compile``), side by side in one run.

    python bench/ner_training_speed.py --model general/model \
        --ner /tmp/dapt-real-tuning/data/tokenized/ner.parquet --steps 25

Each variant builds the token classifier the finetune-ner stage builds (same builder, same
collator, AdamW), then times ``--steps`` optimiser steps on the train windows in
length-grouped batches (the first 3 steps excluded as warm-up). Variants: ``softmax``,
``crf``, ``bilstm_crf`` (``--lstm`` units per direction), ``bilstm_crf+packed`` (the BiLSTM
through ``pack_padded_sequence``, as before ``dapt.ner.bilstm``) and ``bilstm_crf+compile``
(the encoder wrapped in ``torch.compile``). Every variant is timed twice, interleaved, so
drift in machine load hits all; prints tokens/s and the ratio to ``softmax``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from transformers import DataCollatorForTokenClassification  # noqa: E402

from dapt.data.contracts import TRAIN, read_ner_windows  # noqa: E402
from dapt.data.tokenizer_io import load_tokenizer  # noqa: E402
from dapt.ner import bilstm, heads  # noqa: E402
from dapt.ner.bio import label_list, tag_types  # noqa: E402
from dapt.training.models import seed_for_init  # noqa: E402
from dapt.training.ner import build_token_classifier, encode_windows  # noqa: E402

VARIANTS = ("softmax", "crf", "bilstm_crf", "bilstm_crf+packed", "bilstm_crf+compile")


def packed_bilstm(lstm, x, lengths):
    """The BiLSTM through packed sequences (the CUDA path of ``padded_bilstm``, on CPU)."""
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True,
                                                     enforce_sorted=False)
    out, _ = lstm(packed)
    return torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True,
                                                  total_length=x.shape[1])[0]


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
    heads.padded_bilstm = packed_bilstm if option == "packed" else bilstm.padded_bilstm
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="general/model", help="encoder checkpoint folder")
    parser.add_argument("--ner", default="data/tokenized/ner.parquet", help="NER windows")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lstm", type=int, default=192, help="BiLSTM units per direction")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    args = parser.parse_args()
    windows = read_ner_windows(args.ner, TRAIN)
    labels = label_list(tag_types([w["tags"] for w in windows]))
    tokenizer = load_tokenizer(args.model)
    rows = encode_windows(windows, {label: i for i, label in enumerate(labels)})
    data = batches(rows, args.batch_size, DataCollatorForTokenClassification(tokenizer))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{len(rows)} windows, batch {args.batch_size}", flush=True)
    speeds: dict[str, list[float]] = {v: [] for v in args.variants}
    for variant in [*args.variants, *args.variants]:
        speeds[variant].append(timed_run(variant, args.model, labels, tokenizer, data,
                                         args.steps, args.lstm))
        print(f"{variant}: {speeds[variant][-1]:.0f} tok/s", flush=True)
    mean = {v: sum(x) / len(x) for v, x in speeds.items()}
    ref = mean.get("softmax") or next(iter(mean.values()))
    print(", ".join(f"{v} {mean[v]:.0f} tok/s (x{mean[v] / ref:.2f})" for v in mean))


if __name__ == "__main__":
    main()
