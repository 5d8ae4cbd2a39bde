"""Vendor Vega, Vega-Lite and vega-embed for pages that need no network.

Writes ``vendor/vega/plots_template.html``: an HTML page template with one inlined JavaScript
bundle of vega, vega-lite and vega-embed (``vl_convert.javascript_bundle``, the bundle
Altair's ``save(..., inline=True)`` inlines) and a small render check. It serves two users:

* DVC: ``.dvc/config`` sets ``plots.html_template`` to it, so ``dvc plots show`` and
  ``dvc plots diff`` write pages that load nothing from a CDN. DVC fills ``{plot_divs}``
  and ``{refresh_tag}``; the template has no ``{scripts}``, where DVC would put its CDN tags.
* ``dapt.report_page``: the experiment page ``reports/<name>.html`` is the same template
  filled with the report's tables and charts.

The render check wraps ``vegaEmbed``: charts render as SVG, a chart that fails shows its
error in place, and once every chart has settled the page records the outcome of each on
``<html data-vega-status="...">`` (JSON: id, ok, number of drawn mark items, error), which
``dapt.browser_check`` reads in headless Chromium.

The output is a pure function of the pinned vl-convert-python release (no network, byte for
byte the same on every run). It is not needed at run time; to regenerate or check::

    .venv/bin/pip install vl-convert-python==1.9.0.post1   # or: pip install -e '.[vendor]'
    python scripts/vendor_vega.py            # rewrite vendor/vega/plots_template.html
    python scripts/vendor_vega.py --check    # exit 1 if the committed file differs

Versions and licences: ``vendor/vega/README.md`` (update it with the printed versions).
"""

from __future__ import annotations

import argparse
import re
import sys
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "vendor" / "vega" / "plots_template.html"
VL_CONVERT = "1.9.0.post1"  # the release whose bundle is vendored
VEGA_LITE = "5.21"  # DVC's plot templates are Vega-Lite v5 specs

RENDER_CHECK = """\
// Render check (scripts/vendor_vega.py): every vegaEmbed call draws SVG; a chart that fails
// shows its error in place; when all have settled, <html data-vega-status> holds the outcome.
(function () {
  const embed = window.vegaEmbed;
  const pending = [];
  const defaults = {renderer: "svg", actions: {export: true, source: true, compiled: false,
                                                editor: false}};
  window.vegaEmbed = function (el, spec, options) {
    const target = typeof el === "string" ? document.querySelector(el) : el;
    const id = target && target.id ? target.id : String(el);
    const run = embed(el, spec, Object.assign({}, defaults, options || {}));
    pending.push(run.then(
      function () {
        return {id: id, ok: true, marks: target.querySelectorAll("svg g.role-mark > *").length};
      },
      function (error) {
        if (target) {
          const note = document.createElement("pre");
          note.className = "vega-error";
          note.textContent = "chart failed: " + error;
          target.appendChild(note);
        }
        return {id: id, ok: false, marks: 0, error: String(error)};
      }));
    return run;
  };
  window.addEventListener("load", function () {
    Promise.all(pending).then(function (views) {
      document.documentElement.dataset.vegaStatus = JSON.stringify({views: views});
    });
  });
})();
"""

PAGE = """\
<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
{{refresh_tag}}
<title>DVC plots</title>
<!-- {versions}, bundled by vl-convert-python {vl_convert} (scripts/vendor_vega.py);
     licences: vendor/vega/README.md. No script on this page loads anything from a network. -->
<script type="text/javascript">
(function () {{  // the bundle's names stay local; it sets window.vega, vegaLite, vegaEmbed
{bundle}
}})();
</script>
<script type="text/javascript">
{render_check}</script>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
table {{ border-spacing: 15px; }}
body > div[id] {{ display: inline-block; vertical-align: top; margin: 0 1em 1em 0; }}
.vega-error {{ color: #b00020; white-space: pre-wrap; }}
</style>
</head>
<body>
{{plot_divs}}
</body>
</html>
"""


def versions(bundle: str) -> str:
    """``vega X, vega-lite Y, vega-embed Z`` of the installed vl-convert's ``bundle``."""
    import vl_convert

    lite = re.search(r'"(' + re.escape(VEGA_LITE) + r'\.\d+)"', bundle)
    return (f"vega {vl_convert.get_vega_version()}, vega-lite {lite[1] if lite else VEGA_LITE}, "
            f"vega-embed {vl_convert.get_vega_embed_version()}")


def template_text() -> str:
    """The template as the pinned vl-convert-python writes it."""
    try:
        import vl_convert
    except ImportError:
        sys.exit(f"needs vl-convert-python=={VL_CONVERT}: "
                 f"pip install vl-convert-python=={VL_CONVERT}")
    found = version("vl-convert-python")
    if found != VL_CONVERT:
        sys.exit(f"vl-convert-python {found} installed; the vendored bundle is {VL_CONVERT}")
    bundle = vl_convert.javascript_bundle(vl_version=VEGA_LITE).strip()
    for placeholder in ("{plot_divs}", "{scripts}", "{refresh_tag}", "</script"):
        if placeholder in bundle:  # DVC replaces placeholders anywhere in the template
            sys.exit(f"the bundle contains {placeholder!r}: it cannot be inlined as is")
    return PAGE.format(versions=versions(bundle), vl_convert=VL_CONVERT, bundle=bundle,
                       render_check=RENDER_CHECK)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed template instead of writing it")
    parser.add_argument("--out", type=Path, default=TEMPLATE, help="default: %(default)s")
    args = parser.parse_args()
    text = template_text()
    described = re.search(r"<!-- (.*?), bundled", text)[1]
    if args.check:
        same = args.out.is_file() and args.out.read_text(encoding="utf-8") == text
        print(f"{args.out}: {'up to date' if same else 'DIFFERS from vl-convert'} "
              f"({described})")
        sys.exit(0 if same else 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text):,} characters; {described})")


if __name__ == "__main__":
    main()
