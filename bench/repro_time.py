"""Time `dvc repro` of the whole pipeline on the demo default, in a fresh clone.

    python -m bench.repro_time [--repo .] [-S key=value ...]

Clones the committed HEAD into a temporary folder, runs `dvc repro` there with this
interpreter's environment first on PATH, and prints the wall time of each stage (from the
stage start lines in DVC's output) and of the whole run. Goal: <= 300 s on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGE_LINE = re.compile(r"Running stage '([^']+)'")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", default=".")
    parser.add_argument("-S", "--set-param", action="append", default=[],
                        help="param override passed to `dvc exp run -S` instead of repro")
    args = parser.parse_args()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(Path(args.repo).resolve()), str(clone)],
                       check=True)
        cmd = [sys.executable, "-m", "dvc", "repro", "--force"]
        if args.set_param:
            cmd = [sys.executable, "-m", "dvc", "exp", "run", "--force",
                   *[x for p in args.set_param for x in ("-S", p)]]
        start = time.perf_counter()
        marks: list[tuple[str, float]] = []
        proc = subprocess.Popen(cmd, cwd=clone, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            match = STAGE_LINE.search(line)
            if match:
                marks.append((match.group(1), time.perf_counter()))
        if proc.wait() != 0:
            raise SystemExit("dvc repro failed")
        end = time.perf_counter()
    for (stage, t0), (_, t1) in zip(marks, [*marks[1:], ("end", end)]):
        print(f"{stage:15s} {t1 - t0:7.1f} s")
    print(f"pipeline {end - start:.1f} s (goal <= 300 s)")


if __name__ == "__main__":
    main()
