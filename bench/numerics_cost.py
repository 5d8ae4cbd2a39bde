"""The speed cost of the pinned numerical environment (``dapt.numerics``), side by side.

    python -m bench.numerics_cost                 # both profiles, 3 alternating rounds
    python -m bench.numerics_cost --probe         # which switch changes the trained bytes

Not run in CI. Each measurement is a fresh process (the pin must be set before torch loads)
that trains ``--steps`` steps (3 warm-up steps not timed) at the ``threads`` param of the
profile's params file, once with the environment pinned and once with
``DAPT_NUMERICS=native`` (the machine's own kernels), alternating, so drift in machine load
hits both. Profiles: ``demo`` = the MLM model of params.yaml's ``scratch`` section (masked
positions only, as the pretrain stage), ``real`` = the general checkpoint's shape
(general/params.yaml) with the real CPU profile's BiLSTM-CRF head fine-tuning (the most
expensive stage of a real-data experiment). Prints tokens/s and the ratio pinned/native; on
an AVX2-only machine both select the same kernels, so the ratio is 1 up to noise.

``--probe`` trains a small BERT + LSTM for 20 steps in one process per setting and prints a
hash of the weights: unpinned (``native``), pinned, and the native environment with one
variable changed, so each switch's effect on the bytes is seen on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
PROFILES = {"demo": REPO / "params.yaml", "real": REPO / "general" / "params.yaml"}
BATCH, LENGTH, VOCAB, MASKED = 16, 128, 8000, 0.15
PROBE_ENV = [{}, {"ATEN_CPU_CAPABILITY": "default"}, {"MKL_CBWR": "COMPATIBLE"},
             {"MKL_CBWR": "AVX2"}, {"ONEDNN_MAX_CPU_ISA": "SSE41"}, {"OMP_DYNAMIC": "true"},
             {"OMP_NUM_THREADS": "1"}]


def worker(profile: str, steps: int) -> dict:
    """Train ``steps`` steps of the profile's model in this process; tokens/s."""
    import dapt.cli  # noqa: F401  (pins, or not with DAPT_NUMERICS=native, before torch)

    # isort: split
    import time

    import torch
    from transformers import BertConfig

    from dapt import numerics
    from dapt.training.models import BertForMaskedLMAtPositions

    params = yaml.safe_load(PROFILES[profile].read_text(encoding="utf-8"))
    numerics.use_threads(params["threads"])
    cfg = params["scratch"]
    config = BertConfig(vocab_size=VOCAB, hidden_size=cfg["hidden_size"],
                        num_hidden_layers=cfg["num_hidden_layers"],
                        num_attention_heads=cfg["num_attention_heads"],
                        intermediate_size=cfg["intermediate_size"],
                        max_position_embeddings=cfg["max_position_embeddings"])
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    if profile == "demo":
        model = BertForMaskedLMAtPositions(config)

        def step() -> torch.Tensor:
            ids = torch.randint(5, VOCAB, (BATCH, LENGTH), generator=g)
            positions = torch.rand(BATCH, LENGTH, generator=g) < MASKED
            logits = model(input_ids=ids, mlm_positions=positions).logits
            return torch.nn.functional.cross_entropy(logits, ids[positions])
    else:
        from dapt.ner.bio import label_list
        from dapt.ner.heads import BertCrfForTokenClassification

        labels_ = label_list([f"T{i}" for i in range(13)])  # O + B-/I- of 13 types: 27
        config.update({"id2label": dict(enumerate(labels_)), "ner_head": "bilstm_crf",
                       "lstm_hidden_size": 192})
        model = BertCrfForTokenClassification(config)

        def step() -> torch.Tensor:
            ids = torch.randint(5, VOCAB, (BATCH, LENGTH), generator=g)
            labels = torch.randint(0, len(labels_), (BATCH, LENGTH), generator=g)
            labels[:, 0] = labels[:, -1] = -100
            return model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels).loss
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()
    for i in range(steps + 3):
        if i == 3:
            start = time.perf_counter()
        step().backward()
        optimizer.step()
        optimizer.zero_grad()
    seconds = time.perf_counter() - start
    return {"tokens_per_s": steps * BATCH * LENGTH / seconds,
            "numerics": numerics.describe(params["threads"])}


def measure(profile: str, mode: str, steps: int) -> dict:
    env = {**os.environ, "DAPT_NUMERICS": mode}
    out = subprocess.run([sys.executable, "-m", "bench.numerics_cost", "--worker", profile,
                          "--steps", str(steps)], cwd=REPO, env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


def probe_hash(extra: dict[str, str]) -> str:
    code = """
import hashlib
import dapt.cli  # noqa: F401
import torch
from transformers import BertConfig, BertForMaskedLM
torch.manual_seed(0)
cfg = BertConfig(vocab_size=500, hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=256, max_position_embeddings=128)
model = BertForMaskedLM(cfg)
lstm = torch.nn.LSTM(128, 64, bidirectional=True, batch_first=True)
opt = torch.optim.AdamW([*model.parameters(), *lstm.parameters()], lr=1e-3)
g = torch.Generator().manual_seed(1)
for _ in range(20):
    ids = torch.randint(5, 500, (16, 64), generator=g)
    labels = ids.masked_fill(torch.rand(16, 64, generator=g) > 0.15, -100)
    out = model(input_ids=ids, labels=labels, output_hidden_states=True)
    (out.loss + lstm(out.hidden_states[-1])[0].pow(2).mean()).backward()
    opt.step(); opt.zero_grad()
h = hashlib.md5()
for v in [*model.state_dict().values(), *lstm.state_dict().values()]:
    h.update(v.numpy().tobytes())
print(h.hexdigest()[:12])
"""
    env = {**{k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS",)},
           "DAPT_NUMERICS": "native", **extra}
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", nargs="+", choices=sorted(PROFILES),
                        default=["demo", "real"])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--probe", action="store_true", help="which switch changes the bytes")
    parser.add_argument("--worker", choices=sorted(PROFILES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.steps)))
        return
    if args.probe:
        from dapt import numerics

        print("| environment | weights md5 |\n|---|---|")
        print(f"| pinned (dapt.numerics) | {probe_hash(numerics.PINNED)} |")
        for extra in PROBE_ENV:
            name = ", ".join(f"{k}={v}" for k, v in extra.items()) or "native (unset)"
            print(f"| {name} | {probe_hash(extra)} |", flush=True)
        return
    print("| profile | pinned tok/s | native tok/s | pinned / native |\n|---|---|---|---|")
    for profile in args.profiles:
        speeds: dict[str, list[float]] = {"pinned": [], "native": []}
        for r in range(args.rounds):
            for mode in (("pinned", "native") if r % 2 == 0 else ("native", "pinned")):
                result = measure(profile, mode, args.steps)
                speeds[mode].append(result["tokens_per_s"])
        pinned, native = (statistics.median(speeds[m]) for m in ("pinned", "native"))
        print(f"| {profile} | {pinned:,.0f} | {native:,.0f} | x{pinned / native:.3f} |",
              flush=True)
    print(f"(median of {args.rounds} rounds of {args.steps} steps, batch {BATCH} x {LENGTH} "
          f"tokens; the last native run: {json.dumps(result['numerics'])})")


if __name__ == "__main__":
    main()
