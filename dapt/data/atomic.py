"""Atomic writes: an output is written under a temporary name in its own folder, then
renamed into place, so a killed process leaves the old file or folder (or none), never a
partial one.

A file is written as ``<name>.tmp-<pid>`` and moved with ``os.replace``. A folder is written
as ``<name>.tmp-<pid>``, then swapped in: the old one is renamed to ``<name>.old-<pid>``, the
new one renamed to ``<name>``, the old one removed (a kill between the two renames leaves no
``<name>``, and both copies under their temporary names). Temporary names that a killed
process left behind (its pid no longer running) are removed by the next write of the same
path. Protects against a killed process, not a power cut (nothing is fsynced).
"""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TEMP_TAGS = (".tmp-", ".old-")  # <name><tag><pid>; .gitignore and .dvcignore list both


def _temp(path: Path, tag: str) -> Path:
    return path.with_name(f"{path.name}{tag}{os.getpid()}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _prepare(path: Path) -> None:
    """Create the parent folder; remove this path's temporary names left by dead
    processes (or by this one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for tag in TEMP_TAGS:
        for stale in path.parent.glob(glob.escape(path.name) + tag + "*"):
            pid = stale.name.rsplit(tag, 1)[1]
            if pid.isdigit() and (int(pid) == os.getpid() or not _running(int(pid))):
                _remove(stale)


@contextmanager
def atomic_file(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on an exception it
    is removed and ``path`` is left as it was."""
    path = Path(path)
    _prepare(path)
    tmp = _temp(path, ".tmp-")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        _remove(tmp)


@contextmanager
def atomic_dir(path: Path | str, keep: bool = False) -> Iterator[Path]:
    """Yield a temporary folder to fill (empty, or with ``keep`` a copy of the current
    ``path``); on success it is swapped in for ``path``, on an exception it is removed and
    ``path`` is left as it was."""
    path = Path(path)
    _prepare(path)
    tmp, old = _temp(path, ".tmp-"), _temp(path, ".old-")
    if keep and path.is_dir():
        shutil.copytree(path, tmp, symlinks=True)
    else:
        tmp.mkdir()
    try:
        yield tmp
        if path.exists() or path.is_symlink():
            os.rename(path, old)
        try:
            os.rename(tmp, path)
        except BaseException:
            if old.exists() or old.is_symlink():
                os.rename(old, path)
            raise
    finally:
        _remove(tmp)
        _remove(old)


def write_bytes(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (parent folder created)."""
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: Path | str, text: str) -> None:
    """Write ``text`` as UTF-8 atomically; line ends are written as given (no translation)."""
    write_bytes(path, text.encode("utf-8"))


def save_pretrained(path: Path | str, *objects: Any) -> None:
    """``save_pretrained`` of each object (model, tokenizer) into one folder, atomically: the
    folder then holds exactly what they wrote."""
    with atomic_dir(path) as tmp:
        for obj in objects:
            obj.save_pretrained(tmp)
