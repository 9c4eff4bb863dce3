"""Small file helpers shared by the design cache, the energy counters and the login lock."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def private_dir(path: Path) -> None:
    """Create directory `path` (and missing parents) with mode 0700: the cache holds the design,
    with the dealer's contact data. Parents get the default mode; an existing directory is left
    as its owner set it (`check` says when others can read it)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so readers see the old file or the new one, never half of it.
    The file is created with mode 0600 (mkstemp); the directory must exist."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
