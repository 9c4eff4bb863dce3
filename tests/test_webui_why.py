"""The Why page against a real PostgreSQL holding generated history written as Telegraf writes it
(`ui_setup`): its figures equal an independent computation over the stored change rows, done here
in Python from the raw rows (power is constant between a series' rows; each segment belongs to
the cause of the row that starts it), and each figure links to its zones."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pandas as pd
import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row
from ui_fixtures import TZ, UiSetup, app_test

from telegraf_lutron.db.why import WhyStore
from telegraf_lutron.webui import common, data, why_data

pytest_plugins = ["ui_fixtures"]  # the UI fixtures; the database ones come from conftest (pg_fixtures)
pytestmark = pytest.mark.db

J_PER_KWH = 3_600_000.0
BERLIN = ZoneInfo(TZ)
HOUR = timedelta(hours=1)


# --- the reference: integrate the raw rows ---------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    series: tuple[str, str]  # (site, zone_id or area_id)
    t0: datetime
    t1: datetime
    watts: float
    row: dict[str, Any]  # the row that starts it

    def seconds(self, a: datetime, b: datetime) -> float:
        return max(0.0, (min(self.t1, b) - max(self.t0, a)).total_seconds())


def segments(dsn: str, table: str, key: str, watts: str) -> list[Segment]:
    """Every closed segment of every series of a change table (the open one after a series' newest
    row is not rolled up yet: the next row closes it)."""
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        rows = conn.execute(
            sql.SQL("SELECT * FROM {} ORDER BY site, {}, time").format(
                sql.Identifier(table), sql.Identifier(key)
            )
        ).fetchall()
    out = []
    for r0, r1 in pairwise(rows):
        if (r0["site"], r0[key]) == (r1["site"], r1[key]) and r1["time"] > r0["time"]:
            out.append(Segment((r0["site"], r0[key]), r0["time"], r1["time"], max(r0[watts] or 0.0, 0.0), r0))
    return out


def zone_info(dsn: str) -> dict[tuple[str, str], dict[str, Any]]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        rows = conn.execute("SELECT * FROM lutron_zone_info ORDER BY time").fetchall()
    return {(r["site"], r["zone_id"]): r for r in rows}  # the newest last


def cause_of(row: dict[str, Any]) -> str:
    return row.get("cause") or "unknown"


def by_cause(segs: list[Segment], a: datetime, b: datetime) -> dict[str, tuple[float, set[tuple[str, str]]]]:
    out: dict[str, tuple[float, set[tuple[str, str]]]] = {}
    for s in segs:
        joules = s.watts * s.seconds(a, b)
        if joules > 0:
            total, zones = out.get(cause_of(s.row), (0.0, set()))
            out[cause_of(s.row)] = (total + joules, zones | {s.series})
    return out


def by_source(segs: list[Segment], a: datetime, b: datetime) -> dict[tuple[str, ...], float]:
    out: dict[tuple[str, ...], float] = defaultdict(float)
    for s in segs:
        r = s.row
        ids = tuple(r.get(c) or "" for c in ("keypad_id", "component", "timeclock_id", "timeclock_event"))
        known = (cause_of(r) == "keypad" and ids[0]) or (cause_of(r) == "timeclock" and (ids[2] or ids[3]))
        if known and s.watts * s.seconds(a, b) > 0:
            out[(cause_of(r), s.series[0], *ids)] += s.watts * s.seconds(a, b)
    return dict(out)


def empty_rooms(
    segs: list[Segment], a: datetime, b: datetime
) -> dict[tuple[str, str], tuple[float, float, float]]:
    """(site, area_id) -> (joules, seconds lit while empty, peak watts)."""
    out: dict[tuple[str, str], tuple[float, float, float]] = {}
    for s in segs:
        seconds = s.seconds(a, b)
        if s.watts > 0 and seconds > 0:
            j, lit, peak = out.get(s.series, (0.0, 0.0, 0.0))
            out[s.series] = (j + s.watts * seconds, lit + seconds, max(peak, s.watts))
    return out


def hours_of(s: Segment, a: datetime, b: datetime) -> Iterator[tuple[datetime, float]]:
    """(UTC start of a clock hour, seconds of the segment in it) within [a, b) (Berlin's offsets
    are whole hours, so UTC hours are its clock hours)."""
    h = max(s.t0, a).replace(minute=0, second=0, microsecond=0)
    while h < min(s.t1, b):
        seconds = s.seconds(max(h, a), min(h + HOUR, b))
        if seconds > 0:
            yield h, seconds
        h += HOUR


def overnight(
    segs: list[Segment],
    info: dict[tuple[str, str], dict[str, Any]],
    a: datetime,
    b: datetime,
    hours: tuple[int, int],
) -> dict[tuple[str, str], tuple[int, float, float, float]]:
    """(site, zone_id) -> (nights, seconds on, seconds on the longest night, joules) of lights on in
    the overnight hours; a night is named by the date it ends."""
    ns, ne = hours
    nights: dict[tuple[str, str], dict[date, list[float]]] = defaultdict(
        lambda: defaultdict(lambda: [0.0, 0.0])
    )
    for s in segs:
        kind = (info.get(s.series) or {}).get("kind") or "light"
        if kind != "light" or not (s.row["level"] or 0) > 0:
            continue
        for h, seconds in hours_of(s, a, b):
            local = h.astimezone(BERLIN)
            inside = ns <= local.hour < ne if ns < ne else (local.hour >= ns or local.hour < ne)
            if inside:
                night = local.date() + timedelta(days=1) if ns > ne and local.hour >= ns else local.date()
                nights[s.series][night][0] += seconds
                nights[s.series][night][1] += s.watts * seconds
    return {
        zone: (
            len(per),
            sum(v[0] for v in per.values()),
            max(v[0] for v in per.values()),
            sum(v[1] for v in per.values()),
        )
        for zone, per in nights.items()
    }


# --- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stored(ui_setup: UiSetup) -> dict[str, Any]:
    return {
        "zones": segments(ui_setup.dsn, "lutron_zone_change", "zone_id", "watts"),
        "areas": segments(ui_setup.dsn, "lutron_area_change", "area_id", "unoccupied_watts"),
        "info": zone_info(ui_setup.dsn),
    }


@pytest.fixture(scope="module")
def store(ui_setup: UiSetup) -> Iterator[WhyStore]:
    s = WhyStore(ui_setup.dsn)
    yield s
    s.close()


def ranges(last_row: datetime) -> list[tuple[datetime, datetime]]:
    """All the history (buckets overlapping the range are counted whole: here the range covers
    them), and whole hours in the middle of it, across a midnight (hourly rollups); from a local
    midnight to now, and one whole local day (daily); from a month's first day, over a year
    (monthly)."""
    top = last_row.replace(minute=0, second=0, microsecond=0)
    now = last_row + timedelta(minutes=1)
    midnight = datetime.combine(now.astimezone(BERLIN).date(), datetime.min.time(), BERLIN)
    year = datetime.combine(midnight.date().replace(day=1) - timedelta(days=330), datetime.min.time(), BERLIN)
    return [
        (last_row - timedelta(days=7), now),
        (top - 30 * HOUR, top - 2 * HOUR),
        (midnight - timedelta(days=1), now),
        (datetime.combine(midnight.date() - timedelta(days=1), datetime.min.time(), BERLIN), midnight),
        (year.replace(day=1), now),
    ]


# --- the figures equal the rows ---------------------------------------------------------------------


def test_energy_by_cause_and_its_sources_equal_the_rows(
    ui_setup: UiSetup, store: WhyStore, stored: dict[str, Any]
) -> None:
    for a, b in ranges(ui_setup.last_row):
        want = by_cause(stored["zones"], a, b)
        got = store.energy_by_cause(a, b)
        assert {c.cause: c.energy_kwh for c in got} == pytest.approx(
            {k: j / J_PER_KWH for k, (j, _) in want.items()}, rel=1e-9
        )
        assert {c.cause: set(c.zones) for c in got} == {k: z for k, (_, z) in want.items()}
        assert [c.energy_kwh for c in got] == sorted((c.energy_kwh for c in got), reverse=True)
        assert len(want) >= 5  # the generated house uses most causes
        sources = by_source(stored["zones"], a, b)
        top = store.sources(a, b, limit=1000)
        assert {
            (s.cause, s.site, s.keypad_id, s.component, s.timeclock_id, s.timeclock_event): s.energy_kwh
            for s in top
        } == pytest.approx({k: j / J_PER_KWH for k, j in sources.items()}, rel=1e-9)
        assert {s.cause for s in top} == {"keypad", "timeclock"}


def test_energy_in_empty_rooms_equals_the_rows(
    ui_setup: UiSetup, store: WhyStore, stored: dict[str, Any]
) -> None:
    lights = defaultdict(set)
    for (site, zone_id), r in stored["info"].items():
        if (r["kind"] or "light") == "light":
            lights[(site, r["area_id"])].add((site, zone_id))
    for a, b in ranges(ui_setup.last_row):
        want = empty_rooms(stored["areas"], a, b)
        got = {(r.site, r.area_id): r for r in store.empty_rooms(a, b)}
        assert want and got.keys() == want.keys()
        for key, (joules, lit, peak) in want.items():
            assert got[key].energy_kwh == pytest.approx(joules / J_PER_KWH, rel=1e-9), key
            assert got[key].lit_hours == pytest.approx(lit / 3600, rel=1e-9), key
            assert got[key].max_watts == pytest.approx(peak), key
            assert set(got[key].zones) == lights[key], key


@pytest.mark.parametrize("hours", [(23, 6), (1, 5)])
def test_lights_on_overnight_equal_the_rows(
    ui_setup: UiSetup, store: WhyStore, stored: dict[str, Any], hours: tuple[int, int]
) -> None:
    a, b = ranges(ui_setup.last_row)[0]
    want = overnight(stored["zones"], stored["info"], a, b, hours)
    got = {(n.site, n.zone_id): n for n in store.overnight(a, b, *hours, limit=10_000)}
    assert want and got.keys() == want.keys()
    for key, (nights, on, longest, joules) in want.items():
        n = got[key]
        assert (n.nights, n.on_hours, n.longest_hours, n.energy_kwh) == (
            nights,
            pytest.approx(on / 3600, rel=1e-9),
            pytest.approx(longest / 3600, rel=1e-9),
            pytest.approx(joules / J_PER_KWH, rel=1e-9, abs=1e-12),
        ), key


# --- the page ---------------------------------------------------------------------------------------


def metric(at: Any, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r}; metrics: {[m.label for m in at.metric]}"
    return str(values[0])


def page_links(at: Any) -> list[tuple[str, list[str]]]:
    """(label, zone parameters) of every link on the page."""
    out = []
    for element in at.get("page_link"):
        query = element.proto.query_string
        params = [
            v for k, v in (p.split("=", 1) for p in query.split("&") if "=" in p) if k == why_data.ZONE_PARAM
        ]
        out.append((element.proto.label, [unquote(v) for v in params]))
    return out


def test_the_why_page_shows_the_figures_and_links_to_their_zones(
    ui_setup: UiSetup, ui_environ: pytest.MonkeyPatch, stored: dict[str, Any], csv_downloads: list[bytes]
) -> None:
    now = ui_setup.last_row + timedelta(minutes=1)
    ui_environ.setattr(data, "now_minute", lambda: now)
    at = app_test(ui_setup.env, ui_environ, "why")
    assert not at.exception, [e.value for e in at.exception]
    # The page's default range: 7 days, today included, from local midnight.
    a, b = (
        datetime.combine(now.astimezone(BERLIN).date() - timedelta(days=6), datetime.min.time(), BERLIN),
        now,
    )
    causes = by_cause(stored["zones"], a, b)
    total = sum(j for j, _ in causes.values()) / J_PER_KWH
    assert metric(at, "Energy") == common.kwh(total)
    rooms = empty_rooms(stored["areas"], a, b)
    assert metric(at, "In empty rooms") == common.kwh(sum(j for j, _, _ in rooms.values()) / J_PER_KWH)
    shown = next(df.value for df in at.dataframe if "share" in df.value.columns)
    assert dict(zip(shown["cause"], shown["energy_kwh"], strict=True)) == pytest.approx(
        {why_data.CAUSE_LABELS[k]: j / J_PER_KWH for k, (j, _) in causes.items()}, rel=1e-9
    )
    assert list(shown["cost"]) == pytest.approx([kwh * 0.30 for kwh in shown["energy_kwh"]])  # TL_TARIFF
    # Each cause links to exactly its zones.
    links = dict(page_links(at))
    for cause, (_, zones) in causes.items():
        label = next(lab for lab in links if lab.startswith(why_data.CAUSE_LABELS[cause] + " · "))
        assert sorted(why_data.parse_zone_params(links[label])) == sorted(zones), cause
    assert len(links) > len(causes)  # the other sections link too
    # The downloads hold what is shown: four CSVs, the first the causes with their kWh.
    assert len(csv_downloads) == 4
    by_cause_csv = pd.read_csv(io.BytesIO(csv_downloads[0]))
    assert dict(zip(by_cause_csv["cause"], by_cause_csv["energy_kwh"], strict=True)) == pytest.approx(
        dict(zip(shown["cause"], shown["energy_kwh"], strict=True))
    )
    # A year reads the monthly rollups: the same total (the history is shorter than any range here).
    at.radio(key="why_range").set_value("1 y").run()
    assert not at.exception, [e.value for e in at.exception]
    assert metric(at, "Energy") == common.kwh(total)
    # The buttons and events behind the energy are named as the design names them.
    sources = next(
        df.value for df in at.dataframe if "name" in df.value.columns and "what" in df.value.columns
    )
    design = ui_setup.design
    buttons = {f"{k.name} · {b.name}" for k in design.keypads for b in k.buttons}
    events = {f"{t.name} · {e.name}" for t in design.timeclocks for e in t.events}
    assert set(sources["name"]) <= buttons | events and set(sources["name"]) & buttons


def test_the_zones_page_shows_the_zones_a_link_names(
    ui_setup: UiSetup, ui_environ: pytest.MonkeyPatch
) -> None:
    zones = [("home", str(z.id)) for z in ui_setup.design.zones[:3]]
    at = app_test(ui_setup.env, ui_environ, "zones")
    at.query_params[why_data.ZONE_PARAM] = why_data.zone_params(zones)[why_data.ZONE_PARAM]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Showing the 3 zones" in i.value for i in at.info)
    assert len(at.selectbox(key="zone_pick").options) == 3
