"""Command-line shape shared by the stage scripts: ``--help``, ``--params``, path flags.

A stage declares its inputs and outputs as a ``Paths`` dataclass whose defaults are the
dvc.yaml paths; ``stage_main`` turns it into flags (``out_dir`` -> ``--out-dir``), loads the
params file, configures logging and calls ``run(params, paths)``.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import Field, field, fields
from typing import Any

from dapt.params import PARAMS_FILE, Params, load_params


def path_flag(default: str | None, help: str) -> Field:
    """A ``Paths`` field: its default (the dvc.yaml path) and its ``--help`` line."""
    return field(default=default, metadata={"help": help})


def setup_logging() -> None:
    """Readable one-line logs on stderr, one format for every command."""
    logging.basicConfig(
        level=os.environ.get("LOGLEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


def stage_main(doc: str | None, paths_type: type, run: Callable[[Params, Any], Any],
               argv: Sequence[str] | None = None,
               before_run: Callable[[], Any] | None = None) -> None:
    """Parse ``--params`` and one flag per ``paths_type`` field, then ``run(params, paths)``;
    ``before_run`` (e.g. claiming a GPU) is called once logging is set up."""
    parser = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default=str(PARAMS_FILE), help="params file (%(default)s)")
    for f in fields(paths_type):
        parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, default=f.default,
                            help=f"{f.metadata.get('help', '')} (%(default)s)".lstrip())
    args = parser.parse_args(argv)
    setup_logging()
    if before_run is not None:
        before_run()
    paths = paths_type(**{f.name: getattr(args, f.name) for f in fields(paths_type)})
    run(load_params(args.params), paths)
