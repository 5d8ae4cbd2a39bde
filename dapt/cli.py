"""Command-line shape shared by the stage scripts: ``--help``, ``--params``, path flags.

A stage declares its inputs and outputs as a ``Paths`` dataclass whose defaults are the
dvc.yaml paths; ``stage_main`` turns it into flags (``out_dir`` -> ``--out-dir``), loads and
validates the params file (a bad value stops the stage at once with one line per problem),
keeps Hugging Face offline unless ``DAPT_ALLOW_HUB=1``, configures logging and calls
``run(params, paths)``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import Field, field, fields
from typing import Any

from dapt.params import PARAMS_FILE, ParamError, Params, load_params
from dapt.params_schema import stay_offline


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
               argv: Sequence[str] | None = None) -> None:
    """Parse ``--params`` and one flag per ``paths_type`` field, then ``run(params, paths)``."""
    parser = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default=str(PARAMS_FILE), help="params file (%(default)s)")
    for f in fields(paths_type):
        parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, default=f.default,
                            help=f"{f.metadata.get('help', '')} (%(default)s)".lstrip())
    args = parser.parse_args(argv)
    setup_logging()
    paths = paths_type(**{f.name: getattr(args, f.name) for f in fields(paths_type)})
    stay_offline()
    try:
        params = load_params(args.params)
    except ParamError as exc:
        sys.exit(f"{exc}\n(see README: Params are validated)")
    run(params, paths)
