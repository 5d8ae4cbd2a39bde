"""Model cards (``README.md``) for the saved model folders, in the Hugging Face convention.

A card is YAML front matter (``language``, ``library_name``, ``pipeline_tag``, ``tags``,
``base_model`` when there is one, ``metrics``/``model-index``, and a ``dapt`` block with the
masking params, training params, input digests and numerical environment that made the
model) followed by a short
Markdown body: what the model is, how it was made, its scores and how to load it. So a
folder pushed to a hub or a DVC remote explains itself. Cards are deterministic: no dates,
no absolute paths of the machine (local ``base_model`` folders are shown by name).

The masking record comes from ``data/masked/masking.json`` (written by mask-annotate); the
NER card repeats the pretrained card's ``dapt`` block, read back with ``read_card_meta``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from dapt.data.atomic import write_text
from dapt.params import SCRATCH

CARD = "README.md"
TAGS = ["bert", "chinese", "domain-adaptive-pretraining", "entity-masking",
        "traditional-chinese-medicine"]
DATASET = ("Chinese traditional-medicine drug-instruction leaflets (brat standoff, "
           "13 entity types); not a hub dataset: the data folders are named in params.yaml")


def digest(paths: Iterable[Path | str]) -> dict[str, str]:
    """``{name: sha256 of the file's bytes (first 16 hex)}``; a folder hashes its files
    (relative names and bytes, sorted)."""
    out = {}
    for path in map(Path, paths):
        h = hashlib.sha256()
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
            h.update(f.read_bytes())
        out[path.name] = h.hexdigest()[:16]
    return out


def is_hub_id(base_model: str) -> bool:
    """Neither ``scratch`` nor an existing local folder."""
    return base_model != SCRATCH and not Path(base_model).expanduser().exists()


def shown_model(base_model: str) -> str:
    """A hub id or ``scratch`` as is; a local folder by its name only (cards must not
    depend on the machine's paths)."""
    if is_hub_id(base_model) or base_model == SCRATCH:
        return base_model
    return f"local folder {Path(base_model).name}"


def card_meta(text: str) -> dict[str, Any]:
    """The YAML front matter of a card's text ({} when it has none)."""
    if not text.startswith("---\n"):
        return {}
    return yaml.safe_load(text[4:].split("\n---\n", 1)[0]) or {}


def read_card_meta(folder: Path | str) -> dict[str, Any]:
    """The front matter of ``folder/README.md`` ({} when there is no card)."""
    path = Path(folder) / CARD
    return card_meta(path.read_text(encoding="utf-8")) if path.is_file() else {}


def render(meta: Mapping[str, Any], body: list[str]) -> str:
    header = yaml.safe_dump(dict(meta), allow_unicode=True, sort_keys=False)
    return f"---\n{header}---\n\n" + "\n".join(body).rstrip() + "\n"


def _hub_base(base_model: str) -> dict[str, str]:
    """``base_model`` metadata only for a hub id (the hub validates it)."""
    return {"base_model": base_model} if is_hub_id(base_model) else {}


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


PAIR_TASK_NAMES = {"sop": "sentence-order prediction (SOP)",
                   "nsp": "next-sentence prediction (NSP)"}


def pretrained_card(params: Mapping[str, Any], masking: Mapping[str, Any],
                    inputs: Mapping[str, str], metrics: Mapping[str, Any]) -> str:
    """Card of ``models/pretrained``: masked-LM continued pretraining."""
    base = params["base_model"]
    record = {"masking": dict(masking), "pretrain": dict(params["pretrain"]),
              "seed": params["seed"], "base_model": shown_model(base),
              "scratch": dict(params["scratch"]) if base == SCRATCH else None,
              "inputs_sha256": dict(inputs), "numerics": metrics.get("numerics")}
    evals = metrics["eval"]
    meta = {"language": ["zh"], "library_name": "transformers", "pipeline_tag": "fill-mask",
            "tags": TAGS, **_hub_base(base), "datasets_note": DATASET,
            "metrics": ["perplexity", "accuracy"], "dapt": record}
    strategy = masking.get("strategy", "?")
    copies = (f"{masking.get('mask_dupe')} static masked copies"
              if masking.get("mask_mode", "static") == "static"
              else "fresh masks every epoch (dynamic)")
    task = masking.get("pair_task", "none")
    pairs = "" if task == "none" else (
        f", plus {PAIR_TASK_NAMES.get(task, task)} on sentence pairs (`pair_weight` "
        f"{params['pretrain'].get('pair_weight')})")
    body = [
        f"# Domain-adapted masked LM ({strategy} masking)", "",
        f"Continued masked-LM pretraining of `{shown_model(base)}` on domain text with "
        f"**{strategy}** masking (`mask_prob` {masking.get('mask_prob')}, `mask_budget` "
        f"{masking.get('mask_budget')}, {copies}; measured mask rate "
        f"{_fmt(masking.get('mask_rate'))}){pairs}. Made by the `pretrain` stage "
        "of this DVC project; the `dapt` block above holds every param and the digests of "
        "the masked data and tokenizer it read.", "",
        "| held-out MLM metric | value |", "|---|---|",
        *(f"| {k} | {_fmt(v)} |" for k, v in evals.items() if v is not None), "",
        "## Load", "",
        "```python",
        "from transformers import AutoModelForMaskedLM, AutoTokenizer",
        "model = AutoModelForMaskedLM.from_pretrained(\"models/pretrained\")",
        "tokenizer = AutoTokenizer.from_pretrained(\"models/pretrained\")",
        "```", "",
        "Fine-tune it for NER with the project's `finetune-ner` stage.",
    ]
    return render(meta, body)


def ner_card(params: Mapping[str, Any], labels: list[str], pretrained_meta: Mapping[str, Any],
             inputs: Mapping[str, str], dev: Mapping[str, Any],
             numerics: Mapping[str, Any] | None = None) -> str:
    """Card of ``models/ner``: token classification fine-tuned from the pretrained model
    (or from ``base_model`` with ``finetune.init: base``); ``numerics``: the numerical
    environment of the run (``dapt.numerics.describe``)."""
    cfg = params["finetune"]
    from_pretrained = cfg["init"] == "pretrained"
    start = "models/pretrained" if from_pretrained else shown_model(params["base_model"])
    record = {"init": cfg["init"], "start": start, "finetune": dict(cfg), "seed": params["seed"],
              "max_len": params["tokenize"]["max_len"], "labels": list(labels),
              "pretraining": (pretrained_meta.get("dapt") if from_pretrained else None),
              "inputs_sha256": dict(inputs), "numerics": dict(numerics or {}) or None}
    meta = {
        "language": ["zh"], "library_name": "transformers",
        "pipeline_tag": "token-classification", "tags": [*TAGS, "ner"],
        **_hub_base(params["base_model"]), "datasets_note": DATASET,
        "metrics": ["f1", "precision", "recall"],
        "model-index": [{"name": "dapt-ner", "results": [{
            "task": {"type": "token-classification", "name": "Named entity recognition"},
            "dataset": {"name": "TCM drug-instruction leaflets (dev split)", "type": "local"},
            "metrics": [{"type": k, "value": float(dev[k]), "name": f"dev strict span {k}"}
                        for k in ("f1", "precision", "recall")]}]}],
        "dapt": record}
    head = cfg["head"]
    if head == "softmax":
        load = ["```python", "from transformers import pipeline",
                "ner = pipeline(\"token-classification\", model=\"models/ner\", "
                "aggregation_strategy=\"simple\")", "```", "",
                "For document character offsets with long-document windows use the "
                "project's command: `python -m dapt.predict --model models/ner "
                "--input docs/ --output tagged/`."]
    else:
        load = ["```bash", "python -m dapt.predict --model models/ner --input docs/ "
                "--output tagged/", "```", "",
                f"The `{head}` head (Viterbi over BIO-constrained transitions) is the "
                "project's own class: load it with `dapt.ner.heads.load_token_classifier`, "
                "not `pipeline(\"token-classification\")`."]
    masking = (pretrained_meta.get("dapt") or {}).get("masking", {}) if from_pretrained else {}
    made = (f"from `models/pretrained` ({masking.get('strategy', '?')} masking, `mask_prob` "
            f"{masking.get('mask_prob')})" if from_pretrained
            else f"directly from `{start}` (no domain pretraining)")
    body = [
        f"# Chinese TCM NER ({head} head)", "",
        f"Token classifier for {len({lab[2:] for lab in labels if lab != 'O'})} entity types "
        f"(BIO labels), fine-tuned {made}; best epoch {dev.get('best_epoch')} by dev strict "
        "span F1. Test scores are in the project's `metrics/eval.json` (evaluate stage).", "",
        "| dev strict span | value |", "|---|---|",
        *(f"| {k} | {_fmt(dev[k])} |" for k in ("f1", "precision", "recall")), "",
        "## Load", "", *load,
    ]
    return render(meta, body)


def write_card(folder: Path | str, text: str) -> Path:
    """``folder/README.md``, written atomically."""
    path = Path(folder) / CARD
    write_text(path, text)
    return path
