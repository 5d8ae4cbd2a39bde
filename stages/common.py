"""Helpers every stage shares: params, logging, deterministic JSON."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
from pathlib import Path
from typing import Any

import yaml

PARAMS_FILE = Path("params.yaml")


def load_params(path: Path | str = PARAMS_FILE) -> dict[str, Any]:
    """Read params.yaml (the single source of every knob)."""
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def stage_parser(doc: str | None) -> argparse.ArgumentParser:
    """Argument parser of a stage script: its docstring as ``--help`` text, and ``--params``."""
    parser = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default=str(PARAMS_FILE), help="params file (%(default)s)")
    return parser


def setup_logging(name: str) -> logging.Logger:
    """Readable one-line logs on stderr, shared format for all stages."""
    logging.basicConfig(
        level=os.environ.get("LOGLEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    return logging.getLogger(name)


def check_finite(obj: Any, where: str = "metrics") -> None:
    """Raise if a metrics structure holds NaN or inf: a failed run must fail loudly."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            check_finite(value, f"{where}.{key}")
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            check_finite(value, f"{where}[{i}]")
    elif isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError(f"non-finite value {obj} at {where}")


def write_json(path: Path | str, obj: Any) -> None:
    """Write JSON deterministically (sorted keys, UTF-8, trailing newline)."""
    check_finite(obj, str(path))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True)
    path.write_text(text + "\n", encoding="utf-8")

