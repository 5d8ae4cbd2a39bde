"""Screenshots of the offline pages for the docs, each checked first as the tests check it.

1. ``dvc plots diff`` of two revisions of the demo results (default: the two latest commits
   that changed ``dvclive/``) for the fine-tuning curves, per-type F1 and type confusion
   -> ``docs/img/plots_diff.png``;
2. the real report's experiment page ``reports/real_tcm.html`` -> ``docs/img/real_tcm_page.png``.

Both open in headless Chromium with the network cut (``dapt.browser_check``); a page with a
chart that failed or drew nothing, or one that sent a request, stops the script (exit 1).

    python scripts/docs_screenshots.py
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from dapt.browser_check import check_page, find_chromium, problems, screenshot

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ["dvclive/finetune/plots/metrics", "plots/per_type_f1.json",
           "plots/type_confusion.json"]


def latest_revisions(path: str = "dvclive", count: int = 2) -> list[str]:
    """The ``count`` latest commits that changed ``path``, oldest first."""
    out = subprocess.run(["git", "log", "--format=%h", "-n", str(count), "--", path],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return out.split()[::-1]


def dvc_plots_diff(revs: list[str], out: Path) -> Path:
    """``dvc plots diff`` of ``revs`` (the repository's html_template) into ``out``."""
    dvc = shutil.which("dvc") or str(Path(sys.executable).parent / "dvc")
    subprocess.run([dvc, "plots", "diff", "--targets", *TARGETS, "-o", str(out), *revs],
                   cwd=ROOT, check=True, capture_output=True)
    return out / "index.html"


def shoot(page: Path, png: Path, browser: str, size: tuple[int, int], views: int) -> None:
    """Check ``page`` and, when nothing is wrong, write its screenshot."""
    found = problems(check_page(page, browser), min_views=views)
    if found:
        sys.exit(f"{page}: " + "; ".join(found))
    screenshot(page, png, browser, *size)
    print(f"wrote {png.relative_to(ROOT) if png.is_relative_to(ROOT) else png}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--revs", nargs=2, metavar="REV",
                        help="the two revisions to diff (default: the latest two of dvclive/)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img",
                        help="default: %(default)s")
    args = parser.parse_args()
    browser = find_chromium()
    if browser is None:
        sys.exit("no chromium on PATH (Debian: apt-get install chromium)")
    revs = args.revs or latest_revisions()
    with tempfile.TemporaryDirectory(prefix="dapt-plots-") as tmp:
        page = dvc_plots_diff(revs, Path(tmp) / "plots")
        shoot(page, args.out / "plots_diff.png", browser, (1750, 1800), views=11)
    shoot(ROOT / "reports" / "real_tcm.html", args.out / "real_tcm_page.png", browser,
          (1400, 2600), views=3)


if __name__ == "__main__":
    main()
