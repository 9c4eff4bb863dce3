"""Web UI test support (a pytest plugin: `pytest_plugins = ["ui_fixtures"]`; the database fixtures
come from pg_fixtures, which tests/conftest.py loads): a database per test module holding generated
history of a generated house, a design cache holding that house's design, and AppTest set up
against both; a real Streamlit server and Chromium for the browser tests.

History is written the way Telegraf's outputs.postgresql writes it (`telegraf_lutron.db.history`:
`TelegrafWriter`, one transaction and one COPY per measurement and flush, fed by `HistoryGenerator`)
for the zones of a `designgen` design tagged as the plugin tags them (`zone_specs`), so the UI's
numbers, names and the design agree. The line-protocol round trip is skipped here (the writer gets
the generator's metrics directly); the rollup tests cover it.

Test modules import helpers from here before pytest loads it as a plugin, so it opts out of assert
rewriting (PYTEST_DONT_REWRITE) instead of warning; it makes no assertions of its own.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from free_ports import free_port
from pg_fixtures import TEMPLATE_TIMEZONE, clone_database, drop_database

from telegraf_lutron.db.history import HistoryGenerator, TelegrafWriter, zone_specs
from telegraf_lutron.db.levels import MEASUREMENTS
from telegraf_lutron.design import Design
from telegraf_lutron.design_cache import DesignCache
from telegraf_lutron.lineproto_parse import Metric
from telegraf_lutron.simulator.designgen import GeneratorParams, generate

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "webui" / "app.py"
TZ = TEMPLATE_TIMEZONE  # the time zone db init stored in every database here
HISTORY = timedelta(days=2, hours=12)  # always covers one whole night (00:00-05:00) before today

PAGES = {
    "now": "views/now.py",
    "energy": "views/energy.py",
    "zones": "views/zones.py",
    "design": "views/design.py",
    "why": "views/why.py",
}


def to_metrics(gen: HistoryGenerator, ticks: list[Any]) -> list[Metric]:
    # An empty tag (a zone without a floor) is not written by the plugin: not here either.
    return [
        Metric(m, {k: v for k, v in sorted(t.items()) if v}, f, ts)
        for tick in ticks
        for m, t, f, ts in gen.metrics(tick)
    ]


def seed_history(
    dsn: str,
    design: Design,
    *,
    duration: timedelta,
    step: timedelta = timedelta(minutes=1),
    end: datetime | None = None,
    flush_ticks: int = 60,
    seed: int = 7,
    always_on: frozenset[str] = frozenset(),
    namepass: Sequence[str] | None = None,
) -> datetime:
    """Write `duration` of history up to `end` (default: this minute), one flush per `flush_ticks`
    ticks; zones in `always_on` (zone ids) stay at 100 % throughout; only the measurements in
    `namepass` (default: all, snapshots and change rows, as the generator writes them). Returns the
    last row's time."""
    end = (end or datetime.now(UTC)).replace(second=0, microsecond=0)
    n = int(duration / step)
    gen = HistoryGenerator(zone_specs(design), start=end - (n - 1) * step, step=step, seed=seed, tz=TZ)

    def tick() -> Any:
        # The generator integrates energy at the level a tick reports, so pinning the level before
        # each tick keeps the counters consistent with it.
        for zone_id in always_on:
            gen._state[zone_id].level = 100.0
        return gen.tick()

    with psycopg.connect(dsn) as conn:
        writer = TelegrafWriter(conn, namepass=namepass)
        for i in range(0, n, flush_ticks):
            writer.write(to_metrics(gen, [tick() for _ in range(min(flush_ticks, n - i))]))
    return end


def store_designs(cache_dir: Path, designs: list[tuple[Design, bytes]]) -> DesignCache:
    cache = DesignCache(cache_dir)
    for design, xml in designs:
        cache.store(design.project.revision, xml, design)
    return cache


def house(seed: int = 3, **overrides: Any) -> tuple[Design, bytes]:
    """A two-floor house with nested rooms, keypads, hostile-free names and most wattages set."""
    params = GeneratorParams(seed=seed, missing_wattage=0.1, zero_wattage=0.0, **overrides)
    return generate(params)


