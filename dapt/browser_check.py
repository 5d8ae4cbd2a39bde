"""Open a local HTML page in headless Chromium with the network cut, as a person would see it.

The browser gets a dead proxy (``127.0.0.1:9``) and a host resolver that resolves nothing,
so no request can leave the machine, and it logs every request it starts (Chromium's NetLog).
A page made from ``vendor/vega/plots_template.html`` (``dvc plots``, ``dapt.report_page``)
records on ``<html data-vega-status>`` whether each of its Vega charts rendered and how many
mark items it drew; ``--dump-dom`` returns that attribute after the page settled.

:func:`check_page` returns the outcome; :func:`problems` lists what is wrong with it (a chart
that failed or drew nothing, a request the page tried to send, a request of the browser's own
that did not fail before leaving). ``--screenshot`` also writes a PNG of the page.

    python -m dapt.browser_check dvc_plots/index.html --screenshot plots.png

Chromium: ``$DAPT_CHROMIUM``, else the first of ``chromium``, ``chromium-browser``,
``google-chrome`` on PATH (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
STATUS = re.compile(r'<html[^>]*\sdata-vega-status="([^"]*)"')
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:", "chrome:")
# No network: every host resolves to nothing and every request goes to a closed local port.
OFFLINE = ["--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
           "--proxy-bypass-list=<-loopback>"]
QUIET = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--no-default-browser-check", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-default-apps",
         "--disable-extensions", "--disable-domain-reliability", "--hide-scrollbars",
         "--disable-features=Translate,OptimizationHints,MediaRouter", "--mute-audio"]


@dataclass
class Request:
    url: str
    from_page: bool  # started by the page (its network isolation key is the file:// site)
    net_error: int | None = None  # None: the request did not fail


@dataclass
class PageCheck:
    views: list[dict]  # per chart: id, ok, marks (mark items drawn), error
    requests: list[Request] = field(default_factory=list)  # network (not file:/data:) only
    settled: bool = True  # the page recorded its status


def find_chromium() -> str | None:
    """Path of a Chromium-family browser, or None."""
    wanted = os.environ.get("DAPT_CHROMIUM")
    if wanted:
        return shutil.which(wanted)
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def network_requests(netlog: dict) -> list[Request]:
    """Requests of a NetLog for a URL that is not local, each with its final error code."""
    types = {v: k for k, v in netlog["constants"]["logEventTypes"].items()}
    found: dict[int, Request] = {}
    for event in netlog.get("events", []):
        params, source = event.get("params") or {}, event["source"]["id"]
        kind = types.get(event["type"])
        url = params.get("url", "")
        if kind == "URL_REQUEST_START_JOB" and url and not url.startswith(LOCAL_SCHEMES):
            key = params.get("network_isolation_key", "")
            found[source] = Request(url, key.startswith("file://"))
        elif source in found and "net_error" in params:
            found[source].net_error = int(params["net_error"]) or None
    return list(found.values())


def check_page(page: Path, browser: str, budget_ms: int = 20000,
               timeout: float = 120) -> PageCheck:
    """Load ``page`` offline, let it run ``budget_ms`` of virtual time, read its status."""
    with tempfile.TemporaryDirectory(prefix="dapt-browser-") as tmp:
        netlog = Path(tmp) / "netlog.json"
        dom = subprocess.run(
            [browser, *QUIET, *OFFLINE, f"--user-data-dir={tmp}/profile",
             f"--log-net-log={netlog}", f"--virtual-time-budget={budget_ms}", "--dump-dom",
             page.resolve().as_uri()],
            capture_output=True, text=True, timeout=timeout, check=True).stdout
        requests = network_requests(json.loads(netlog.read_text(encoding="utf-8")))
    match = STATUS.search(dom)
    if not match:
        return PageCheck(views=[], requests=requests, settled=False)
    return PageCheck(views=json.loads(html.unescape(match[1]))["views"], requests=requests)


def screenshot(page: Path, out: Path, browser: str, width: int = 1280, height: int = 1600,
               budget_ms: int = 20000, timeout: float = 120) -> None:
    """PNG of the top ``width`` x ``height`` pixels of ``page``, rendered offline."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dapt-browser-") as tmp:
        subprocess.run(
            [browser, *QUIET, *OFFLINE, f"--user-data-dir={tmp}/profile",
             f"--window-size={width},{height}", f"--virtual-time-budget={budget_ms}",
             f"--screenshot={out.resolve()}", page.resolve().as_uri()],
            capture_output=True, timeout=timeout, check=True)


def problems(check: PageCheck, min_views: int = 1) -> list[str]:
    """What a person would find wrong: charts missing, failed or empty, network traffic."""
    found = []
    if not check.settled:
        found.append("the page recorded no render status (its charts did not settle)")
    if len(check.views) < min_views:
        found.append(f"{len(check.views)} chart(s) rendered, expected at least {min_views}")
    for view in check.views:
        if not view.get("ok"):
            found.append(f"chart {view['id']} failed: {view.get('error')}")
        elif not view.get("marks"):
            found.append(f"chart {view['id']} drew no marks")
    for request in check.requests:
        if request.from_page:
            found.append(f"the page requested {request.url}")
        elif request.net_error is None:
            found.append(f"the browser reached {request.url}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("page", type=Path, help="a local HTML file")
    parser.add_argument("--screenshot", type=Path, help="also write a PNG of the page here")
    parser.add_argument("--size", default="1280x1600", help="screenshot WIDTHxHEIGHT in pixels "
                                                             "(default: %(default)s)")
    parser.add_argument("--min-views", type=int, default=1,
                        help="charts the page must render (default: %(default)s)")
    args = parser.parse_args()
    browser = find_chromium()
    if browser is None:
        sys.exit(f"no browser found ({', '.join(BROWSERS)} or $DAPT_CHROMIUM)")
    check = check_page(args.page, browser)
    for view in check.views:
        print(f"{view['id']}: {'ok' if view.get('ok') else 'FAILED'}, {view.get('marks')} marks")
    blocked = all(r.net_error for r in check.requests)
    print(f"network requests: {len(check.requests)} ({sum(r.from_page for r in check.requests)} "
          f"from the page); {'all blocked' if blocked else 'NOT ALL BLOCKED'}")
    if args.screenshot:
        width, height = (int(x) for x in args.size.lower().split("x"))
        screenshot(args.page, args.screenshot, browser, width, height)
        print(f"wrote {args.screenshot}")
    found = problems(check, args.min_views)
    for problem in found:
        print("PROBLEM:", problem, file=sys.stderr)
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
