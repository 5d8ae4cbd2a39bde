"""An exported NER model (``python -m dapt.export --onnx``) scored by ONNX Runtime on CPU.

An export folder holds

  model.onnx        the encoder and emission head: ``input_ids``, ``attention_mask``
                    (int64 ``[batch, seq]``, both axes dynamic) -> ``emissions`` (float32
                    ``[batch, seq, labels]``, the logits of ``model(...)`` /
                    ``BertCrfForTokenClassification.emissions``)
  config.json       the source model's config (``id2label``, ``ner_head``, positions)
  tokenizer files   the source model's tokenizer
  crf.safetensors   CRF heads only: the ``dapt.ner.crf.CRF`` state dict (transitions,
                    start/end scores, BIO constraints)

``load_onnx_classifier`` returns an object with the interface ``NerPredictor`` uses of a
PyTorch model (``config``, ``device``, ``eval()``, ``model(input_ids=, attention_mask=)
.logits`` and, for CRF heads, ``decode``), so prediction, merging and decoding are the
PyTorch path's own code: CRF heads are decoded by the project's exact Viterbi
(``dapt.ner.heads.decode_between_specials``) on the ONNX emissions.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import AutoConfig
from transformers.modeling_outputs import TokenClassifierOutput

from dapt.ner.crf import CRF
from dapt.ner.heads import (
    TOKENIZER_FILES,
    ModelFolderError,
    decode_between_specials,
    has_crf_head,
)
from dapt.ner.inference import ONNX_GRAPH

CRF_WEIGHTS = "crf.safetensors"
INPUTS = ("input_ids", "attention_mask")
OUTPUT = "emissions"


class OnnxTokenClassifier:
    """Emission scores of an exported model from an ONNX Runtime CPU session."""

    device = torch.device("cpu")

    def __init__(self, graph: Path, config, threads: int | None = None):
        """``threads``: intra-op threads (default torch's thread count, which
        ``dapt.numerics.use_threads`` sets from the ``threads`` param)."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(graph), options,
                                            providers=["CPUExecutionProvider"])
        self.config = config

    def eval(self) -> OnnxTokenClassifier:
        return self

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor
                 ) -> TokenClassifierOutput:
        feed = {name: t.cpu().numpy() for name, t in zip(INPUTS, (input_ids, attention_mask))}
        (emissions,) = self.session.run([OUTPUT], feed)
        return TokenClassifierOutput(logits=torch.from_numpy(emissions))


class OnnxCrfTokenClassifier(OnnxTokenClassifier):
    """An exported CRF head: ONNX emissions, the project's Viterbi over them."""

    def __init__(self, graph: Path, config, crf: CRF, threads: int | None = None):
        super().__init__(graph, config, threads)
        self.crf = crf.eval()

    def decode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> list[list[int]]:
        """Viterbi label ids of the tokens between [CLS] and [SEP] of each row."""
        emissions = self(input_ids=input_ids, attention_mask=attention_mask).logits
        return decode_between_specials(self.crf, emissions, attention_mask.cpu())


def check_export_folder(folder: Path, crf: bool | None = None) -> None:
    """Raise ``ModelFolderError`` naming every missing piece of an export folder
    (``crf``: whether the CRF weights are needed; None: only what every folder holds)."""
    files = {p.name for p in folder.iterdir()}
    missing = [what for what, names in (
        (ONNX_GRAPH, (ONNX_GRAPH,)),
        ("config.json", ("config.json",)),
        (f"tokenizer files ({', '.join(TOKENIZER_FILES)})", TOKENIZER_FILES),
        *([(CRF_WEIGHTS, (CRF_WEIGHTS,))] if crf else []),
    ) if not files.intersection(names)]
    if missing:
        raise ModelFolderError(f"{folder}: ONNX export folder missing {'; '.join(missing)}")


def load_onnx_classifier(folder: Path | str, threads: int | None = None
                         ) -> OnnxTokenClassifier:
    """The export folder's model on ONNX Runtime (a CRF head: ``OnnxCrfTokenClassifier``)."""
    folder = Path(folder)
    check_export_folder(folder)
    config = AutoConfig.from_pretrained(str(folder), local_files_only=True)
    if not has_crf_head(config):
        return OnnxTokenClassifier(folder / ONNX_GRAPH, config, threads)
    check_export_folder(folder, crf=True)
    crf = CRF([config.id2label[i] for i in range(config.num_labels)])
    crf.load_state_dict(load_file(folder / CRF_WEIGHTS))
    return OnnxCrfTokenClassifier(folder / ONNX_GRAPH, config, crf, threads)