# Names a naive page turns into links, images, icons, markup or spreadsheet formulas: every place
# the UI shows a name must show these as text.
HOSTILE_NAMES = (
    '<a href="https://evil.example/a">Kitchen</a>',
    "[Pantry](https://evil.example/md)",
    "![Hall](https://evil.example/img.png)",
    "https://evil.example/bare",
    "WWW.evil.example",
    "owner@evil.example",
    "javascript:alert(1)",
    '=HYPERLINK("https://evil.example/f","Den")',
    "+Porch",
    "-Garage",
    "@Attic",
    ":material/home: :red[Study]",
    "<b>Bold</b> &amp; <img src=x onerror=alert(1)> $x$",
    "Loft/Attic <br> Room",
)
HOSTILE_FLOOR = "[Ground](https://evil.example/floor)"
HOSTILE_REVISION = "![rev](https://evil.example/pixel.png) http://evil.example/rev"


# --- oracles for names as text -----------------------------------------------------------------------
# Written from Markdown's, remark-gfm's, Streamlit's and plotly.js's own rules, independently of
# webui/escape.py on purpose: do not merge them with it.

# mdast-util-gfm-autolink-literal (remark-gfm, which Streamlit uses) finds these in text after
# backslash escapes and character references are resolved; Streamlit's icon syntax likewise.
_GFM_URL = re.compile(r"(https?://|www(?=\.))([-.\w]+)", re.IGNORECASE | re.ASCII)
_GFM_EMAIL = re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)", re.ASCII)
_ST_ICON = re.compile(r":material/[a-z_]+:")
_MD_ESCAPABLE = r"""!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~"""


def markdown_text(source: str) -> str:
    """The text Markdown makes of `source` (inline, no markup left): backslash escapes resolved."""
    return re.sub(rf"\\([{_MD_ESCAPABLE}])", r"\1", source)


def autolinks(source: str) -> list[str]:
    """What GitHub-flavoured Markdown (and Streamlit's icon syntax) would turn into a link or icon."""
    text = markdown_text(source)
    return [m.group(0) for p in (_GFM_URL, _GFM_EMAIL, _ST_ICON) for m in p.finditer(text)]


# plotly.js svg_text_utils: a tag is `<` up to `>`; entities it decodes (convertEntities).
_PLOTLY_TAG = re.compile(r"<\s*(/?)\s*([^\s>/]*)[^>]*>")
_PLOTLY_ENTITIES = {
    "mu": "μ",
    "amp": "&",
    "lt": "<",
    "gt": ">",
    "nbsp": "\xa0",
    "times": "×",
    "plusmn": "±",
    "deg": "°",
}
OUR_TAGS = {"br", "extra"}  # what the chart functions' own templates use


def plotly_tags(text: str) -> set[str]:
    return {m.group(2).lower() for m in _PLOTLY_TAG.finditer(text)}


def plotly_shows(text: str) -> str:
    """The text plotly draws for `text`: tags dropped, entities decoded (once)."""

    def entity(m: re.Match[str]) -> str:
        code = m.group(1)
        if code.startswith("#x"):
            return chr(int(code[2:], 16))
        if code.startswith("#"):
            return chr(int(code[1:]))
        return _PLOTLY_ENTITIES.get(code, m.group(0))

    return re.sub(r"&(#\d+|#x[\da-fA-F]+|[a-z]+);", entity, _PLOTLY_TAG.sub(" ", text))


