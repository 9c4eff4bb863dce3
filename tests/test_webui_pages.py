"""Every page of the web UI, run by AppTest against a real PostgreSQL holding generated history:
the numbers the pages show equal what the tables hold (queried here in plain SQL).

The history here is what a database upgraded from before the change rows holds: snapshots only
(`snapshot_setup`), read from their rows and rollups. tests/test_webui_changes.py runs the pages on
change rows and compares with an integration of those rows."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pytest
from ui_fixtures import TZ, UiSetup, app_test

from telegraf_lutron.webui import common, data

pytest_plugins = ["ui_fixtures"]  # the UI fixtures; the database ones come from conftest (pg_fixtures)
pytestmark = pytest.mark.db

J_PER_KWH = 3_600_000.0
BERLIN = ZoneInfo(TZ)


# --- helpers ----------------------------------------------------------------------------------------


def metric(at: Any, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r}; metrics: {[m.label for m in at.metric]}"
    return values[0]


def number(text: str) -> float:
    """`1,234.56 kWh` -> 1234.56"""
    return float(text.replace("≤", "").split()[0].replace(",", ""))


def assert_shows(text: str, expected: float) -> None:
    """`text` (e.g. `1,234.5 kWh`) is `expected` rounded to the decimals shown."""
    digits = text.split()[0].replace(",", "")
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    assert float(digits) == pytest.approx(expected, abs=0.5 * 10**-decimals + 1e-9), (text, expected)


def decoded(value: Any) -> Any:
    """Plotly's JSON with typed arrays (`{"dtype": "f8", "bdata": base64}`) turned back into lists."""
    if isinstance(value, dict):
        if set(value) >= {"dtype", "bdata"}:
            array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
            if "shape" in value:
                array = array.reshape([int(n) for n in str(value["shape"]).split(",")])
            return array.tolist()
        return {k: decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decoded(v) for v in value]
    return value


def charts(at: Any) -> list[dict[str, Any]]:
    return [decoded(json.loads(c.proto.spec)) for c in at.get("plotly_chart")]


def chart(at: Any, title_start: str) -> dict[str, Any]:
    for spec in charts(at):
        if str(spec["layout"]["title"]["text"]).startswith(title_start):
            return spec
    raise AssertionError(
        f"no chart titled {title_start!r}: {[c['layout']['title']['text'] for c in charts(at)]}"
    )


def table_with(at: Any, column: str) -> Any:
    """The first st.dataframe that has `column` (AppTest does not expose element keys)."""
    for df in at.dataframe:
        if column in df.value.columns:
            return df.value
    raise AssertionError(f"no dataframe with a {column!r} column")


def markdown(at: Any) -> str:
    """All markdown of the page, no-break spaces read as spaces."""
    return "\n".join(m.value for m in at.markdown).replace("\u00a0", " ")


def no_exceptions(at: Any) -> None:
    assert not at.exception, [e.value for e in at.exception]


def sql_one(dsn: str, query: str, *params: Any) -> Any:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query, params).fetchone()
    return row[0] if row else None


def local_midnight(t: datetime, days_back: int = 0) -> datetime:
    day = t.astimezone(BERLIN).date() - timedelta(days=days_back)
    return datetime(day.year, day.month, day.day, tzinfo=BERLIN)


@pytest.fixture(scope="module")
def ui_setup(snapshot_setup: UiSetup) -> UiSetup:
    """This module's house: history from before the change rows (see the module docstring)."""
    return snapshot_setup


@pytest.fixture
def frozen_now(ui_setup: UiSetup, monkeypatch: pytest.MonkeyPatch) -> datetime:
    """Ranges end one minute after the newest row, whenever the test runs."""
    now = ui_setup.last_row + timedelta(minutes=1)
    monkeypatch.setattr(data, "now_minute", lambda: now)
    return now


# --- Now --------------------------------------------------------------------------------------------


