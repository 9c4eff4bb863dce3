"""The package as an earlier release had it, taken from this repository's history (`git archive`),
for tests that make a database with the old code and upgrade it with the new. Needs a git checkout
with history; without one (or in a shallow clone) such tests skip, saying why."""

from __future__ import annotations

import io
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def newest_commit(what: str, matches: Callable[[Callable[[str], str]], bool]) -> str:
    """The newest commit touching the package for which `matches(show)` holds, where `show(path)`
    is that file's text at the commit ('' where it has none). `what` names it in a skip."""
    try:
        revs = git("rev-list", "HEAD", "--", "telegraf_lutron").split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"needs a git checkout with history ({what} comes from it)")
    for rev in revs:

        def show(path: str, rev: str = rev) -> str:
            try:
                return git("show", f"{rev}:{path}")
            except subprocess.CalledProcessError:
                return ""

        if matches(show):
            return rev
    pytest.skip(f"the history holds no commit with {what} (a shallow clone?)")


def extract(rev: str, target: Path) -> Path:
    """The package at `rev`, unpacked under `target` (put `target` first on sys.path to use it)."""
    archive = subprocess.run(
        ["git", "archive", rev, "telegraf_lutron"], cwd=ROOT, capture_output=True, check=True
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    return target