def strings(value: Any) -> Iterator[str]:
    """Every string in a figure's JSON (labels, names, ids, hover text, titles, annotations)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from strings(v)
    elif isinstance(value, np.ndarray) and value.dtype.kind in "OUS":
        yield from strings(value.tolist())


def hostile_house(seed: int = 5) -> tuple[Design, bytes]:
    """A small generated house (one floor, every zone with a wattage) whose project, floor, rooms,
    zones, keypads and engravings carry HOSTILE_NAMES."""
    from dataclasses import replace

    design, xml = generate(
        GeneratorParams(
            seed=seed,
            floors=1,
            rooms_per_floor=3,
            zones_per_room=5,
            keypads_per_room=1,
            missing_wattage=0.0,
            zero_wattage=0.0,
        )
    )
    names = iter(HOSTILE_NAMES * 4)
    renamed = {a.name: next(names) for a in design.rooms}
    renamed |= {a.name: HOSTILE_FLOOR for a in design.areas if a.is_container and a.floor == a.name}

    def r(name: str) -> str:
        return renamed.get(name, name)

    areas = tuple(
        replace(a, name=r(a.name), floor=r(a.floor))
        for a in design.areas  # paths follow the names
    )
    zones = tuple(
        replace(z, name=HOSTILE_NAMES[i % len(HOSTILE_NAMES)], area=r(z.area), floor=r(z.floor))
        for i, z in enumerate(design.zones)
    )
    keypads = tuple(
        replace(
            k,
            name=HOSTILE_NAMES[-1 - i % len(HOSTILE_NAMES)],
            area=r(k.area),
            floor=r(k.floor),
            buttons=tuple(
                replace(
                    b,
                    engraving=HOSTILE_NAMES[j % len(HOSTILE_NAMES)],
                    name=HOSTILE_NAMES[j % len(HOSTILE_NAMES)],
                )
                for j, b in enumerate(k.buttons)
            ),
        )
        for i, k in enumerate(design.keypads)
    )
    shade_groups = tuple(
        replace(g, name=HOSTILE_NAMES[i % len(HOSTILE_NAMES)]) for i, g in enumerate(design.shade_groups)
    )
    timeclocks = tuple(
        replace(
            t,
            name=HOSTILE_NAMES[(i + 2) % len(HOSTILE_NAMES)],
            events=tuple(
                replace(e, name=HOSTILE_NAMES[j % len(HOSTILE_NAMES)]) for j, e in enumerate(t.events)
            ),
        )
        for i, t in enumerate(design.timeclocks)
    )
    project = replace(design.project, name=HOSTILE_NAMES[0], product_type=HOSTILE_NAMES[3])
    return (
        replace(
            design,
            project=project,
            areas=areas,
            zones=zones,
            keypads=keypads,
            shade_groups=shade_groups,
            timeclocks=timeclocks,
        ),
        xml,
    )


def store_hostile_designs(cache_dir: Path, design: Design, xml: bytes) -> None:
    """The plain house as the first revision, `design` (its hostile twin) as the newest, under
    HOSTILE_REVISION: the revision history lists renames to hostile names."""
    plain, plain_xml = generate(
        GeneratorParams(seed=5, floors=1, rooms_per_floor=3, zones_per_room=5, keypads_per_room=1)
    )
    cache = DesignCache(cache_dir)
    cache.store(plain.project.revision, plain_xml, plain)
    cache.store(HOSTILE_REVISION, xml, design)


@dataclass(frozen=True)
class UiSetup:
    dsn: str
    cache_dir: Path
    design: Design
    last_row: datetime
    env: dict[str, str]
    always_on: frozenset[str]  # zone ids at 100 % for the whole history


def ui_env(dsn: str, cache_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "TL_DSN": dsn,
        "TL_CACHE_DIR": str(cache_dir),
        "TL_TIMEZONE": TZ,
        "TL_TARIFF": "0.30",
        "TL_CURRENCY": "EUR",
        **extra,
    }


@pytest.fixture(scope="module")
def ui_setup(
    pg_server_dsn: str, pg_template_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[UiSetup]:
    """A fresh database with 2.5 days of one-minute history of a generated house up to now (its last
    zone on throughout; snapshots and change rows, so the UI reads the change rows), and a design cache with two revisions of that house (the newer one renames
    a zone)."""
    dsn = clone_database(pg_server_dsn, pg_template_dsn, prefix="tl_ui")  # db init --timezone TZ
    try:
        old_design, old_xml = house(export_date="05/01/2025", export_time="09:00:00")
        design, xml = house(export_date="05/16/2025", export_time="17:34:22")
        cache_dir = tmp_path_factory.mktemp("design-cache")
        store_designs(cache_dir, [(_renamed(old_design), old_xml), (design, xml)])
        always_on = frozenset({next(str(z.id) for z in reversed(design.zones) if z.rated_watts)})
        last = seed_history(dsn, design, duration=HISTORY, always_on=always_on)
        yield UiSetup(dsn, cache_dir, design, last, ui_env(dsn, cache_dir), always_on)
    finally:
        close_ui_state()
        drop_database(pg_server_dsn, dsn)


@pytest.fixture(scope="module")
def snapshot_setup(
    pg_server_dsn: str, pg_template_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[UiSetup]:
    """`ui_setup`'s house and designs with history from before the change rows: snapshots only
    (lutron_zone, lutron_area, lutron_power), which the UI reads from their rollups."""
    dsn = clone_database(pg_server_dsn, pg_template_dsn, prefix="tl_ui_snap")  # db init --timezone TZ
    try:
        old_design, old_xml = house(export_date="05/01/2025", export_time="09:00:00")
        design, xml = house(export_date="05/16/2025", export_time="17:34:22")
        cache_dir = tmp_path_factory.mktemp("design-cache-snapshots")
        store_designs(cache_dir, [(_renamed(old_design), old_xml), (design, xml)])
        always_on = frozenset({next(str(z.id) for z in reversed(design.zones) if z.rated_watts)})
        last = seed_history(dsn, design, duration=HISTORY, always_on=always_on, namepass=MEASUREMENTS)
        yield UiSetup(dsn, cache_dir, design, last, ui_env(dsn, cache_dir), always_on)
    finally:
        close_ui_state()
        drop_database(pg_server_dsn, dsn)


@pytest.fixture(scope="module")
def hostile_setup(
    pg_server_dsn: str, pg_template_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[UiSetup]:
    """A fresh database with 6 hours of history of `hostile_house` (its first zone on throughout),
    and a design cache whose newest revision, HOSTILE_REVISION, is that house."""
    dsn = clone_database(pg_server_dsn, pg_template_dsn, prefix="tl_ui_hostile")  # db init --timezone TZ
    try:
        design, xml = hostile_house()
        cache_dir = tmp_path_factory.mktemp("hostile-cache")
        store_hostile_designs(cache_dir, design, xml)
        always_on = frozenset({str(design.zones[0].id)})
        last = seed_history(dsn, design, duration=timedelta(hours=6), always_on=always_on)
        yield UiSetup(dsn, cache_dir, design, last, ui_env(dsn, cache_dir), always_on)
    finally:
        close_ui_state()
        drop_database(pg_server_dsn, dsn)


def _renamed(design: Design) -> Design:
    """`design` with its first zone under another name (so the history shows a rename)."""
    from dataclasses import replace

    first = design.zones[0]
    return replace(design, zones=(replace(first, name=first.name + " (old)"), *design.zones[1:]))


def close_ui_state() -> None:
    """Close the UI's connection pools and forget its caches (st caches are process-wide)."""
    from telegraf_lutron.webui import data

    data.clear_caches(pools=True)


