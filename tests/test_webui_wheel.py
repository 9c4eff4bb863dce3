"""The wheel is complete: built from the checkout's files, installed with its [db,ui] extras into a
fresh venv outside the checkout (pip fetches the dependencies from the package index, as CI can),
`telegraf-lutron ui` from that venv serves the web UI and its pages render.

About a minute (most of it pip installing Streamlit, pandas, plotly and psycopg, from pip's cache
when it has them)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest
from ui_fixtures import ARTIFACTS, ROOT, free_port, house, store_designs, ui_env, ui_server

pytestmark = pytest.mark.subprocess

SOURCES = ["pyproject.toml", "README.md", "LICENSE", "telegraf_lutron", "webui"]  # what Docker copies too

# Runs inside the fresh venv: the installed app, through AppTest, on its Design page.
RENDER = """
import json
from streamlit.testing.v1 import AppTest
from telegraf_lutron import ui_cli

app = ui_cli.find_app(None, {})
at = AppTest.from_file(str(app), default_timeout=120)
at.run()
at.switch_page("views/design.py")
at.run()
print(json.dumps({
    "app": str(app),
    "exceptions": [e.value for e in at.exception],
    "titles": [t.value for t in at.title],
    "metrics": {m.label: m.value for m in at.metric},
}))
"""


def run(
    command: list[str], cwd: Path, timeout: float, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")} | (extra or {})
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{command}: {result.stdout[-2000:]}{result.stderr[-2000:]}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv outside the checkout with the wheel built from the checkout and its [db,ui] extras."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"  # a copy, so the build leaves no build/ or egg-info in the checkout
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=ignore)
        else:
            shutil.copy2(path, source / name)
    dist = work / "dist"
    run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", str(dist), str(source)],
        work,
        300,
    )
    (wheel,) = dist.glob("telegraf_lutron-*.whl")
    venv = work / "venv"
    run([sys.executable, "-m", "venv", str(venv)], work, 120)
    run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            f"{wheel}[db,ui]",
        ],
        work,
        600,
    )
    return venv


def test_the_wheel_carries_the_web_ui_inside_the_package(installed: Path) -> None:
    (wheel,) = (installed.parent / "dist").glob("telegraf_lutron-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    views = {f"telegraf_lutron/webui/views/{p}.py" for p in ("now", "energy", "zones", "design", "why")}
    assert {"telegraf_lutron/webui/app.py", *views} <= names
    assert not [n for n in names if n.startswith("webui/")]  # no second top-level package


def test_telegraf_lutron_ui_from_the_wheel_serves_and_renders_pages(installed: Path, tmp_path: Path) -> None:
    design, xml = house(seed=5, floors=1, rooms_per_floor=2, zones_per_room=2, keypads_per_room=1)
    cache = tmp_path / "cache"
    store_designs(cache, [(design, xml)])
    env = ui_env(f"host=127.0.0.1 port={free_port()} user=ui dbname=history connect_timeout=2", cache)
    outside = tmp_path / "elsewhere"  # not the checkout: nothing can come from it
    outside.mkdir()

    script = installed / "bin" / "telegraf-lutron"
    with ui_server(env, ARTIFACTS / "webui-wheel.log", cwd=outside, script=script, timeout=60) as url:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as r:
            assert r.read() == b"ok"
        with urllib.request.urlopen(f"{url}/design", timeout=5) as r:
            assert r.status == 200

    rendered = run([str(installed / "bin" / "python"), "-c", RENDER], outside, 300, env)
    page = json.loads(rendered.stdout.strip().splitlines()[-1])
    assert Path(page["app"]).is_relative_to(installed)  # the installed app, not the checkout's
    assert page["exceptions"] == []
    assert page["titles"] == ["Design"]
    assert page["metrics"]["Zones"] == str(len(design.zones))
