"""export: write a fine-tuned NER model as an ONNX graph for ONNX Runtime.

    python -m dapt.export --onnx --model models/ner --output models/ner-onnx
    python -m dapt.predict --model models/ner-onnx --input leaflets/ --output predicted/

The graph is the encoder and emission head of any head (softmax, crf, bilstm_crf):
``input_ids``, ``attention_mask`` (int64, dynamic batch and sequence axes) -> ``emissions``
(float32 ``[batch, seq, labels]``). CRF heads keep their decoding outside the graph: the
CRF's parameters are saved beside it and decoded with the project's exact Viterbi
(``dapt.ner.onnx_runtime``, which describes the folder). The config and tokenizer are copied,
so the folder is a ``--model`` for ``dapt.predict`` and the evaluate stage.

Exporter: ``torch.onnx.export(..., dynamo=False)``, the TorchScript tracer (deprecated in
torch 2.9+, still shipped). The default torch.export-based exporter fails for the BiLSTM-CRF:
it cannot export ``pack_padded_sequence``, and the padded CPU form of the BiLSTM
(``dapt.ner.bilstm``) comes out with its sequence length fixed to the example's. The tracer
maps the packed LSTM to ONNX's ``LSTM`` op with per-row ``sequence_lens`` (the same values
for any batch and length), and needs ``onnx`` but not ``onnxscript``.

After writing, the export is checked: ONNX Runtime's emissions for a batch of another shape
than the tracing example must match PyTorch's (within ``TOLERANCE``), else the export fails.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import warnings
from pathlib import Path

from dapt.cli import setup_logging  # first: pins the numerical environment before torch loads

# isort: split
import torch
from safetensors.torch import save_file
from torch import nn

from dapt.ner.heads import ModelFolderError, has_crf_head, load_token_classifier, model_source
from dapt.ner.inference import ONNX_GRAPH
from dapt.ner.onnx_runtime import CRF_WEIGHTS, INPUTS, OUTPUT, load_onnx_classifier

log = logging.getLogger("export")
OPSET = 17
TOLERANCE = 1e-4  # largest |ONNX - PyTorch| emission difference accepted by the check


class EmissionScores(nn.Module):
    """``(input_ids, attention_mask) -> [B, T, L]`` label scores of a token classifier."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if has_crf_head(self.model.config):
            return self.model.emissions(input_ids, attention_mask)
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def example_batch(tokenizer, rows: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded ``[CLS] tokens [SEP] padding`` rows of falling lengths (row 0 full)."""
    generator = torch.Generator().manual_seed(rows * 1000 + width)
    ids = torch.randint(0, len(tokenizer), (rows, width), generator=generator)
    mask = torch.zeros(rows, width, dtype=torch.long)
    for r in range(rows):
        n = max(3, width - r * width // rows)
        ids[r, 0] = tokenizer.cls_token_id
        ids[r, n - 1] = tokenizer.sep_token_id
        ids[r, n:] = tokenizer.pad_token_id
        mask[r, :n] = 1
    return ids, mask


def check_export(output: Path, scores: EmissionScores, tokenizer) -> float:
    """Largest |ONNX Runtime - PyTorch| emission difference on a batch of another shape
    than the tracing example (both axes dynamic); ValueError above ``TOLERANCE``."""
    ids, mask = example_batch(tokenizer, 3, 11)
    with torch.inference_mode():
        expected = scores(ids, mask)
    got = load_onnx_classifier(output)(input_ids=ids, attention_mask=mask).logits
    real = mask.bool()
    diff = float((got - expected)[real].abs().max())
    if not diff <= TOLERANCE:
        raise ValueError(f"{output / ONNX_GRAPH}: ONNX Runtime emissions differ from PyTorch's "
                         f"by {diff:.3g} (> {TOLERANCE})")
    return diff


def export_onnx(model_dir: Path | str, output: Path | str) -> Path:
    """Write the export folder of the NER model ``model_dir`` to ``output`` (created; its
    files of the same names are replaced); returns the graph's path."""
    from transformers import AutoTokenizer

    output = Path(output)
    source = model_source(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), **source)
    model = load_token_classifier(model_dir).to("cpu").eval()
    scores = EmissionScores(model).eval()
    output.mkdir(parents=True, exist_ok=True)
    graph = output / ONNX_GRAPH
    dynamic = {name: {0: "batch", 1: "sequence"} for name in (*INPUTS, OUTPUT)}
    with warnings.catch_warnings():  # the tracer's deprecation and shape notes (checked below)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
        torch.onnx.export(scores, example_batch(tokenizer, 2, 8), str(graph), dynamo=False,
                          input_names=list(INPUTS), output_names=[OUTPUT],
                          dynamic_axes=dynamic, opset_version=OPSET)
    model.config.save_pretrained(output)
    tokenizer.save_pretrained(output)
    if has_crf_head(model.config):
        save_file({k: v.contiguous() for k, v in model.crf.state_dict().items()},
                  output / CRF_WEIGHTS)
    elif (output / CRF_WEIGHTS).exists():
        (output / CRF_WEIGHTS).unlink()  # left by an earlier export of a CRF model
    diff = check_export(output, scores, tokenizer)
    log.info("%s -> %s (%.1f MB, opset %d); ONNX Runtime emissions within %.2g of PyTorch's",
             model_dir, graph, graph.stat().st_size / 1e6, OPSET, diff)
    return graph


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--onnx", action="store_true", required=True,
                        help="export to ONNX (the one format so far)")
    parser.add_argument("--model", default="models/ner", help="save_pretrained NER folder "
                        "(%(default)s)")
    parser.add_argument("--output", required=True, type=Path, help="export folder")
    parser.add_argument("--force", action="store_true",
                        help="remove --output first when it exists")
    args = parser.parse_args(argv)
    setup_logging()
    if args.output.resolve() == Path(args.model).resolve():
        parser.error("--output must differ from --model")
    if args.output.exists() and any(args.output.iterdir()):
        if not args.force:
            parser.error(f"{args.output} exists and is not empty (--force replaces it)")
        shutil.rmtree(args.output)
    try:
        export_onnx(args.model, args.output)
    except ModelFolderError as exc:
        parser.exit(1, f"--model {exc}\n")


if __name__ == "__main__":
    main()