def test_now_shows_the_newest_system_row(ui_setup: UiSetup, ui_environ: pytest.MonkeyPatch) -> None:
    at = app_test(ui_setup.env, ui_environ, "now")
    no_exceptions(at)
    with psycopg.connect(ui_setup.dsn) as conn:
        watts, lights_on, lights_total, fans_on, shades_open = conn.execute(
            "SELECT watts, lights_on, lights_total, fans_on, shades_open FROM lutron_power"
            ' ORDER BY "time" DESC LIMIT 1'
        ).fetchone()
    assert metric(at, "Power now") == common.watts(watts)
    assert metric(at, "Lights on") == f"{lights_on:.0f} of {lights_total:.0f}"
    assert lights_total == sum(1 for z in ui_setup.design.zones if z.kind == "light")
    besides = f"{common.plural(int(fans_on), 'fan')} on, {common.plural(int(shades_open), 'shade')} open"
    assert any(besides in c.value for c in at.caption)


def test_now_energy_today_is_the_sum_of_todays_hourly_rollups(
    ui_setup: UiSetup,
    ui_environ: pytest.MonkeyPatch,
    frozen_now: datetime,
) -> None:
    at = app_test(ui_setup.env, ui_environ, "now")
    joules = sql_one(
        ui_setup.dsn,
        "SELECT coalesce(sum(energy_joules), 0) FROM lutron.system_hourly WHERE hour >= %s AND hour < %s",
        local_midnight(frozen_now),
        frozen_now,
    )
    assert_shows(metric(at, "Energy today"), joules / J_PER_KWH)
    assert_shows(metric(at, "Cost today"), joules / J_PER_KWH * 0.30)


def test_now_24h_chart_averages_the_raw_system_rows(
    ui_setup: UiSetup,
    ui_environ: pytest.MonkeyPatch,
    frozen_now: datetime,
) -> None:
    at = app_test(ui_setup.env, ui_environ, "now")
    spec = chart(at, "System power, last 24 hours")
    average = next(t for t in spec["data"] if t["name"] == "average")
    peak = next(t for t in spec["data"] if t["name"] == "peak")
    start = frozen_now - timedelta(hours=24)
    with psycopg.connect(ui_setup.dsn) as conn:
        raw_max, raw_avg = conn.execute(
            'SELECT max(watts), avg(watts) FROM lutron_power WHERE "time" >= %s AND "time" < %s',
            (start, frozen_now),
        ).fetchone()
    assert 250 <= len(average["y"]) <= 288  # 5-minute bins over 24 hours
    assert max(peak["y"]) == pytest.approx(raw_max)
    # Every bin holds 5 one-minute rows, so the mean of the bins is the mean of the rows.
    assert sum(average["y"]) / len(average["y"]) == pytest.approx(raw_avg, rel=0.02)


def test_now_ranks_areas_and_lists_the_zones_that_are_on(
    ui_setup: UiSetup, ui_environ: pytest.MonkeyPatch
) -> None:
    at = app_test(ui_setup.env, ui_environ, "now")
    with psycopg.connect(ui_setup.dsn) as conn:
        last = conn.execute('SELECT max("time") FROM lutron_zone').fetchone()[0]
        on = {
            r[0]: r[1]
            for r in conn.execute(
                'SELECT zone, kind FROM lutron_zone WHERE "time" = %s AND level > 0', (last,)
            )
        }
        top_area, top_watts = conn.execute(
            'SELECT area, watts FROM lutron_area WHERE "time" = %s ORDER BY watts DESC LIMIT 1', (last,)
        ).fetchone()
    table = at.dataframe[0].value
    assert dict(zip(table["Zone"], table["Kind"], strict=True)) == on  # every kind, shown as what it is
    always_on = next(z.name for z in ui_setup.design.zones if str(z.id) in ui_setup.always_on)
    row = table[table["Zone"] == always_on].iloc[0]
    assert row["Level %"] == 100
    assert row["On since"].startswith("≤ ")  # on since the records begin
    bars = chart(at, "Areas by power now")["data"][0]
    assert bars["y"][-1] == top_area  # biggest drawn on top
    assert bars["x"][-1] == pytest.approx(top_watts)


