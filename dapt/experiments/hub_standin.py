"""An offline stand-in for ``hfl/chinese-roberta-wwm-ext``: a folder laid out as the hub
serves it, with random weights.

``hub_checkpoint(root)`` writes ``root/hfl/chinese-roberta-wwm-ext/``: hfl's config.json,
the weights as a ``BertForPreTraining`` state dict in ``pytorch_model.bin`` only (``bert.*``,
the MLM head ``cls.predictions.*``, the NSP head ``cls.seq_relationship.*``; no
safetensors), a 21,128-line ``vocab.txt`` in the BERT-Chinese layout
(``dapt.data.chinese_vocab``) and the small tokenizer JSON files hfl ships (no
tokenizer.json). ``shape=None`` keeps hfl's own size (12 layers, hidden 768, 12 heads,
intermediate 3072: what the real-size benchmark trains); tests shrink it with ``TINY_SHAPE``.
The same code paths load it as load the real checkpoint, at the same size.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

HUB_ID = "hfl/chinese-roberta-wwm-ext"

# What hfl/chinese-roberta-wwm-ext ships besides its weights (config.json keys as published).
HFL_CONFIG: dict[str, Any] = {
    "architectures": ["BertForMaskedLM"], "attention_probs_dropout_prob": 0.1,
    "bos_token_id": 0, "directionality": "bidi", "eos_token_id": 2, "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1, "hidden_size": 768, "initializer_range": 0.02,
    "intermediate_size": 3072, "layer_norm_eps": 1e-12, "max_position_embeddings": 512,
    "model_type": "bert", "num_attention_heads": 12, "num_hidden_layers": 12, "output_past": True,
    "pad_token_id": 0, "pooler_fc_size": 768, "pooler_num_attention_heads": 12,
    "pooler_num_fc_layers": 3, "pooler_size_per_head": 128,
    "pooler_type": "first_token_transform", "type_vocab_size": 2, "vocab_size": 21128,
}
HFL_FILES: dict[str, Any] = {
    "special_tokens_map.json": {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                                "cls_token": "[CLS]", "mask_token": "[MASK]"},
    "tokenizer_config.json": {"init_inputs": []},
    "added_tokens.json": {},
}
# Depth and width of the tests' stand-in (everything else as hfl's).
TINY_SHAPE = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
              "intermediate_size": 64, "pooler_fc_size": 32}


def hub_checkpoint(root: Path, model_type: bool = True,
                   shape: Mapping[str, int] | None = TINY_SHAPE, seed: int = 0) -> Path:
    """Write the stand-in under ``root`` (hfl's config updated with ``shape``, None: hfl's own
    size; without ``model_type`` in config.json on request) and return its folder."""
    import torch
    from transformers import BertConfig, BertForPreTraining

    from dapt.data.chinese_vocab import HUB_SIZE, write_vocab

    folder = Path(root) / HUB_ID
    folder.mkdir(parents=True, exist_ok=True)
    config = {**HFL_CONFIG, **(shape or {})}
    torch.manual_seed(seed)
    model = BertForPreTraining(BertConfig(**config))
    torch.save({k: v.contiguous() for k, v in model.state_dict().items()},
               folder / "pytorch_model.bin")
    if not model_type:
        del config["model_type"]
    for name, content in {"config.json": config, **HFL_FILES}.items():
        (folder / name).write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    assert write_vocab(folder / "vocab.txt", HUB_SIZE) == HUB_SIZE
    return folder
