"""The repository layout contract: seven stage scripts, one library, honest dvc.yaml deps."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO

STAGE_SCRIPTS = {"split", "tokenization", "unit_tagger", "mask_annotate", "pretrain",
                 "finetune_ner", "evaluate"}
PIPELINE = {
    f"{prefix}{name}": stage
    for prefix, path in (("", "dvc.yaml"), ("general:", "general/dvc.yaml"))
    for name, stage in yaml.safe_load((REPO / path).read_text(encoding="utf-8"))["stages"].items()
}


def project_imports(module: str) -> set[str]:
    """Project files (not package ``__init__``) loaded by importing the stage ``module``,
    which must have the stage shape and configure no logging at import."""
    code = (f"import dataclasses, importlib, json, logging, sys; "
            f"s = importlib.import_module({module!r}); "
            "assert callable(s.run) and callable(s.main) and dataclasses.is_dataclass(s.Paths); "
            "assert not logging.getLogger().handlers, 'logging configured at import'; "
            "print(json.dumps(sorted(m.__file__ for n, m in sys.modules.items() "
            "if n.split('.')[0] in ('dapt', 'stages') and getattr(m, '__file__', None))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout
    files = {str(Path(f).resolve().relative_to(REPO)) for f in json.loads(out)}
    return {f for f in files if not f.endswith("__init__.py")}


def test_stages_folder_holds_exactly_the_stage_scripts():
    scripts = {p.stem for p in (REPO / "stages").glob("*.py")} - {"__init__"}
    assert scripts == STAGE_SCRIPTS


@pytest.mark.parametrize("name", sorted(PIPELINE))
def test_stage_shape_and_dvc_code_deps_are_exactly_the_modules_it_imports(name):
    stage = PIPELINE[name]
    module = stage["cmd"].split("python -m ", 1)[1].split()[0]
    code_deps = {d for d in stage["deps"] if d.split("/")[0] in ("dapt", "stages")}
    assert code_deps == project_imports(module)


def test_package_inits_hold_only_a_docstring():
    for init in [*REPO.glob("dapt/**/__init__.py"), REPO / "stages" / "__init__.py"]:
        body = ast.parse(init.read_text(encoding="utf-8")).body
        assert len(body) == 1 and isinstance(body[0], ast.Expr), init


def test_stage_script_runs_as_a_file_without_shadowing_the_standard_library():
    out = subprocess.run([sys.executable, "stages/tokenization.py", "--help"], cwd=REPO,
                         env={"PYTHONPATH": str(REPO)}, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "--split-dir" in out.stdout
