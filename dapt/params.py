"""params.yaml, the one source of every knob: loading, validation and strict access.

``load_params`` checks the whole file against ``dapt.params_schema`` (every problem is
reported, each naming the file actually read, the dotted key, the value and the rule) and
returns a read-only ``Params`` mapping of the values as read. A missing key raises
``ParamError`` naming the dotted key and the file; there are no fallbacks in code. A plain
dict given to a stage's ``run`` (tests, notebooks) is wrapped by ``as_params`` unchecked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from dapt.params_schema import SCRATCH as SCRATCH  # re-exported for the stages
from dapt.params_schema import RuleError, schema_for

PARAMS_FILE = Path("params.yaml")


class YamlLoader(yaml.SafeLoader):
    """``SafeLoader`` that also reads exponents without a dot (``5e-05``, as DVC's ``-S``
    writes them; YAML 1.2) as floats, not strings."""


YamlLoader.add_implicit_resolver("tag:yaml.org,2002:float",
                                 re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
                                 list("-+.0123456789"))


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


def problems(data: dict[str, Any]) -> list[str]:
    """Every schema violation of a params mapping as ``key=value: rule`` (empty: valid)."""
    try:
        schema_for(data).model_validate(data)
    except ValidationError as exc:
        return [problem(e) for e in exc.errors()]
    return []


def problem(error: ErrorDetails) -> str:
    """One pydantic error as ``dotted.key=value: rule``."""
    key = ".".join(str(part) for part in error["loc"])
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, RuleError):
        return str(cause)
    if error["type"] == "missing":
        return f"{key}: missing"
    if error["type"] == "extra_forbidden":
        return f"{key}={error['input']!r}: unknown key"
    rule = error["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
    return f"{key}={error['input']!r}: {rule}"


def load_params(path: Path | str = PARAMS_FILE) -> Params:
    """Read and validate a params file; ``ParamError`` lists every problem."""
    path = Path(path)
    if not path.is_file():
        raise ParamError(f"{path}: params file not found")
    with open(path, encoding="utf-8") as f:
        data = yaml.load(f, Loader=YamlLoader)
    if not isinstance(data, Mapping):
        raise ParamError(f"{path}: expected a YAML mapping of params")
    found = problems(data)
    if found:
        raise ParamError("\n".join(f"{path}: {p}" for p in found))
    return Params(data, str(path))
