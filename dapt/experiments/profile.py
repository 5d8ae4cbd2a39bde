"""The real-data CPU profile, dotted ``key=value`` overrides and the one way to call DVC.

    python -m dapt.experiments.profile [--data DIR]   # the profile as `dvc exp run` flags

``params_real_cpu.yaml`` (beside ``params.yaml``) maps dotted params keys to values, with
``{data}`` (the data folder) and ``{repo}`` (this repository) made absolute on reading.
"""

from __future__ import annotations

import argparse
import copy
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "params_real_cpu.yaml"
REAL_DATA = REPO.parent / "shared" / "data" / "tcm_ner"


def profile_overrides(data: Path, profile: Path = PROFILE, repo: Path = REPO) -> dict[str, str]:
    """The profile's dotted overrides with ``{data}``/``{repo}`` made absolute."""
    raw = yaml.safe_load(profile.read_text(encoding="utf-8"))
    return {k: str(v).format(data=data.resolve(), repo=repo.resolve()) for k, v in raw.items()}


def set_flags(overrides: Mapping[str, str]) -> list[str]:
    """``dvc exp run`` flags: ``-S key=value`` for each override."""
    return [arg for k, v in overrides.items() for arg in ("-S", f"{k}={v}")]


def _parent(params: dict, dotted: str) -> tuple[dict, str]:
    """(the section holding ``dotted``'s last key, that key); every parent must exist."""
    *parents, leaf = dotted.split(".")
    for key in parents:
        params = params[key]
    return params, leaf


def with_overrides(params: dict, overrides: Mapping[str, Any]) -> dict:
    """A copy of params with dotted-key overrides, values as given, e.g.
    ``{"tokenize.max_len": 32}``."""
    params = copy.deepcopy(params)
    for dotted, value in overrides.items():
        node, leaf = _parent(params, dotted)
        node[leaf] = value
    return params


def apply_overrides(params: dict, overrides: Mapping[str, str]) -> dict:
    """``params`` with dotted ``key=value`` overrides (values parsed as YAML) applied in place;
    an unknown key is an error."""
    for dotted, value in overrides.items():
        node, leaf = _parent(params, dotted)
        if leaf not in node:
            raise SystemExit(f"unknown param {dotted!r}")
        node[leaf] = yaml.safe_load(value)
    return params


def write_clone_params(clone: Path, overrides: dict[str, str]) -> None:
    """The committed params.yaml of the clone with dotted ``key=value`` overrides applied."""
    subprocess.run(["git", "checkout", "--", "params.yaml"], cwd=clone, check=True)
    params = yaml.safe_load((clone / "params.yaml").read_text(encoding="utf-8"))
    apply_overrides(params, overrides)
    (clone / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True,
                                                      sort_keys=False), encoding="utf-8")


def dvc_env(**extra: str) -> dict[str, str]:
    """Environment of a dvc call: this interpreter's bin folder first on PATH,
    ``DVC_NO_ANALYTICS=1``, ``HOME``, and of the caller's environment only the thread count
    (``OMP_NUM_THREADS``) and the project's switches (``DAPT_*``); then ``extra``."""
    passed = {k: v for k, v in os.environ.items()
              if k in ("HOME", "OMP_NUM_THREADS") or k.startswith("DAPT_")}
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', os.defpath)}"
    return {**passed, "PATH": path, "DVC_NO_ANALYTICS": "1", **extra}


def dvc(cwd: Path, *args: str, env: Mapping[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    """``python -m dvc args`` in ``cwd`` with ``dvc_env(**env)``, output captured as text;
    the caller checks ``returncode``."""
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd,
                          env=dvc_env(**(env or {})), capture_output=True, text=True)


def checked(proc: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
    """``proc``, or exit naming ``what`` after the tail of its output when it failed."""
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"{what} failed")
    return proc


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REAL_DATA,
                        help="folder with labeled/ and unlabeled/ (%(default)s)")
    args = parser.parse_args(argv)
    print(" ".join(shlex.quote(f) for f in set_flags(profile_overrides(args.data))))


if __name__ == "__main__":
    main()
