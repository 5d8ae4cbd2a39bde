"""The experiment page of an ablation report: ``reports/<name>.html``, one file, no network.

``dapt.report`` writes it beside the Markdown from the same objects: the table cells and
sentences of :class:`dapt.report.ReportTables` (the Markdown's numbers, as text) and the runs
of each :class:`dapt.report.Setting` (the charts' numbers). The page is
``vendor/vega/plots_template.html`` (vega, vega-lite and vega-embed inlined, see
``scripts/vendor_vega.py``) with ``{plot_divs}`` filled by:

* the settings table (mean ± std, mask rates, paired and Welch intervals, reference rows)
  and its notes;
* test F1 per setting: mean ± std, every seed as a point, reference rows as dashed lines
  (tooltips; drag or scroll on the chart to pan and zoom F1);
* per-type test F1 (mean over seeds) as a heat map, and its table;
* dev against test F1, one point per seed (click a legend entry to pick a setting);
* the comparisons in words and the hand-written notes.
"""

from __future__ import annotations

import html
import json
import re
import statistics
from pathlib import Path

from dapt.report import ReportTables, Setting, label_of, reference_scores

TEMPLATE = Path(__file__).resolve().parents[1] / "vendor" / "vega" / "plots_template.html"
SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"  # an identifier, never fetched
TEMPLATE_TITLE = "<title>DVC plots</title>"
STYLE = """<style>
.report { max-width: 1500px; }
.report table { border-collapse: collapse; border-spacing: 0; font-size: 13px; }
.report th, .report td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; }
.report th { background: #f3f3f3; }
.report td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.report .notes { white-space: pre-wrap; font-size: 13px; max-width: 110ch; }
.report li { margin-bottom: 0.3em; font-size: 14px; }
.report .wide { overflow-x: auto; }
.report .chart { margin: 0.5em 0 1.5em 0; }
</style>"""
NUMBER = re.compile(r"^[+\-–]?[\d.]")
NUM_CLASS = ' class="num"'
SEQUENCE_SCHEME = "blues"


def inline_markdown(text: str) -> str:
    """HTML of a cell or sentence: escaped, with ``**bold**`` and ``\\`code\\``` kept."""
    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)


def html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{inline_markdown(h)}</th>" for h in header)
    body = "\n".join("<tr>" + "".join(
        f"<td{NUM_CLASS if NUMBER.match(cell) else ''}>{inline_markdown(cell)}</td>"
        for cell in row) + "</tr>" for row in rows)
    return (f'<div class="wide"><table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n'
            "</tbody>\n</table></div>")


def chart(chart_id: str, spec: dict) -> str:
    """A div that vega-embed fills with ``spec`` (the JSON cannot close the script)."""
    text = json.dumps({"$schema": SCHEMA, **spec}, ensure_ascii=False).replace("</", "<\\/")
    return (f'<div class="chart" id="{chart_id}"></div>\n<script type="text/javascript">\n'
            f'vegaEmbed("#{chart_id}", {text});\n</script>')


def seed_points(settings: list[Setting], varying: list[str]) -> list[dict]:
    """One record per run: setting label, seed, experiment name, test and dev F1."""
    return [{"setting": label_of(s, varying), "seed": seed, "run": run.name, "test F1": run.f1,
             "dev F1": run.dev_f1} for s in settings for seed, run in sorted(s.runs.items())]