def test_now_shows_the_design_status(ui_setup: UiSetup, ui_environ: pytest.MonkeyPatch) -> None:
    at = app_test(ui_setup.env, ui_environ, "now")
    text = markdown(at)
    assert common.md("05/16/2025,17:34:22") in text
    assert "Fri 16 May 2025 17:34" in text
    assert f"**Zones:** {len(ui_setup.design.zones)}" in text
    power = [z for z in ui_setup.design.zones if z.draws_power]
    missing = sum(1 for z in power if not z.rated_watts)
    assert 0 < len(power) < len(ui_setup.design.zones)  # shades, motors and contacts need no wattage
    notice = next(i.value for i in at.info if "zones that draw power have no wattage" in i.value)
    assert f"{missing} of {len(power)} zones that draw power have no wattage" in notice
    assert "[[zone]]" in notice and "telegraf-lutron design wattage" in notice


# --- Energy -----------------------------------------------------------------------------------------


def system_kwh(
    dsn: str, *, days_from: datetime | None = None, hours: tuple[datetime, datetime] | None = None
) -> float:
    if hours is not None:
        start, end = hours
        joules = sql_one(
            dsn,
            "SELECT coalesce(sum(energy_joules), 0) FROM lutron.system_hourly"
            " WHERE hour > %s - interval '1 hour' AND hour < %s",
            start,
            end,
        )
    else:
        assert days_from is not None
        joules = sql_one(
            dsn,
            "SELECT coalesce(sum(energy_joules), 0) FROM lutron.system_daily WHERE day >= %s",
            days_from.date(),
        )
    return joules / J_PER_KWH


def test_energy_7d_equals_the_daily_rollup_sum(
    ui_setup: UiSetup,
    ui_environ: pytest.MonkeyPatch,
    frozen_now: datetime,
) -> None:
    at = app_test(ui_setup.env, ui_environ, "energy")
    no_exceptions(at)
    assert at.radio(key="energy_range").value == "7 d"
    kwh = system_kwh(ui_setup.dsn, days_from=local_midnight(frozen_now, 6))
    assert kwh > 1
    assert_shows(metric(at, "Energy"), kwh)
    assert_shows(metric(at, "Cost"), kwh * 0.30)
    peak = sql_one(ui_setup.dsn, "SELECT max(watts) FROM lutron_power")
    assert metric(at, "Peak power") == common.watts(peak)


def test_energy_24h_equals_the_hourly_rollup_sum(
    ui_setup: UiSetup,
    ui_environ: pytest.MonkeyPatch,
    frozen_now: datetime,
) -> None:
    at = app_test(ui_setup.env, ui_environ, "energy")
    at.radio(key="energy_range").set_value("24 h").run()
    no_exceptions(at)
    kwh = system_kwh(ui_setup.dsn, hours=(frozen_now - timedelta(hours=24), frozen_now))
    assert_shows(metric(at, "Energy"), kwh)
    bars = chart(at, "Energy per hour by area")
    with psycopg.connect(ui_setup.dsn) as conn:
        area_joules = conn.execute(
            "SELECT sum(energy_joules) FROM lutron.area_hourly WHERE hour > %s - interval '1 hour' AND hour < %s",
            (frozen_now - timedelta(hours=24), frozen_now),
        ).fetchone()[0]
    assert sum(sum(t["y"]) for t in bars["data"]) == pytest.approx(area_joules / J_PER_KWH, rel=1e-9)


