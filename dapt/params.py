"""params.yaml, the one source of every knob: loading and strict access.

``load_params`` returns a read-only ``Params`` mapping. A missing key raises ``ParamError``
naming the dotted key and the file actually read; there are no fallbacks in code.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

PARAMS_FILE = Path("params.yaml")
SCRATCH = "scratch"  # base_model value: a new BERT from the ``scratch`` params


class ParamError(ValueError):
    """A params file lacks a key, or holds a value a stage cannot use."""


class Params(Mapping[str, Any]):
    """One section of a params file; sub-sections are ``Params`` too."""

    def __init__(self, data: Mapping[str, Any], file: str = str(PARAMS_FILE), prefix: str = ""):
        self._data = dict(data)
        self.file = file
        self.prefix = prefix

    def __getitem__(self, key: str) -> Any:
        if key not in self._data:
            raise ParamError(f"{self.file}: missing key '{self.prefix}{key}'")
        value = self._data[key]
        if isinstance(value, Mapping):
            return Params(value, self.file, f"{self.prefix}{key}.")
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Params({self.file}:{self.prefix or '<root>'}, {self._data!r})"

    def to_dict(self) -> dict[str, Any]:
        """A plain (nested) dict copy, for JSON and logging."""
        return {k: (self[k].to_dict() if isinstance(self[k], Params) else self[k]) for k in self}

    def error(self, key: str, message: str) -> ParamError:
        """A ``ParamError`` about ``key`` of this section: file, dotted key, value, rule."""
        value = self._data.get(key)
        return ParamError(f"{self.file}: {self.prefix}{key}={value!r}: {message}")


def as_params(params: Mapping[str, Any], file: str = str(PARAMS_FILE)) -> Params:
    """``params`` as ``Params`` (a plain dict from a test or a caller is wrapped)."""
    return params if isinstance(params, Params) else Params(params, file)


def load_params(path: Path | str = PARAMS_FILE) -> Params:
    """Read a params file."""
    path = Path(path)
    if not path.is_file():
        raise ParamError(f"{path}: params file not found")
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    if not isinstance(data, Mapping):
        raise ParamError(f"{path}: expected a YAML mapping of params")
    return Params(data, str(path))
