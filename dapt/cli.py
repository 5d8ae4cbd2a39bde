"""Command-line shape shared by the stage scripts: ``--help``, ``--params``, path flags.

Importing this module pins the numerical environment (``dapt.numerics``) before anything
loads torch, so stage scripts and commands import it before any module that loads torch
(``tests/test_numerics.py`` checks each). ``stage_main`` sets torch's thread count from the
``threads`` param.

A stage declares its inputs and outputs as a ``Paths`` dataclass whose defaults are the
dvc.yaml paths; ``stage_main`` turns it into flags (``out_dir`` -> ``--out-dir``), loads and
validates the params file (a bad value stops the stage at once with one line per problem),
keeps Hugging Face offline unless ``DAPT_ALLOW_HUB=1``, configures logging and calls
``run(params, paths)``.

Process guards, both taken by ``stage_main`` before ``run``:

* the stage dies with its parent (``die_with_parent``): a killed ``dvc`` leaves no stage
  training on as an orphan;
* one process per output (``lock_outputs``): every output path (``path_flag(...,
  output=True)``) has a lock file ``.<name>.lock`` beside it, held for the whole run; a
  second run writing to the same output stops at once, naming the holder. The lock files
  stay (removing them would race with the next run); .gitignore lists ``.*.lock``.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import Field, field, fields
from pathlib import Path
from typing import Any

from dapt import numerics
from dapt.params import PARAMS_FILE, ParamError, Params, load_params
from dapt.params_schema import stay_offline

try:
    import fcntl
except ImportError:  # Windows: no output locks
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("cli")

REPLACED_ENV = numerics.pin_environment()  # none of the imports above loads torch

PARENT_PID = os.getppid()  # at import, compared after prctl: the parent may die in between
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
DIE_WITH_PARENT = "DAPT_DIE_WITH_PARENT"  # "0": keep running when the parent exits


class OutputBusy(RuntimeError):
    """Another process holds the lock of an output this stage writes."""


def path_flag(default: str | None, help: str, output: bool = False) -> Field:
    """A ``Paths`` field: its default (the dvc.yaml path), its ``--help`` line and whether
    the stage writes it (``output``: locked while the stage runs)."""
    return field(default=default, metadata={"help": help, "output": output})


def setup_logging() -> None:
    """Readable one-line logs on stderr, one format for every command."""
    logging.basicConfig(
        level=os.environ.get("LOGLEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


def die_with_parent() -> None:
    """Have the kernel SIGKILL this process when its parent exits (Linux
    ``prctl(PR_SET_PDEATHSIG)``); exit at once if the parent is gone already.

    SIGKILL, since every output is written atomically (``dapt.data.atomic``): a kill leaves
    old outputs or none. "Parent" is the thread that started the process (DVC, torchrun and
    a shell start it from their main thread). A no-op on other systems, and with
    ``DAPT_DIE_WITH_PARENT=0`` (e.g. a stage started directly under ``nohup``).
    """
    if os.environ.get(DIE_WITH_PARENT) == "0":
        log.debug("%s=0: the stage keeps running if its parent exits", DIE_WITH_PARENT)
        return
    if not sys.platform.startswith("linux"):
        log.debug("no parent-death signal on %s: the stage outlives a killed parent",
                  sys.platform)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != PARENT_PID:
        raise SystemExit(f"parent process {PARENT_PID} exited before the stage started")


@contextmanager
def lock_outputs(stage: str, outputs: Iterable[str | Path]) -> Iterator[list[Path]]:
    """Hold an exclusive lock on ``.<name>.lock`` beside each output (yields the lock
    files); raise ``OutputBusy`` at once, naming the stage, the holder's pid and the lock
    file, when another process holds one."""
    if fcntl is None:
        log.debug("no fcntl on %s: outputs are not locked", sys.platform)
        yield []
        return
    with ExitStack() as stack:
        locks = []
        for out in sorted({Path(os.path.abspath(o)) for o in outputs}):
            lock = out.with_name(f".{out.name}.lock")
            lock.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
            stack.callback(os.close, fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 200).decode(errors="replace").strip()
                raise OutputBusy(f"stage {stage} cannot start: {out} is in use by "
                                 f"{holder or 'another process'}; lock file {lock}") from None
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()} (stage {stage})\n".encode())
            stack.callback(os.ftruncate, fd, 0)  # no stale holder once released
            locks.append(lock)
        yield locks


def stage_main(doc: str | None, paths_type: type, run: Callable[[Params, Any], Any],
               argv: Sequence[str] | None = None,
               before_run: Callable[[], Any] | None = None) -> None:
    """Parse ``--params`` and one flag per ``paths_type`` field, then ``run(params, paths)``
    under the process guards (module docstring); ``before_run`` (e.g. claiming a GPU) is
    called once logging is set up."""
    parser = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default=str(PARAMS_FILE), help="params file (%(default)s)")
    for f in fields(paths_type):
        parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, default=f.default,
                            help=f"{f.metadata.get('help', '')} (%(default)s)".lstrip())
    args = parser.parse_args(argv)
    setup_logging()
    die_with_parent()
    stay_offline()
    try:
        params = load_params(args.params)  # the whole file is validated before any work
    except ParamError as exc:
        sys.exit(f"{exc}\n(see README: Params are validated)")
    numerics.use_threads(params["threads"])
    for name, value in REPLACED_ENV.items():
        log.info("numerics: %s=%s in the environment replaced by %s (dapt.numerics)", name,
                 value, numerics.PINNED[name])
    if "torch" in sys.modules:  # a stage that computes floats
        for problem in numerics.problems(None, params["threads"]):
            log.warning("results may not reproduce on other machines: %s", problem)
    if before_run is not None:
        before_run()
    paths = paths_type(**{f.name: getattr(args, f.name) for f in fields(paths_type)})
    outputs = [getattr(paths, f.name) for f in fields(paths_type) if f.metadata.get("output")]
    if os.environ.get("RANK", "0") != "0":  # under torchrun the main process holds the locks
        outputs = []
    with lock_outputs(Path(run.__code__.co_filename).stem, filter(None, outputs)):
        run(params, paths)
