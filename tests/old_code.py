"""The package as an earlier release had it, taken from this repository's history (`git archive`),
for tests that make a database with the old code and upgrade it with the new. Needs a git checkout
with history; without one (or in a shallow clone) such tests skip, saying why."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def run_script(script: str, code_dir: str, *args: str) -> dict[str, Any]:
    """Run `script` (its argv: `code_dir`, then `args`) with the package at `code_dir` first on its
    path ('' for this checkout's); its last line of output is JSON."""
    result = subprocess.run(
        [sys.executable, "-c", script, code_dir, *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=code_dir or ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def close(a: Any, b: Any) -> bool:
    """The same figures: floats to 1e-9, lists element by element, anything else equal."""
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-9, abs=1e-9)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def assert_same_numbers(before: dict[str, Any], after: dict[str, Any]) -> None:
    """Every figure of `before` (a script's output, but the package's file and schema version) is in `after`."""
    for key, value in before.items():
        if key not in ("file", "latest"):
            assert close(value, after[key]), key