def test_energy_1y_covers_all_history_and_stacks_by_floor(
    ui_setup: UiSetup,
    ui_environ: pytest.MonkeyPatch,
    frozen_now: datetime,
) -> None:
    at = app_test(ui_setup.env, ui_environ, "energy")
    at.radio(key="energy_range").set_value("1 y")
    at.radio(key="energy_by").set_value("floor").run()
    no_exceptions(at)
    total = sql_one(ui_setup.dsn, "SELECT sum(energy_joules) FROM lutron.system_daily") / J_PER_KWH
    assert_shows(metric(at, "Energy"), total)
    bars = chart(at, "Energy per month by floor")
    floors = {z.floor for z in ui_setup.design.zones}
    assert {t["name"] for t in bars["data"]} <= floors


def test_energy_custom_range_is_whole_local_days(
    ui_setup: UiSetup,
    ui_environ: pytest.MonkeyPatch,
    frozen_now: datetime,
) -> None:
    at = app_test(ui_setup.env, ui_environ, "energy")
    at.radio(key="energy_range").set_value("Custom").run()
    yesterday = frozen_now.astimezone(BERLIN).date() - timedelta(days=1)
    at.date_input(key="energy_custom").set_value((yesterday, yesterday)).run()
    no_exceptions(at)
    joules = sql_one(ui_setup.dsn, "SELECT energy_joules FROM lutron.system_daily WHERE day = %s", yesterday)
    assert_shows(metric(at, "Energy"), joules / J_PER_KWH)


def test_energy_treemap_top_zones_and_table_agree_with_zone_rollups(
    ui_setup: UiSetup,
    ui_environ: pytest.MonkeyPatch,
    frozen_now: datetime,
) -> None:
    at = app_test(ui_setup.env, ui_environ, "energy")  # 7 d: whole days, daily rollups
    with psycopg.connect(ui_setup.dsn) as conn:
        per_zone = dict(
            conn.execute(
                "SELECT zone, sum(energy_joules) / %s FROM lutron.zone_daily WHERE day >= %s GROUP BY zone",
                (J_PER_KWH, local_midnight(frozen_now, 6).date()),
            ).fetchall()
        )
    treemap = chart(at, "Where the energy went")["data"][0]
    leaves = {
        label: value
        for label, value, node in zip(treemap["labels"], treemap["values"], treemap["ids"], strict=True)
        if node.count("/") == 3  # House/floor/area/zone
    }
    assert leaves == pytest.approx({z: v for z, v in per_zone.items() if v > 0})
    top = chart(at, "Top zones by energy")["data"][0]
    best = max(per_zone, key=lambda z: per_zone[z])
    assert top["y"][-1].startswith(best)
    table = at.dataframe[0].value
    assert dict(zip(table["zone"], table["energy_kwh"], strict=True)) == pytest.approx(per_zone)


def test_energy_heatmap_is_the_mean_of_hourly_system_power(
    ui_setup: UiSetup,
    ui_environ: pytest.MonkeyPatch,
    frozen_now: datetime,
) -> None:
    at = app_test(ui_setup.env, ui_environ, "energy")
    z = chart(at, "Average power by weekday and hour")["data"][0]["z"]
    last_hour = (ui_setup.last_row.astimezone(BERLIN)).replace(minute=0)
    expected = sql_one(
        ui_setup.dsn,
        "SELECT avg(watts_avg) FROM lutron.system_hourly WHERE hour = %s",
        last_hour,
    )
    assert z[last_hour.isoweekday() - 1][last_hour.hour] == pytest.approx(expected)
    assert len(z) == 7 and all(len(row) == 24 for row in z)


def test_energy_csv_downloads_hold_what_is_shown(
    ui_setup: UiSetup,
    ui_environ: pytest.MonkeyPatch,
    frozen_now: datetime,
    csv_downloads: list[bytes],
) -> None:
    at = app_test(ui_setup.env, ui_environ, "energy")
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Energy per day and area (CSV)", "Energy per zone (CSV)", "Weekday × hour power (CSV)"]
    by_area, by_zone, _ = (c.decode() for c in csv_downloads)
    assert by_area.splitlines()[0].startswith("start,end,resolution,site,area_id,area,floor,energy_kwh")
    assert "+01:00" in by_area or "+02:00" in by_area  # local times with their offset
    shown = at.dataframe[0].value
    assert len(by_zone.splitlines()) == len(shown) + 1
    total = sum(float(line.split(",")[7]) for line in by_area.splitlines()[1:])
    area_joules = sql_one(
        ui_setup.dsn,
        "SELECT sum(energy_joules) FROM lutron.area_daily WHERE day >= %s",
        local_midnight(frozen_now, 6).date(),
    )
    assert total == pytest.approx(area_joules / J_PER_KWH)


