"""Pages a person looks at work offline: the vendored plots template that ``dvc plots`` uses,
the experiment page of ``dapt.report``, and both rendered in headless Chromium with the
network cut (skipped where no Chromium is installed; ``.ci/run`` installs Debian's)."""

from __future__ import annotations

import configparser
import html
import re
import shlex
import subprocess
import sys

import pytest

from dapt.browser_check import (
    PageCheck,
    Request,
    check_page,
    find_chromium,
    network_requests,
    problems,
)
from dapt.report_page import TEMPLATE, chart
from tests.helpers import REPO, dvc, git

REAL_REPORT = REPO / "reports" / "real_tcm.md"
REAL_NOTES = REPO / "reports" / "real_tcm_notes.md"
EXTERNAL = re.compile(r"<(?:script|link|img|iframe)[^>]+(?:src|href)\s*=\s*[\"']?(?:https?:)?//",
                      re.IGNORECASE)
DECLARED = ("dvclive_pretrain_plots_metrics", "dvclive_finetune_plots_metrics",
            "plots_per_type_f1_json", "plots_type_confusion_json")


@pytest.fixture(scope="module")
def browser() -> str:
    found = find_chromium()
    if found is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium)")
    return found


def report_command() -> list[str]:
    """The ``python -m dapt.report`` command the real report's notes record."""
    text = REAL_NOTES.read_text(encoding="utf-8")
    block = re.search(r"python -m dapt\.report .*?(?<!\\)\n", text, re.DOTALL)
    assert block, f"{REAL_NOTES} names no dapt.report command"
    return shlex.split(block[0].replace("\\\n", " "))[1:]  # without "python"


def test_the_plots_template_loads_nothing_and_dvc_uses_it():
    template = TEMPLATE.read_text(encoding="utf-8")
    assert "{plot_divs}" in template and "{refresh_tag}" in template
    assert "{scripts}" not in template  # where DVC would put its CDN <script src> tags
    assert not EXTERNAL.search(template)
    assert "window.vegaEmbed=" in template  # the bundle, inlined
    config = configparser.ConfigParser()
    config.read(REPO / ".dvc" / "config")
    assert (REPO / ".dvc" / config["plots"]["html_template"]).resolve() == TEMPLATE
    described = re.search(r"<!-- vega (\S+), vega-lite (\S+), vega-embed (\S+), bundled by "
                          r"vl-convert-python (\S+) ", template)
    readme = (TEMPLATE.parent / "README.md").read_text(encoding="utf-8")
    for name, found in zip(("vega", "vega-lite", "vega-embed"), described.groups()):
        assert re.search(rf"\[{name}\]\(\S+\) \| {re.escape(found)} \| BSD-3-Clause", readme)
    assert f"| {described[4]} | BSD-3-Clause" in readme


def test_the_real_report_page_is_made_from_the_markdowns_numbers(tmp_path):
    args = report_command()
    out = args.index("--out") + 1
    args[out] = str(tmp_path / REAL_REPORT.name)
    args[args.index("--json") + 1] = str(tmp_path / "real_tcm.json")
    subprocess.run([sys.executable, *args], cwd=REPO, check=True, capture_output=True)
    markdown = (tmp_path / REAL_REPORT.name).read_text(encoding="utf-8")
    page = (tmp_path / REAL_REPORT.name).with_suffix(".html").read_text(encoding="utf-8")
    assert markdown == REAL_REPORT.read_text(encoding="utf-8")
    assert page == REAL_REPORT.with_suffix(".html").read_text(encoding="utf-8"), \
        "reports/real_tcm.html is stale: rerun the command in reports/real_tcm_notes.md"
    cells = {c.strip() for line in markdown.split("\n\n## ")[0].splitlines()
             if line.startswith("| ") for c in line.strip("|").split(" | ")}
    shown = set(re.findall(r"<t[dh](?: [^>]*)?>(.*?)</t[dh]>", page))
    assert {html.escape(c, quote=False) for c in cells if "**" not in c} <= shown
    for sentence in re.findall(r"^\* (.+)$", markdown, re.MULTILINE):
        assert f"<li>{html.escape(sentence, quote=False)}</li>" in page
    assert not EXTERNAL.search(page)


def test_a_chart_spec_cannot_close_its_script():
    block = chart("x", {"title": "</script><script>alert(1)</script>", "mark": "point"})
    assert block.count("</script>") == 1 and "<\\/script>" in block


def test_requests_are_told_apart_by_who_sent_them():
    netlog = {"constants": {"logEventTypes": {"URL_REQUEST_START_JOB": 1, "OTHER": 2}},
              "events": [
                  {"type": 1, "source": {"id": 7}, "params": {
                      "url": "https://cdn.example/vega.js", "network_isolation_key": "file://"}},
                  {"type": 1, "source": {"id": 7}, "params": {"net_error": -130}},
                  {"type": 1, "source": {"id": 8}, "params": {
                      "url": "https://update.example/", "network_isolation_key": "null null"}},
                  {"type": 1, "source": {"id": 9}, "params": {"url": "file:///tmp/a.html"}}]}
    found = network_requests(netlog)
    assert found == [Request("https://cdn.example/vega.js", True, -130),
                     Request("https://update.example/", False, None)]
    said = problems(PageCheck(views=[{"id": "a", "ok": True, "marks": 0}], requests=found))
    assert said == ["chart a drew no marks", "the page requested https://cdn.example/vega.js",
                    "the browser reached https://update.example/"]


def test_dvc_plots_diff_of_two_demo_results_renders_offline(browser, tmp_path):
    revs = git(REPO, "log", "--format=%h", "-n", "2", "--", "dvclive").split()
    if len(revs) < 2:
        pytest.skip("fewer than two revisions of dvclive/ in this clone (shallow?)")
    dvc(REPO, "plots", "diff", *reversed(revs), "-o", str(tmp_path / "plots"))
    page = tmp_path / "plots" / "index.html"
    text = page.read_text(encoding="utf-8")
    assert not EXTERNAL.search(text)
    check = check_page(page, browser)
    assert problems(check, min_views=text.count("vegaEmbed('#")) == []
    ids = [view["id"] for view in check.views]
    for declared in DECLARED:
        assert any(i.startswith(declared) for i in ids), (declared, ids)


def test_the_real_report_page_renders_offline(browser):
    check = check_page(REAL_REPORT.with_suffix(".html"), browser)
    assert problems(check, min_views=3) == []
    assert [view["id"] for view in check.views] == ["test-f1", "dev-test", "per-type"]


def test_the_check_sees_a_broken_chart_and_a_page_that_calls_out(browser, tmp_path):
    broken = chart("broken", {"mark": "point", "data": {"values": [{"a": 1}]},
                              "encoding": {"x": {"field": "a", "type": "no-such-type"}}})
    empty = chart("empty", {"mark": "point", "data": {"values": []},
                            "encoding": {"x": {"field": "a", "type": "quantitative"}}})
    cdn = '<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>'
    page = tmp_path / "bad.html"
    page.write_text(TEMPLATE.read_text(encoding="utf-8").replace(
        "{plot_divs}", "\n".join([cdn, broken, empty])), encoding="utf-8")
    said = problems(check_page(page, browser, budget_ms=5000))
    assert any(p.startswith("chart broken failed") for p in said), said
    assert "chart empty drew no marks" in said
    assert "the page requested https://cdn.jsdelivr.net/npm/vega@5" in said
    assert not any(p.startswith("the browser reached") for p in said), said