@pytest.fixture
def ui_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Environment without the UI's settings from the developer's shell (TL_*, except the tests'
    own TL_TEST_DSN, and TELEGRAF_LUTRON_DSN); caches cleared before and after."""
    for key in list(os.environ):
        if (key.startswith("TL_") and key != "TL_TEST_DSN") or key == "TELEGRAF_LUTRON_DSN":
            monkeypatch.delenv(key)
    close_ui_state()
    yield monkeypatch
    close_ui_state()


@pytest.fixture
def csv_downloads(ui_environ: pytest.MonkeyPatch) -> list[bytes]:
    """The CSV of every download a page builds, in order (common.csv_bytes, observed)."""
    from telegraf_lutron.webui import common

    captured: list[bytes] = []
    real = common.csv_bytes

    def observed(df: Any) -> bytes:
        out = real(df)
        captured.append(out)
        return out

    ui_environ.setattr(common, "csv_bytes", observed)
    return captured


def app_test(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, page: str = "now", timeout: float = 120
) -> Any:
    """An AppTest of the whole app, switched to `page` and run once, with `env` set. A run takes 1-3 s;
    the generous timeout is for a machine busy with other test suites."""
    from streamlit.testing.v1 import AppTest

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    at = AppTest.from_file(str(APP), default_timeout=timeout)
    at.run()
    if page != "now":
        at.switch_page(PAGES[page])
        at.run()
    return at


# --- a real server and a real browser -------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
]
ARTIFACTS = ROOT / "test-artifacts"
# url path and how many plotly charts each page draws with the seeded data
BROWSER_PAGES = {"now": ("", 2), "energy": ("energy", 4), "zones": ("zones", 3), "design": ("design", 0)}


@contextmanager
def streamlit_server(
    env: dict[str, str], log_path: Path, timeout: float = 30.0, app: Path = APP
) -> Iterator[str]:
    """`streamlit run webui/app.py` (or `app`) on a free 127.0.0.1 port with `env`; yields its URL,
    stops it."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]
    with serve(command, port, env, log_path, timeout, cwd=ROOT) as url:
        yield url


