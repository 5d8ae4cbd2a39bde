"""Pretraining over two torchrun nodes gives the weights of one process on the same masks.

Two ``torchrun --nnodes=2 --nproc_per_node=1`` agents meet through a c10d rendezvous on
127.0.0.1 (a free port) and train with gloo, each with its own output paths, as two machines
would; only global rank 0 writes. They share the resume root (on a cluster: a shared disk).

What "the same weights" means, and why it holds:

* The sampler orders an epoch by the global batch of a step (``dapt.training.trainer``) and
  accelerate deals its consecutive batches of ``b`` out to the ranks, so at every step the
  two nodes of batch ``b`` train on exactly the sequences one process trains on with
  ``grad_accum: 2``, each node on one of its two micro-batches.
* The loss is token-weighted over the whole step (``num_items_in_batch``, counted over all
  ranks); under DDP transformers scales each rank's loss by 2 and DDP averages the 2
  gradients. Scaling by 2 is exact in floating point and the sum of two numbers does not
  depend on their order, so the gradient is the bitwise sum one process accumulates.
  Result: **identical bytes** to one process with batch ``b`` and ``grad_accum: 2``.
* One process with batch ``2b`` sees the same sequences per step, but pads them as one batch
  and sums their gradient in one matmul instead of two halves: float rounding differs, so
  the weights agree within ``BATCH_TOLERANCE`` (measured: max |diff| 6e-8 after 7 steps).
* Dropout is off: each process draws its own dropout masks, so with dropout the nodes'
  run is another, equally valid draw, not the same weights.
* The train sequences are a multiple of the global batch (7 x 16): otherwise accelerate fills
  the last step of each epoch with sequences from the epoch's start (every rank needs a full
  batch), and the runs part from there (measured: 2e-4 after one epoch of 120 sequences).
  112 is also a count at which grouping by the per-process batch would give another order
  (the test fails without the global-batch sampler).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from safetensors.torch import load_file

from tests import test_pretrain
from tests.helpers import REPO, module_env, run_at_once, write_params
from tests.test_pretrain import ENV, stage_args

pytestmark = pytest.mark.slow
masked = test_pretrain.masked  # fixture: 40 + 10 demo documents split, tokenized and masked

BATCH = 8  # per process
STEPS = 7  # global batches of 2 x BATCH in the one epoch of the tiny profile
BATCH_TOLERANCE = 1e-6  # max |weight difference| against one process of batch 2 x BATCH
TIMEOUT = 300  # seconds for all runs; a lost rank or rendezvous fails the test, no hang
# No dropout (see above); a checkpoint and an evaluation mid-run, under both layouts.
COMMON = {"scratch.dropout": 0.0, "pretrain.save_steps": 4}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def node_command(port: int, run_id: str, args: list[str]) -> list[str]:
    """One node of two, one process each, rendezvous through c10d on 127.0.0.1."""
    return [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc_per_node=1",
            "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{port}", f"--rdzv-id={run_id}",
            "--rdzv-conf=join_timeout=120", "--local-addr=127.0.0.1",
            "-m", "stages.pretrain", *args]


@pytest.fixture
def steps_of_masks(masked, tmp_path) -> Path:
    """The masked data of ``masked`` cut to its first ``STEPS x 2 x BATCH`` copies that carry
    a mask (none is skipped, every step is full)."""
    data = tmp_path / "data"
    shutil.copytree(masked / "masked", data / "masked")
    shutil.copytree(masked / "tokenizer", data / "tokenizer")
    table = pq.read_table(masked / "masked" / "train.parquet")
    with_mask = [i for i, labels in enumerate(table.column("labels").to_pylist())
                 if any(label != -100 for label in labels)]
    needed = STEPS * 2 * BATCH
    assert len(with_mask) >= needed, "the tiny masked data shrank: lower STEPS"
    pq.write_table(table.take(with_mask[:needed]), data / "masked" / "train.parquet")
    return data


def weights(run: Path) -> dict:
    return load_file(run / "pretrained" / "model.safetensors")


def test_two_nodes_match_one_process_on_the_same_masks(masked, steps_of_masks, tmp_path):
    data = steps_of_masks

    def params(name: str, **overrides) -> Path:
        return write_params(tmp_path / f"{name}.yaml", masked / "params.yaml",
                            **COMMON, **overrides)

    # Each node its own outputs (only rank 0 writes), one resume root (the last flag wins).
    per_node = params("nodes", **{"pretrain.batch_size": BATCH})
    shared = ["--checkpoints", str(tmp_path / "shared-checkpoints")]
    port, run_id = free_port(), f"pretrain-{os.getpid()}"
    nodes = [node_command(port, run_id, [*stage_args(data, tmp_path / f"node{i}", per_node),
                                         *shared])
             for i in range(2)]
    one = [sys.executable, "-m", "stages.pretrain"]
    accumulated = params("accumulated", **{"pretrain.batch_size": BATCH,
                                           "pretrain.grad_accum": 2})
    doubled = params("doubled", **{"pretrain.batch_size": 2 * BATCH})
    env = module_env({**ENV, "GLOO_SOCKET_IFNAME": "lo"})  # one thread; gloo on loopback
    out = run_at_once({
        "node 0": (nodes[0], REPO, env), "node 1": (nodes[1], REPO, env),
        "one process, grad_accum 2": (
            [*one, *stage_args(data, tmp_path / "accumulated", accumulated)], REPO, env),
        "one process, batch 2b": (
            [*one, *stage_args(data, tmp_path / "doubled", doubled)], REPO, env),
    }, TIMEOUT)

    assert "2 process(es)" in out["node 0"] and "2 process(es)" in out["node 1"]
    # Global rank 0 wrote the model, metrics and curves; node 1 nothing.
    assert (tmp_path / "node0" / "pretrain.json").is_file()
    assert not [p for p in (tmp_path / "node1").rglob("*") if p.is_file()]
    trained = weights(tmp_path / "node0")

    same = weights(tmp_path / "accumulated")
    assert trained.keys() == same.keys()
    assert all(trained[k].equal(same[k]) for k in trained), "not bitwise identical"
    metrics = json.loads((tmp_path / "node0" / "pretrain.json").read_text())
    reference = json.loads((tmp_path / "accumulated" / "pretrain.json").read_text())
    assert metrics["train"]["steps"] == reference["train"]["steps"] == STEPS
    assert metrics["eval"] == reference["eval"]

    batch = weights(tmp_path / "doubled")
    gap = max((trained[k] - batch[k]).abs().max().item() for k in trained)
    assert gap <= BATCH_TOLERANCE
