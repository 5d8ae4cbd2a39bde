"""Prediction speed on the real test split: PyTorch in document order (as before), PyTorch
batched by length (``dapt.ner.inference``) and ONNX Runtime, side by side in one run.

    python -m bench.inference_speed                        # both sizes, all test documents
    python -m bench.inference_speed --limit-docs 40 --sizes cpu real --threads 1
    python -m bench.inference_speed --model models/ner     # a trained folder instead

Not run in CI. Documents: the test split of ``--data`` as the split stage makes it
(params.yaml's ``split`` section), the first ``--limit-docs`` by id (the real size: the
first ``--real-docs`` of them). Models, untrained and
seeded (speed does not depend on the weights), with the ``--head`` head (default the real
CPU profile's, ``params_real_cpu.yaml``) and a scratch tokenizer fitted to the train split:

  cpu    the real CPU profile's encoder: the general checkpoint's shape
         (general/model/config.json; params.yaml ``scratch`` when absent)
  real   hfl/chinese-roberta-wwm-ext's shape: 12 layers, hidden 768, 12 heads,
         intermediate 3072, vocabulary 21128, 512 positions

``--model DIR`` times that folder instead (one size, ``model``). Each model is exported with
``dapt.export``; each variant predicts every document ``--repeats`` times, the variants
interleaved so drift in machine load hits all, after a warm-up on two documents; the best
time counts. Prints documents/s, characters/s and the ratio to PyTorch batched by length,
and whether all variants' spans are identical.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from dapt import cli  # noqa: F401  first: pins the numerical environment before torch loads

# isort: split
import onnxruntime
import torch
import transformers
import yaml
from transformers import BertConfig, BertForTokenClassification

from dapt import numerics
from dapt.data.documents import Document
from dapt.data.splitting import read_inputs, split_labeled
from dapt.data.tokenizer_io import train_scratch_tokenizer
from dapt.experiments.profile import PROFILE, REAL_DATA
from dapt.export import export_onnx
from dapt.ner.bio import label_list
from dapt.ner.heads import BertCrfForTokenClassification
from dapt.ner.inference import NerPredictor
from dapt.params import load_params

REPO = Path(__file__).resolve().parents[1]
REAL_SHAPE = dict(num_hidden_layers=12, hidden_size=768, num_attention_heads=12,
                  intermediate_size=3072, vocab_size=21128, max_position_embeddings=512)
VARIANTS = ("torch, document order", "torch, by length", "onnxruntime, by length")


def test_split(data: Path) -> tuple[list[Document], list[Document]]:
    """(train, test) documents of ``data`` as the split stage makes them."""
    params = load_params(REPO / "params.yaml")
    data_params = {**params["data"], "labeled_dir": str(data / "labeled"),
                   "unlabeled_dir": None, "corpus_file": None}
    labeled = read_inputs(data_params, "skip")[0]
    cfg = params["split"]
    parts = split_labeled(labeled, cfg["dev_size"], cfg["test_size"], cfg["seed"])
    return parts["train"], parts["test"]


def cpu_shape() -> dict:
    """The real CPU profile's encoder shape: the general checkpoint's, else ``scratch``."""
    general = REPO / "general" / "model" / "config.json"
    if general.is_file():
        config = json.loads(general.read_text(encoding="utf-8"))
    else:
        config = load_params(REPO / "params.yaml")["scratch"]
    keys = ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size",
            "max_position_embeddings")
    return {k: config[k] for k in keys} | {"vocab_size": config.get("vocab_size", 0)}


def build_model(out: Path, shape: dict, head: str, labels: list[str], tokenizer,
                lstm: int) -> Path:
    """A seeded untrained NER model of ``shape`` and ``head`` saved to ``out``."""
    torch.manual_seed(0)
    config = BertConfig(**{**shape, "vocab_size": max(shape["vocab_size"], len(tokenizer))},
                        id2label=dict(enumerate(labels)),
                        label2id={x: i for i, x in enumerate(labels)})
    if head == "softmax":
        model = BertForTokenClassification(config)
    else:
        config.ner_head, config.lstm_hidden_size = head, lstm
        model = BertCrfForTokenClassification(config)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def in_document_order(predictor: NerPredictor) -> NerPredictor:
    """``predictor`` batching windows in document order, as before length sorting: each
    chunk of ``batch_size`` windows is one batch, padded to its longest window."""
    by_length, size = predictor.label_windows, predictor.batch_size
    predictor.label_windows = lambda windows: [
        row for b in range(0, len(windows), size) for row in by_length(windows[b : b + size])]
    return predictor


def time_variants(model: Path, onnx: Path, docs: list[Document], args) -> dict[str, dict]:
    """Per variant: best seconds over the repeats and the predicted entities."""
    predictors = {
        VARIANTS[0]: in_document_order(NerPredictor.from_pretrained(
            model, args.max_len, args.batch_size, threads=args.threads)),
        VARIANTS[1]: NerPredictor.from_pretrained(model, args.max_len, args.batch_size,
                                                  threads=args.threads),
        VARIANTS[2]: NerPredictor.from_pretrained(onnx, args.max_len, args.batch_size,
                                                  threads=args.threads),
    }
    results = {name: {"seconds": float("inf")} for name in predictors}
    for predictor in predictors.values():
        predictor.predict(docs[:2])
    for _ in range(args.repeats):
        for name, predictor in predictors.items():
            start = time.perf_counter()
            entities = predictor.predict(docs)
            seconds = time.perf_counter() - start
            results[name]["seconds"] = min(results[name]["seconds"], seconds)
            results[name]["entities"] = entities
    return results


def report(size: str, results: dict[str, dict], docs: list[Document]) -> None:
    chars = sum(len(d.text) for d in docs)
    base = results[VARIANTS[1]]["seconds"]
    for name, r in results.items():
        s = r["seconds"]
        print(f"{size:<6} {name:<24} {len(docs) / s:>9.2f} {chars / s:>11.0f} "
              f"{base / s:>8.2f}x", flush=True)
    same = all(r["entities"] == results[VARIANTS[1]]["entities"] for r in results.values())
    print(f"{size:<6} spans identical across the variants: {'yes' if same else 'NO'}",
          flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    profile = yaml.safe_load(PROFILE.read_text(encoding="utf-8"))
    params = load_params(REPO / "params.yaml")
    ap.add_argument("--data", type=Path, default=REAL_DATA, help="labeled/ (%(default)s)")
    ap.add_argument("--sizes", nargs="+", choices=("cpu", "real"), default=["cpu", "real"])
    ap.add_argument("--model", type=Path, help="time this NER folder instead of --sizes")
    ap.add_argument("--head", default=profile.get("finetune.head", "softmax"),
                    choices=("softmax", "crf", "bilstm_crf"), help="(%(default)s)")
    ap.add_argument("--limit-docs", type=int, help="the first N test documents only")
    ap.add_argument("--real-docs", type=int, default=12, help="the real size predicts only the "
                    "first N of them (%(default)s; ~200 characters/s on one core)")
    ap.add_argument("--max-len", type=int, default=profile.get(
        "tokenize.max_len", params["tokenize"]["max_len"]), help="(%(default)s)")
    ap.add_argument("--batch-size", type=int, default=params["evaluate"]["batch_size"],
                    help="windows per forward pass (%(default)s)")
    ap.add_argument("--threads", type=int, default=1, help="torch and ONNX Runtime intra-op "
                    "threads (%(default)s)")
    ap.add_argument("--repeats", type=int, default=2, help="(%(default)s)")
    args = ap.parse_args(argv)
    numerics.use_threads(args.threads)
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    train, docs = test_split(args.data)
    docs = docs[: args.limit_docs] if args.limit_docs else docs
    print(f"CPU: {numerics.cpu_model()} ({platform.machine()}), {args.threads} thread(s); "
          f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}")
    print(f"{len(docs)} test documents of {args.data}, {sum(len(d.text) for d in docs)} "
          f"characters; max_len {args.max_len}, batch {args.batch_size}, head {args.head}, "
          f"best of {args.repeats}")
    print(f"{'size':<6} {'variant':<24} {'docs/s':>9} {'chars/s':>11} {'vs torch':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.model:
            models = {"model": args.model}
        else:
            tokenizer = train_scratch_tokenizer([d.text for d in train], 8000, 1)
            labels = label_list({e.type for d in train for e in d.entities})
            lstm = params["finetune"]["lstm_hidden_size"]
            shapes = {"cpu": cpu_shape(), "real": REAL_SHAPE}
            models = {size: build_model(tmp / size, shapes[size], args.head, labels,
                                        tokenizer, lstm) for size in args.sizes}
        for size, model in models.items():
            onnx = export_onnx(model, tmp / f"{size}-onnx").parent
            subset = docs[: args.real_docs] if size == "real" else docs
            print(f"{size}: {len(subset)} documents, {sum(len(d.text) for d in subset)} "
                  "characters", flush=True)
            report(size, time_variants(model, onnx, subset, args), subset)


if __name__ == "__main__":
    main()