@contextmanager
def ui_server(
    env: dict[str, str], log_path: Path, cwd: Path, timeout: float = 30.0, script: Path | None = None
) -> Iterator[str]:
    """`telegraf-lutron ui` (this venv's, or `script`) on a free port, started in `cwd` (not the
    checkout: the app must come from the installed package); yields its URL, stops it."""
    port = free_port()
    script = script or Path(sys.executable).parent / "telegraf-lutron"
    with serve([str(script), "ui", "--port", str(port)], port, env, log_path, timeout, cwd=cwd) as url:
        yield url


@contextmanager
def serve(
    command: list[str], port: int, env: dict[str, str], log_path: Path, timeout: float, cwd: Path
) -> Iterator[str]:
    """Run a Streamlit server `command` listening on `port`, wait until /_stcore/health answers;
    yields its URL, stops it."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, cwd=cwd
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{command[0]} exited with {proc.returncode}; see {log_path}")
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the UI did not become healthy within {timeout:g} s; see {log_path}")
                time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass(frozen=True)
class Rendered:
    seconds: float  # from navigation until the page is drawn and the script has finished
    charts: int
    exceptions: list[str]
    first: float = 0.0  # from navigation until the title and the first numbers, table or chart show


# The page's first content a person reads: its title and its first numbers (metric), table or drawn
# chart. Streamlit sends the title before the page has read its data, so the title alone is not it.
FIRST_CONTENT_JS = (
    "() => !!document.querySelector('h1') && !!document.querySelector("
    "\"[data-testid='stMetric'], [data-testid='stDataFrame'], [data-testid='stAlert'], .js-plotly-plot .main-svg\")"
)


def render_page(page: Any, url: str, charts: int, timeout_ms: int = 30_000) -> Rendered:
    """Load `url` and wait until Streamlit has drawn it: `charts` plotly charts rendered (or, with
    none, the first element of the page body) and the running-status widget gone."""
    start = time.monotonic()
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_function(FIRST_CONTENT_JS, timeout=timeout_ms, polling="raf")
    first = time.monotonic() - start
    if charts:
        page.wait_for_function(
            "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2 * n",
            arg=charts,
            timeout=timeout_ms,
        )
    else:
        page.wait_for_selector("[data-testid='stMetric'], [data-testid='stAlert']", timeout=timeout_ms)
    page.wait_for_selector("[data-testid='stStatusWidget']", state="detached", timeout=timeout_ms)
    seconds = time.monotonic() - start
    exceptions = [e.inner_text() for e in page.query_selector_all("[data-testid='stException']")]
    n = len(page.query_selector_all(".js-plotly-plot"))
    return Rendered(seconds, n, exceptions, first)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for a browser test module (one per module: each runs on one pytest-xdist worker)."""
    if not CHROMIUM.exists():  # fail, never skip: a missing browser must not pass as a green run
        pytest.fail(
            f"Debian's Chromium ({CHROMIUM}) is not installed: apt-get install -y chromium "
            "(scripts/test.sh does), or leave these tests out with -m 'not browser'"
        )
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A new page in a context of its own (no cookies or storage from another test)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-GB")
    p = context.new_page()
    try:
        yield p
    finally:
        context.close()


def outside_requests(page: Any, base: str) -> list[str]:
    """Collects every request the page makes to anything but the Streamlit server."""
    seen: list[str] = []
    page.on("request", lambda r: None if r.url.startswith((base, "data:", "blob:")) else seen.append(r.url))
    return seen


def screenshot(page: Any, path: Path, width: int = 1400) -> None:
    """The whole page in one image: Streamlit scrolls an inner element, so grow the viewport to
    the content's height first."""
    height = page.evaluate(
        "() => { const m = document.querySelector(\"[data-testid='stMain']\") || document.body;"
        " return Math.max(m.scrollHeight, document.body.scrollHeight); }"
    )
    page.set_viewport_size({"width": width, "height": min(max(int(height), 600), 8000)})
    page.wait_for_timeout(400)  # plotly re-lays out on resize
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": width, "height": 900})