# --- Zones ------------------------------------------------------------------------------------------


def always_on_zone(ui_setup: UiSetup) -> Any:
    return next(z for z in ui_setup.design.zones if str(z.id) in ui_setup.always_on)


def test_zones_finds_a_zone_by_name_and_shows_its_state(
    ui_setup: UiSetup, ui_environ: pytest.MonkeyPatch
) -> None:
    zone = always_on_zone(ui_setup)
    at = app_test(ui_setup.env, ui_environ, "zones")
    no_exceptions(at)
    at.text_input(key="zone_query").set_value(zone.name.upper()).run()  # case does not matter
    assert at.selectbox(key="zone_pick").options[0].startswith(zone.name)
    assert metric(at, "Level now") == "100 %"
    assert metric(at, "Power now") == common.watts(zone.rated_watts)
    assert metric(at, "On since").startswith("≤ ")
    assert metric(at, "Rated") == common.watts(zone.rated_watts)
    levels = chart(at, "Level, last 24 h")["data"]
    assert max(next(t for t in levels if t["name"] == "average")["y"]) == 100


def test_zones_opens_with_the_numbers_of_all_zones(ui_setup: UiSetup, ui_environ: pytest.MonkeyPatch) -> None:
    at = app_test(ui_setup.env, ui_environ, "zones")
    no_exceptions(at)
    assert [m.label for m in at.metric][:3] == [
        "Zones",
        "Lights on now",
        "Without wattage",
    ]  # before the search
    with psycopg.connect(ui_setup.dsn) as conn:
        with_history = {r[0] for r in conn.execute("SELECT DISTINCT zone_id FROM lutron_zone")}
        newest = conn.execute("SELECT max(time) FROM lutron_zone").fetchone()[0]
        on = conn.execute(
            "SELECT count(*) FROM lutron_zone WHERE time = %s AND level > 0 AND kind = 'light'", (newest,)
        ).fetchone()[0]
    design_ids = {str(z.id) for z in ui_setup.design.zones}
    assert metric(at, "Zones") == str(len(with_history | design_ids))
    assert metric(at, "Lights on now") == str(on) and on > 0
    # A light, fan or load without wattage, or not in the design at all: energy unknown either way.
    # Shades, motors and contacts need no wattage.
    unknown = sum(1 for z in ui_setup.design.zones if z.draws_power and z.rated_watts <= 0)
    unknown += len(with_history - design_ids)
    assert metric(at, "Without wattage") == str(unknown) and unknown > 0


def test_zones_power_and_on_hours_follow_the_range(
    ui_setup: UiSetup,
    ui_environ: pytest.MonkeyPatch,
    frozen_now: datetime,
) -> None:
    zone = always_on_zone(ui_setup)
    at = app_test(ui_setup.env, ui_environ, "zones")
    at.text_input(key="zone_query").set_value(zone.name).run()
    at.radio(key="zone_range").set_value("7 d").run()
    no_exceptions(at)
    power = chart(at, "Power, last 7 d")["data"]
    assert {round(v, 6) for v in next(t for t in power if t["name"] == "average")["y"]} == {zone.rated_watts}
    assert chart(at, "Level, last 48 h")  # raw rows: at most 48 hours
    bars = chart(at, "Hours on per day, last 7 days")["data"][0]
    with psycopg.connect(ui_setup.dsn) as conn:
        hours = dict(
            conn.execute(
                "SELECT to_char(day, 'Dy DD Mon'), count(*) FROM lutron.zone_hourly WHERE zone_id = %s GROUP BY day",
                (str(zone.id),),
            ).fetchall()
        )
    # Always on: every recorded hour counts as a whole hour on.
    assert dict(zip(bars["x"], bars["y"], strict=True)) == pytest.approx(hours)