def f1_spec(settings: list[Setting], varying: list[str], reference: dict | None) -> dict:
    """Test F1 per setting: mean ± std bars, per-seed points, reference means as lines."""
    labels = [label_of(s, varying) for s in settings]
    summary = []
    for label, s in zip(labels, settings):
        f1s = [r.f1 for r in s.runs.values()]
        mean, std = statistics.mean(f1s), statistics.stdev(f1s) if len(f1s) > 1 else 0.0
        summary.append({"setting": label, "mean": mean, "std": std, "low": mean - std,
                        "high": mean + std, "seeds": len(f1s)})
    refs = [{"reference": f"{name} (no pretraining)", "mean": statistics.mean(f1s),
             "seeds": len(f1s)} for name, f1s in reference_scores(reference or {}).items()]
    x = {"field": "setting", "type": "nominal", "sort": labels, "title": None,
         "axis": {"labelAngle": -35, "labelLimit": 240}}
    y = {"type": "quantitative", "scale": {"zero": False}, "title": "test strict F1"}
    layers = [
        {"data": {"values": summary}, "mark": {"type": "rule", "strokeWidth": 2},
         "encoding": {"x": x, "y": {**y, "field": "low"}, "y2": {"field": "high"}}},
        {"data": {"values": summary}, "mark": {"type": "point", "filled": True, "size": 90},
         "encoding": {"x": x, "y": {**y, "field": "mean"}, "tooltip": [
             {"field": "setting"}, {"field": "mean", "format": ".4f"},
             {"field": "std", "format": ".4f"}, {"field": "seeds"}]}},
        {"data": {"values": seed_points(settings, varying)},
         "mark": {"type": "circle", "color": "#777", "size": 35, "opacity": 0.8},
         "params": [{"name": "zoom", "select": "interval", "bind": "scales",
                     "encodings": ["y"]}],
         "encoding": {"x": x, "y": {**y, "field": "test F1"}, "tooltip": [
             {"field": "setting"}, {"field": "seed"}, {"field": "run"},
             {"field": "test F1", "format": ".4f"}]}},
    ]
    if refs:
        layers.append(
            {"data": {"values": refs}, "mark": {"type": "rule", "strokeDash": [6, 4]},
             "encoding": {"y": {**y, "field": "mean"},
                          "color": {"field": "reference", "type": "nominal",
                                    "scale": {"scheme": "dark2"},
                                    "legend": {"orient": "bottom", "title": None}},
                          "tooltip": [{"field": "reference"},
                                      {"field": "mean", "format": ".4f"}, {"field": "seeds"}]}})
    return {"title": "Test F1 per setting: mean ± std over seeds (grey dots: single seeds)",
            "width": max(360, 55 * len(settings)), "height": 320, "layer": layers}


def per_type_spec(settings: list[Setting], varying: list[str], types: list[str]) -> dict:
    """Heat map of mean test F1 per (setting, entity type)."""
    values = [{"setting": label_of(s, varying), "type": t,
               "F1": statistics.mean(r.per_type.get(t, 0.0) for r in s.runs.values())}
              for s in settings for t in types]
    encoding = {"x": {"field": "type", "type": "nominal", "sort": types, "title": None,
                      "axis": {"labelAngle": -35}},
                "y": {"field": "setting", "type": "nominal",
                      "sort": [label_of(s, varying) for s in settings], "title": None}}
    return {"title": "Per-type test F1 (mean over seeds; types by support)",
            "data": {"values": values}, "encoding": encoding,
            "width": max(300, 60 * len(types)), "height": max(120, 26 * len(settings)),
            "layer": [
                {"mark": "rect", "encoding": {
                    "color": {"field": "F1", "type": "quantitative",
                              "scale": {"scheme": SEQUENCE_SCHEME}},
                    "tooltip": [{"field": "setting"}, {"field": "type"},
                                {"field": "F1", "format": ".4f"}]}},
                {"mark": {"type": "text", "fontSize": 10},
                 "encoding": {"text": {"field": "F1", "format": ".3f"},
                              "color": {"condition": {"test": "datum.F1 > 0.6",
                                                      "value": "white"}, "value": "black"}}}]}


