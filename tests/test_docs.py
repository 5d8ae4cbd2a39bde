"""The README, docs/ and reports/README.md name only things that exist: relative links (and
their #anchors), `python -m` modules, `python path.py` scripts, make targets and `dapt-*`
console scripts."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path

import pytest

from tests.helpers import REPO

PAGES = sorted({REPO / "README.md", REPO / "reports" / "README.md",
                *(REPO / "docs").glob("*.md")})
LOCAL_PACKAGES = {"dapt", "stages", "bench", "scripts", "tests"}

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
INLINE_CODE = re.compile(r"`([^`]+)`")
PYTHON_M = re.compile(r"(?:python3?|torchrun)\b[^|\n]*?\s-m\s+([A-Za-z_][\w.]*)")
PYTHON_FILE = re.compile(r"\bpython3?\s+([\w./-]+\.py)\b")
MAKE = re.compile(r"(?:^|[\s;&(])make\s+([a-z][\w-]*)")
CONSOLE_SCRIPT = re.compile(r"(?<![\w/.-])(dapt-[a-z][\w-]*)")


def code(text: str) -> str:
    """The page's code: fenced blocks, 4-space indented lines and inline code spans, with
    shell comments dropped (they are prose)."""
    parts = [m.group(0) for m in FENCE.finditer(text)]
    lines = FENCE.sub("", text).splitlines()
    parts += [line for line in lines if line.startswith("    ")]
    prose = "\n".join(line for line in lines if not line.startswith("    "))
    parts += [span.replace("\n", " ") for span in INLINE_CODE.findall(prose)]
    return "\n".join(re.sub(r"\s#\s.*$", "", line) for part in parts
                     for line in part.splitlines())


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors of a markdown page."""
    seen: dict[str, int] = {}
    for line in FENCE.sub("", page.read_text(encoding="utf-8")).splitlines():
        heading = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            slug = re.sub(r"[^\w\- ]", "", heading.group(1).lower()).replace(" ", "-")
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            if count:
                seen[f"{slug}-{count}"] = 1
    return set(seen)


def module_exists(module: str) -> bool:
    """``dapt.x.y`` is ``dapt/x/y.py`` or a package folder; others must be installed."""
    top = module.split(".")[0]
    if top not in LOCAL_PACKAGES:
        return importlib.util.find_spec(top) is not None
    path = REPO.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def make_targets() -> set[str]:
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    return {name for line in re.findall(r"^([\w.-][\w. -]*):(?!=)", text, re.M)
            for name in line.split()}


def console_scripts() -> set[str]:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return set(pyproject["project"]["scripts"])


def named(pattern: re.Pattern, in_code: bool = True) -> list[tuple[str, str]]:
    """(page, match) for every match of ``pattern`` in the pages (in their code)."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in pattern.findall(code(text) if in_code else text):
            found.append((str(page.relative_to(REPO)), match))
    return found


def test_pages_exist():
    assert (REPO / "README.md") in PAGES and len(PAGES) > 2


def test_relative_links_resolve():
    broken = []
    for page_name, target in named(LINK, in_code=False):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        page = REPO / page_name
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{page_name}: {target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{page_name}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("pattern,exists,what", [
    (PYTHON_M, module_exists, "module"),
    (PYTHON_FILE, lambda path: (REPO / path).is_file(), "script"),
    (MAKE, lambda target: target in make_targets(), "make target"),
    (CONSOLE_SCRIPT, lambda name: name in console_scripts(), "[project.scripts] entry"),
], ids=["python-m", "python-file", "make", "console-scripts"])
def test_named_commands_exist(pattern, exists, what):
    missing = sorted({f"{page}: {name} (no such {what})" for page, name in named(pattern)
                      if not exists(name)})
    assert not missing, "\n".join(missing)


def test_the_checks_can_fail(tmp_path):
    assert not module_exists("dapt.no_such_module")
    assert "no-such-target" not in make_targets()
    assert "make repro" in code("    make repro    # a comment\n")
    assert anchors(REPO / "docs" / "params.md") >= {"params-are-validated"}
    page = tmp_path / "page.md"
    page.write_text("## Params (`params.yaml`)\n## A\n## A\n```\n# not a heading\n```\n")
    assert anchors(page) == {"params-paramsyaml", "a", "a-1"}
