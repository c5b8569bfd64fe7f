"""Atomic file writes: write to a temporary file beside the target, then rename it into place.

A crash or Ctrl-C half-way leaves the previous file untouched, never a truncated one. A process
killed with SIGKILL cannot delete its temporary file ``.NAME.<pid>.tmp``; the next save (or load)
of the same target removes the temporaries of processes that no longer exist.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import IO

from .errors import ConfigError


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (a pid reused by another process counts: its file is kept)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # exists but is not ours, or the platform cannot tell
        return True
    return True


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Delete ``.NAME.<pid>.tmp`` files left beside ``path`` by dead processes; returns what was deleted."""
    path = Path(path)
    removed = []
    head = f".{path.name}."
    try:
        names = os.listdir(path.parent)  # not glob: a name may hold [ or *
    except OSError:
        return removed
    for name in names:
        pid = name[len(head) : -len(".tmp")] if name.startswith(head) and name.endswith(".tmp") else ""
        tmp = path.parent / name
        if pid.isdigit() and not _alive(int(pid)):
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:  # another process removed it first, or no permission: not ours to force
                pass
    return removed


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(f)`` on a temporary file, fsync it, and rename it to ``path``. Returns ``path``.

    ``path`` must name a file: a directory is refused before anything is written.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"save: {path} is a directory; give a file name (e.g. {path / 'model.npz'})")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigError(f"save: cannot write {path}: a part of {path.parent} is a file, not a directory") from None
    remove_stale_temporaries(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX and Windows
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
