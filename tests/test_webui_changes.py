"""The web UI on change rows (what the plugin writes for PostgreSQL now): the pages' numbers equal
an integration of those rows done here in Python, independently of the SQL rollups; they agree with
the snapshot rows of the same generated house within what sampling allows; and a database that
holds snapshot history from before the upgrade and change rows after reads both.

A zone's (and the house's) level and watts hold from its row until its next row; the last row's
until the house's newest row (the plugin writes a house row every minute)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from pg_fixtures import clone_database, drop_database
from test_webui_pages import J_PER_KWH, assert_shows, chart, metric, no_exceptions
from ui_fixtures import TZ, UiSetup, app_test

from telegraf_lutron.db.history import HistoryGenerator, TelegrafWriter, make_house
from telegraf_lutron.db.levels import CHANGE_MEASUREMENTS, MEASUREMENTS
from telegraf_lutron.db.queries import HistoryStore
from telegraf_lutron.webui import common, data

pytest_plugins = ["ui_fixtures"]
pytestmark = pytest.mark.db

BERLIN = ZoneInfo(TZ)
Segment = tuple[datetime, datetime, float, float]  # from, to, watts, level


# --- the oracle: segments of the raw change rows ------------------------------------------------------


class Rows:
    """The change rows of one database, as segments per series."""

    def __init__(self, dsn: str) -> None:
        with psycopg.connect(dsn) as conn:
            house = conn.execute('SELECT "time", watts FROM lutron_house ORDER BY "time"').fetchall()
            zones = conn.execute(
                'SELECT zone_id, "time", watts, level FROM lutron_zone_change ORDER BY zone_id, "time"'
            ).fetchall()
            self.kinds = dict(conn.execute("SELECT zone_id, kind FROM lutron_zone_info").fetchall())
        self.until: datetime = house[-1][0]
        self.newest_house_watts: float = house[-1][1]  # the last segment ends at it: not in `house`
        self.house = self._segments([(t, w, 0.0) for t, w in house])
        by_zone: dict[str, list[tuple[datetime, float, float]]] = defaultdict(list)
        for zone_id, t, w, level in zones:
            by_zone[zone_id].append((t, w, level))
        self.zones = {z: self._segments(rows) for z, rows in by_zone.items()}
        self.newest = {z: rows[-1] for z, rows in by_zone.items()}

    def _segments(self, rows: list[tuple[datetime, float, float]]) -> list[Segment]:
        ends = [t for t, _, _ in rows[1:]] + [self.until]
        return [(t, end, w, level) for (t, w, level), end in zip(rows, ends, strict=True) if end > t]

    @staticmethod
    def joules(segments: list[Segment], start: datetime, end: datetime) -> float:
        return sum(
            w * max(0.0, (min(t1, end) - max(t0, start)).total_seconds()) for t0, t1, w, _level in segments
        )

    @staticmethod
    def seconds(segments: list[Segment], start: datetime, end: datetime, *, on: bool = False) -> float:
        """Seconds covered (`on`: with the level above 0) within [start, end)."""
        return sum(
            max(0.0, (min(t1, end) - max(t0, start)).total_seconds())
            for t0, t1, _w, level in segments
            if level > 0 or not on
        )


@pytest.fixture(scope="module")
def rows(ui_setup: UiSetup) -> Rows:
    return Rows(ui_setup.dsn)


@pytest.fixture
def frozen_now(ui_setup: UiSetup, monkeypatch: pytest.MonkeyPatch) -> datetime:
    now = ui_setup.last_row + timedelta(minutes=1)
    monkeypatch.setattr(data, "now_minute", lambda: now)
    return now


def local_midnight(t: datetime, days_back: int = 0) -> datetime:
    day = t.astimezone(BERLIN).date() - timedelta(days=days_back)
    return datetime(day.year, day.month, day.day, tzinfo=BERLIN)


def hour_start(t: datetime) -> datetime:
    return t.astimezone(BERLIN).replace(minute=0, second=0, microsecond=0)


# --- Now ------------------------------------------------------------------------------------------


def test_now_is_the_newest_house_row_and_each_zones_newest_change(
    ui_setup: UiSetup, ui_environ: pytest.MonkeyPatch, rows: Rows
) -> None:
    at = app_test(ui_setup.env, ui_environ, "now")
    no_exceptions(at)
    house_watts = rows.newest_house_watts
    assert metric(at, "Power now") == common.watts(house_watts)
    lights = [z for z in ui_setup.design.zones if z.kind == "light"]
    on = sum(1 for z in lights if rows.newest[str(z.id)][2] > 0)
    assert metric(at, "Lights on") == f"{on} of {len(lights)}"
    # The zones' watts add up to the house's (the generator's house is the sum of its zones).
    assert sum(r[1] for r in rows.newest.values()) == pytest.approx(house_watts)
    table = at.dataframe[0].value
    names = {str(z.id): z.name for z in ui_setup.design.zones}
    assert set(table["Zone"]) == {names[z] for z, r in rows.newest.items() if r[2] > 0}


def test_now_energy_today_integrates_the_house_rows(
    ui_setup: UiSetup, ui_environ: pytest.MonkeyPatch, frozen_now: datetime, rows: Rows
) -> None:
    at = app_test(ui_setup.env, ui_environ, "now")
    joules = rows.joules(rows.house, local_midnight(frozen_now), frozen_now)
    assert joules > 0
    assert_shows(metric(at, "Energy today"), joules / J_PER_KWH)


# --- Energy ---------------------------------------------------------------------------------------


def test_energy_24h_integrates_the_house_and_the_areas_their_zones(
    ui_setup: UiSetup, ui_environ: pytest.MonkeyPatch, frozen_now: datetime, rows: Rows
) -> None:
    at = app_test(ui_setup.env, ui_environ, "energy")
    at.radio(key="energy_range").set_value("24 h").run()
    no_exceptions(at)
    start = hour_start(frozen_now - timedelta(hours=24))  # every hour that overlaps, whole
    house = rows.joules(rows.house, start, frozen_now)
    assert_shows(metric(at, "Energy"), house / J_PER_KWH)
    bars = chart(at, "Energy per hour by area")
    zones = sum(rows.joules(s, start, frozen_now) for s in rows.zones.values())
    assert sum(sum(t["y"]) for t in bars["data"]) == pytest.approx(zones / J_PER_KWH, rel=1e-9)
    assert zones == pytest.approx(house, rel=1e-9)


def test_energy_7d_per_zone_integrates_each_zones_rows(
    ui_setup: UiSetup, ui_environ: pytest.MonkeyPatch, frozen_now: datetime, rows: Rows
) -> None:
    at = app_test(ui_setup.env, ui_environ, "energy")  # 7 d: whole local days
    no_exceptions(at)
    start = local_midnight(frozen_now, 6)
    names = {str(z.id): z.name for z in ui_setup.design.zones}
    want = {names[z]: rows.joules(s, start, frozen_now) / J_PER_KWH for z, s in rows.zones.items()}
    # The table lists every zone that drew energy or was on (a shade open draws none).
    listed = {names[z] for z, s in rows.zones.items() if rows.seconds(s, start, frozen_now, on=True) > 0}
    table = at.dataframe[0].value
    assert dict(zip(table["zone"], table["energy_kwh"], strict=True)) == pytest.approx(
        {z: v for z, v in want.items() if v > 0 or z in listed}, rel=1e-9
    )
    treemap = chart(at, "Where the energy went")["data"][0]
    leaves = {
        label: value
        for label, value, node in zip(treemap["labels"], treemap["values"], treemap["ids"], strict=True)
        if node.count("/") == 3
    }
    assert leaves == pytest.approx({z: v for z, v in want.items() if v > 0}, rel=1e-9)
    assert_shows(metric(at, "Energy"), rows.joules(rows.house, start, frozen_now) / J_PER_KWH)


def test_energy_heatmap_is_the_hours_average_power(
    ui_setup: UiSetup, ui_environ: pytest.MonkeyPatch, frozen_now: datetime, rows: Rows
) -> None:
    at = app_test(ui_setup.env, ui_environ, "energy")
    z = chart(at, "Average power by weekday and hour")["data"][0]["z"]
    hour = hour_start(rows.until - timedelta(minutes=30))  # a whole hour with data
    end = hour + timedelta(hours=1)
    expected = rows.joules(rows.house, hour, end) / rows.seconds(rows.house, hour, end)
    assert z[hour.isoweekday() - 1][hour.hour] == pytest.approx(expected, rel=1e-9)


# --- Zones ----------------------------------------------------------------------------------------


def test_zones_power_and_on_hours_of_a_zone_always_on(
    ui_setup: UiSetup, ui_environ: pytest.MonkeyPatch, frozen_now: datetime, rows: Rows
) -> None:
    zone = next(z for z in ui_setup.design.zones if str(z.id) in ui_setup.always_on)
    at = app_test(ui_setup.env, ui_environ, "zones")
    at.text_input(key="zone_query").set_value(zone.name).run()
    at.radio(key="zone_range").set_value("7 d").run()
    no_exceptions(at)
    assert metric(at, "Level now") == "100 %"
    assert metric(at, "Power now") == common.watts(zone.rated_watts)
    power = chart(at, "Power, last 7 d")["data"]
    assert {round(v, 6) for v in next(t for t in power if t["name"] == "average")["y"]} == {zone.rated_watts}
    levels = chart(at, "Level, last 48 h")["data"]
    assert {round(v, 6) for v in next(t for t in levels if t["name"] == "average")["y"]} == {100.0}
    # Every hour with data (the house's rows) counts whole: on for all of it.
    hours: dict[str, float] = defaultdict(float)
    first = hour_start(rows.house[0][0])
    h = first
    while h < rows.until:
        covered = rows.seconds(rows.house, h, h + timedelta(hours=1))
        if covered > 0:
            hours[h.strftime("%a %d %b")] += 1
        h = (h + timedelta(hours=1)).astimezone(BERLIN)
    bars = chart(at, "Hours on per day, last 7 days")["data"][0]
    assert dict(zip(bars["x"], bars["y"], strict=True)) == pytest.approx(dict(hours))


def test_zones_lists_the_zone_left_on_overnight(ui_setup: UiSetup, ui_environ: pytest.MonkeyPatch) -> None:
    zone = next(z for z in ui_setup.design.zones if str(z.id) in ui_setup.always_on)
    at = app_test(ui_setup.env, ui_environ, "zones")
    no_exceptions(at)
    nights = next(df.value for df in at.dataframe if "Night to" in df.value.columns)
    assert set(nights[nights["Zone"] == zone.name]["Hours"]) == {5}


# --- change rows and snapshots of the same house -------------------------------------------------------


def test_days_from_change_rows_equal_the_snapshots_within_a_sample(ui_setup: UiSetup, rows: Rows) -> None:
    """The generator writes both for the same house. The snapshot rollups put the energy of each
    minute in the bucket of the row that closes it, so a day's totals differ by at most one step's
    energy at each of its two ends."""
    start = local_midnight(rows.until, 2)
    with HistoryStore(ui_setup.dsn) as store:
        days = store.energy("system", start, rows.until, resolution="day")
    with psycopg.connect(ui_setup.dsn) as conn:
        snapshot = dict(conn.execute("SELECT day, energy_joules FROM lutron.system_daily").fetchall())
        peak = conn.execute("SELECT max(watts) FROM lutron_power").fetchone()[0]
    assert len(days) == 3
    for b in days:
        day = b.start.astimezone(BERLIN).date()
        assert abs(b.energy_kwh * J_PER_KWH - snapshot[day]) <= 2 * peak * 60 + 1e-6, day


# --- an upgraded database: snapshots before, change rows after --------------------------------------------


@pytest.fixture(scope="module")
def upgraded(pg_server_dsn: str, pg_template_dsn: str) -> Iterator[tuple[str, datetime, dict[str, float]]]:
    """30 hours of snapshots only (before the upgrade), then 30 hours of change rows only, of one
    generated house whose counters run on: (dsn, the first change row's time, counters)."""
    dsn = clone_database(pg_server_dsn, pg_template_dsn, prefix="tl_ui_upgraded")
    try:
        step = timedelta(minutes=5)
        start = datetime(2025, 3, 1, 0, 0, tzinfo=BERLIN).astimezone(UTC)
        gen = HistoryGenerator(make_house(12), start=start, step=step, tz=TZ)
        cut = start + timedelta(hours=30, minutes=20)  # mid-hour and mid-day
        with psycopg.connect(dsn) as conn:
            before = TelegrafWriter(conn, namepass=MEASUREMENTS)
            after = TelegrafWriter(conn, namepass=CHANGE_MEASUREMENTS)
            end = start + timedelta(hours=60)
            while gen.now < end:
                upgraded = gen.now >= cut
                if upgraded and gen._last_level is not None and gen.now == cut:
                    gen._last_level = None  # the upgraded plugin starts: every zone and the names
                ticks = []
                while len(ticks) < 12 and gen.now < end and (gen.now >= cut) == upgraded:
                    ticks.append(gen.tick())
                (after if upgraded else before).write_lines(gen.lines(ticks))
            counters = {
                name: conn.execute(sql_text).fetchone()[0]
                for name, sql_text in {
                    "power_first": 'SELECT energy_joules_total FROM lutron_power ORDER BY "time" LIMIT 1',
                    "power_last": 'SELECT energy_joules_total FROM lutron_power ORDER BY "time" DESC LIMIT 1',
                    "house_first": 'SELECT energy_joules_total FROM lutron_house ORDER BY "time" LIMIT 1',
                    "house_last": 'SELECT energy_joules_total FROM lutron_house ORDER BY "time" DESC LIMIT 1',
                }.items()
            }
        yield dsn, cut, counters
    finally:
        data.clear_caches(pools=True)
        drop_database(pg_server_dsn, dsn)


def test_an_upgraded_database_reads_snapshots_before_and_change_rows_after(
    upgraded: tuple[str, datetime, dict[str, float]],
) -> None:
    dsn, cut, c = upgraded
    start, end = cut - timedelta(hours=40), cut + timedelta(hours=40)
    with HistoryStore(dsn) as store:
        hours = store.energy("system", start, end, resolution="hour")
        days = store.energy("system", start, end, resolution="day")
        months = store.energy("system", start, end, resolution="month")
        zones = store.top_zones(start, end, limit=100)
        areas = store.energy("area", start, end, resolution="day")
        area_months = store.energy("area", start, end, resolution="month")
        one = areas[0].id
        only = store.energy("area", start, end, resolution="day", id=one)
    with psycopg.connect(dsn) as conn:
        snapshot_hours = dict(conn.execute("SELECT hour, energy_joules FROM lutron.system_hourly").fetchall())
        change_hours = dict(conn.execute("SELECT hour, energy_joules FROM lutron.house_hourly").fetchall())
    # Both generations are read, each bucket from where it was recorded ...
    got = {b.start: b.energy_kwh * J_PER_KWH for b in hours}
    cut_hour = cut.replace(minute=0)
    assert {h: v for h, v in got.items() if h < cut_hour} == pytest.approx(
        {h: v for h, v in snapshot_hours.items() if h < cut_hour}
    )
    assert {h: v for h, v in got.items() if h > cut_hour} == pytest.approx(
        {h: v for h, v in change_hours.items() if h > cut_hour}
    )
    assert got[cut_hour] == pytest.approx(snapshot_hours[cut_hour] + change_hours[cut_hour])
    # ... and nothing is lost or counted twice but the one step between the last snapshot and the
    # first change row (one generator, one counter): hours, days, months, areas and zones agree.
    total = (c["house_last"] - c["power_first"]) - (c["house_first"] - c["power_last"])
    assert [(b.start, b.energy_kwh) for b in only] == [(b.start, b.energy_kwh) for b in areas if b.id == one]
    for buckets in (hours, days, months, areas, area_months):
        assert sum(b.energy_kwh for b in buckets) * J_PER_KWH == pytest.approx(total, rel=1e-9)
    assert sum(z.energy_kwh for z in zones) * J_PER_KWH == pytest.approx(total, rel=1e-9)
