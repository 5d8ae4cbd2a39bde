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


ENTRY_POINTS = {"Paths", "run", "main"}


def test_stage_scripts_are_thin():
    """Outside ``Paths``, ``run``, ``main``, imports, the logger and the ``__main__`` guard a
    stage script holds at most 15 lines: its logic lives in ``dapt``."""
    for script in sorted((REPO / "stages").glob("*.py")):
        if script.stem == "__init__":
            continue
        tree = ast.parse(script.read_text(encoding="utf-8"))
        other = 0
        for node in tree.body[1:]:  # after the docstring
            name = getattr(node, "name", None)
            if (name in ENTRY_POINTS or isinstance(node, ast.Import | ast.ImportFrom | ast.If)
                    or (isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "log")):
                continue
            other += node.end_lineno - node.lineno + 1
        assert other <= 15, f"{script.name}: {other} lines outside Paths/run/main"


def test_tests_use_only_the_stage_entry_points():
    """Tests reach a stage only through ``run``, ``main`` and ``Paths``."""
    for test in sorted((REPO / "tests").glob("*.py")):
        tree = ast.parse(test.read_text(encoding="utf-8"))
        stage_aliases = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and (
                    node.module == "stages" or node.module.startswith("stages.")):
                names = {a.name for a in node.names}
                if node.module == "stages":
                    stage_aliases |= {a.asname or a.name for a in node.names}
                else:
                    assert names <= ENTRY_POINTS, f"{test.name}: imports {names} from {node.module}"
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in stage_aliases):
                assert node.attr in ENTRY_POINTS, f"{test.name}: uses {node.value.id}.{node.attr}"