def test_zones_lists_zones_left_on(ui_setup: UiSetup, ui_environ: pytest.MonkeyPatch) -> None:
    zone = always_on_zone(ui_setup)
    at = app_test(ui_setup.env, ui_environ, "zones")
    long_on = table_with(at, "On since")
    assert zone.name in set(long_on["Zone"])
    nights = table_with(at, "Night to")
    assert zone.name in set(nights["Zone"])
    assert set(nights[nights["Zone"] == zone.name]["Hours"]) == {5}
    at.number_input(key="left_on_hours").set_value(168).run()
    assert "**Lights, fans and loads on now for more than 168 h:** 0" in markdown(at)


def test_zones_search_without_a_match_says_so(ui_setup: UiSetup, ui_environ: pytest.MonkeyPatch) -> None:
    at = app_test(ui_setup.env, ui_environ, "zones")
    at.text_input(key="zone_query").set_value("no such zone xyz").run()
    no_exceptions(at)
    assert any("No zone matches" in i.value for i in at.info)


# --- Design -----------------------------------------------------------------------------------------


def test_design_shows_the_tree_with_levels_now(ui_setup: UiSetup, ui_environ: pytest.MonkeyPatch) -> None:
    design = ui_setup.design
    at = app_test(ui_setup.env, ui_environ, "design")
    no_exceptions(at)
    assert metric(at, "Zones") == str(len(design.zones))
    assert metric(at, "Keypads") == str(len(design.keypads))
    assert metric(at, "Rooms") == str(len(design.rooms))
    text = markdown(at)
    assert common.md("05/16/2025,17:34:22") in text
    for z in design.zones:
        assert f"| {common.md(z.name)} | {z.kind} | {common.md(z.output_type)} |" in text
        if not z.draws_power:  # a shade, motor or contact: no wattage needed
            assert f"| {common.md(z.name)} | {z.kind} | {common.md(z.output_type)} | none |" in text
    zone = always_on_zone(ui_setup)
    assert (
        f"| {common.md(zone.name)} | {zone.kind} | {common.md(zone.output_type)} | {zone.rated_watts:g} | 100 % |"
        in text
    )
    for k in design.keypads:
        assert f"**{common.md(k.name)}**" in text
        for b in k.buttons:
            if b.engraving and b.led_component is not None:
                assert f"`{b.component}` {common.md(b.engraving)} · LED {b.led_component}" in text


def test_design_search_finds_buttons_by_engraving(ui_setup: UiSetup, ui_environ: pytest.MonkeyPatch) -> None:
    design = ui_setup.design
    at = app_test(ui_setup.env, ui_environ, "design")
    at.text_input(key="design_query").set_value("dinner").run()
    found = table_with(at, "Kind")
    buttons = [b for k in design.keypads for b in k.buttons if "dinner" in b.engraving.casefold()]
    assert buttons
    assert len(found[found["Kind"] == "button"]) == len(buttons)


def test_design_revision_history_shows_what_changed(
    ui_setup: UiSetup, ui_environ: pytest.MonkeyPatch
) -> None:
    at = app_test(ui_setup.env, ui_environ, "design")
    history = table_with(at, "Revision")
    assert list(history["Revision"]) == ["05/16/2025,17:34:22", "05/01/2025,09:00:00"]
    assert list(history["Changes"]) == ["zones: +0 −0 ~1", "first cached revision"]
    first = ui_setup.design.zones[0]
    assert f"{common.md(first.name + ' (old)')} → **{common.md(first.name)}**" in markdown(at)