def dev_test_spec(settings: list[Setting], varying: list[str], reference: dict | None) -> dict:
    """Dev F1 (what picks a setting) against test F1, one point per seed."""
    points = [p for p in seed_points(settings, varying) if p["dev F1"] is not None]
    test = reference_scores(reference or {})
    refs = [{"reference": f"{name} (no pretraining)", "dev F1": statistics.mean(dev),
             "test F1": statistics.mean(test[name])}
            for name, dev in reference_scores(reference or {}, "dev").items() if name in test]
    axis = {"type": "quantitative", "scale": {"zero": False}}
    pick = {"param": "pick", "empty": True}
    layers = [{"data": {"values": points},
               "mark": {"type": "point", "filled": True, "size": 70},
               "params": [{"name": "pick", "select": {"type": "point", "fields": ["setting"]},
                           "bind": "legend"}],
               "encoding": {"x": {**axis, "field": "dev F1"}, "y": {**axis, "field": "test F1"},
                            "color": {"field": "setting", "type": "nominal",
                                      "scale": {"scheme": "tableau20"},
                                      "sort": [label_of(s, varying) for s in settings]},
                            "opacity": {"condition": {**pick, "value": 0.9}, "value": 0.1},
                            "tooltip": [{"field": "setting"}, {"field": "seed"},
                                        {"field": "run"}, {"field": "dev F1", "format": ".4f"},
                                        {"field": "test F1", "format": ".4f"}]}}]
    if refs:
        layers.append({"data": {"values": refs},
                       "mark": {"type": "point", "shape": "cross", "size": 160, "filled": True,
                                "color": "black"},
                       "encoding": {"x": {**axis, "field": "dev F1"},
                                    "y": {**axis, "field": "test F1"},
                                    "tooltip": [{"field": "reference"},
                                                {"field": "dev F1", "format": ".4f"},
                                                {"field": "test F1", "format": ".4f"}]}})
    return {"title": "Dev F1 (kept epoch) against test F1 per seed; crosses: reference means",
            "width": 420, "height": 320, "layer": layers}


def page(tables: ReportTables, settings: list[Setting], varying: list[str], types: list[str],
         title: str, reference: dict | None = None, notes_text: str | None = None) -> str:
    """The whole page: the vendored template with the report as its content."""
    template = TEMPLATE.read_text(encoding="utf-8")
    if TEMPLATE_TITLE not in template or "{plot_divs}" not in template:
        raise ValueError(f"{TEMPLATE} is not the vendored plots template")
    parts = [STYLE, '<div class="report">', f"<h1>Ablation report: {html.escape(title)}</h1>",
             f"<p>Written by <code>python -m dapt.report</code> with <code>{html.escape(title)}"
             f".md</code>, from the same runs. Every chart works offline: hover for values."
             "</p>",
             "<h2>Settings</h2>", html_table(tables.header, tables.rows),
             *(f"<p>{inline_markdown(note)}</p>" for note in tables.notes),
             "<h2>Test F1 per setting</h2>", chart("test-f1", f1_spec(settings, varying,
                                                                        reference))]
    if any(r.dev_f1 is not None for s in settings for r in s.runs.values()):
        parts += ["<h2>Dev against test F1</h2>",
                  chart("dev-test", dev_test_spec(settings, varying, reference))]
    parts += ["<h2>Per-type test F1</h2>",
              chart("per-type", per_type_spec(settings, varying, types)),
              html_table(tables.per_type_header, tables.per_type_rows)]
    if tables.sentences:
        parts += ["<h2>Comparisons</h2>", "<ul>",
                  *(f"<li>{inline_markdown(s)}</li>" for s in tables.sentences), "</ul>"]
    if notes_text:
        parts += ["<h2>What the numbers show, and what they do not</h2>",
                  f'<div class="notes">{inline_markdown(notes_text.strip())}</div>']
    parts.append("</div>")
    filled = template.replace(TEMPLATE_TITLE, f"<title>{html.escape(title)}</title>", 1)
    filled = filled.replace("{refresh_tag}", "", 1)
    return filled.replace("{plot_divs}", "\n".join(parts), 1)
