"""Chart functions: small DataFrames in, plotly figures out, no browser."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import plotly.graph_objects as go
import pytest

from telegraf_lutron.webui import charts


def times(*stamps: str, tz: str = "Europe/Berlin") -> pd.Series:
    return pd.to_datetime(pd.Series(stamps), utc=True).dt.tz_convert(tz)


def annotation(fig: go.Figure) -> str:
    return " ".join(a.text for a in fig.layout.annotations)


def test_wall_time_is_the_house_clock_not_utc() -> None:
    local = charts.wall_time(times("2024-06-03T12:00:00Z", "2024-12-03T12:00:00Z"))
    assert list(local) == [pd.Timestamp("2024-06-03 14:00"), pd.Timestamp("2024-12-03 13:00")]
    assert local.dt.tz is None


def test_power_line_sums_series_per_time_and_draws_average_and_peak() -> None:
    df = pd.DataFrame(
        {
            "time": times("2024-06-03T10:00:00Z", "2024-06-03T10:00:00Z", "2024-06-03T10:05:00Z"),
            "id": ["a", "b", "a"],
            "avg_watts": [100.0, 50.0, 80.0],
            "max_watts": [120.0, 60.0, 90.0],
        }
    )
    fig = charts.power_line(df, "Power")
    average = next(t for t in fig.data if t.name == "average")
    peak = next(t for t in fig.data if t.name == "peak")
    assert list(average.y) == [150.0, 80.0]
    assert list(peak.y) == [180.0, 90.0]
    assert pd.Timestamp(average.x[0]) == pd.Timestamp("2024-06-03 12:00")  # Berlin summer time
    assert fig.layout.title.text == "Power"


@pytest.mark.parametrize(
    ("function", "columns"),
    [
        (charts.power_line, ["time", "avg_watts", "max_watts"]),
        (charts.areas_now_bar, ["name", "floor", "watts"]),
        (charts.energy_stacked, ["start", "area", "energy_kwh"]),
        (charts.energy_treemap, ["floor", "area", "zone", "energy_kwh"]),
        (charts.weekday_hour_heatmap, ["weekday", "hour", "avg_watts"]),
        (charts.top_zones_bar, ["zone", "area", "energy_kwh"]),
        (charts.level_line, ["time", "avg_level", "max_level"]),
        (charts.on_hours_bar, ["day", "on_hours", "hours"]),
    ],
)
def test_every_chart_says_so_when_there_is_no_data(function: object, columns: list[str]) -> None:
    fig = function(pd.DataFrame(columns=columns))  # type: ignore[operator]
    assert isinstance(fig, go.Figure)
    assert not fig.data
    assert annotation(fig)


def test_areas_now_bar_puts_the_biggest_on_top_and_leaves_out_dark_areas() -> None:
    df = pd.DataFrame(
        {
            "name": ["Kitchen", "Hall", None, "Dark"],
            "floor": ["G", "G", "1", "1"],
            "watts": [300.0, 900.0, 50.0, 0.0],
        }
    )
    fig = charts.areas_now_bar(df)
    bar = fig.data[0]
    assert list(bar.y) == ["(unnamed area)", "Kitchen", "Hall"]  # plotly draws the last one on top
    assert list(bar.x) == [50.0, 300.0, 900.0]
    assert "Nothing draws power" in annotation(charts.areas_now_bar(df.assign(watts=0.0)))


def test_energy_stacked_has_one_trace_per_group_and_keeps_the_total() -> None:
    df = pd.DataFrame(
        {
            "start": times(
                "2024-06-01T22:00:00Z", "2024-06-01T22:00:00Z", "2024-06-02T22:00:00Z", "2024-06-02T22:00:00Z"
            ),
            "floor": ["Ground", "First", "Ground", None],
            "energy_kwh": [1.5, 2.0, 0.5, 0.25],
        }
    )
    fig = charts.energy_stacked(df, by="floor", resolution="day")
    assert fig.layout.barmode == "stack"
    assert {t.name for t in fig.data} == {"Ground", "First", "(none)"}
    assert sum(sum(t.y) for t in fig.data) == pytest.approx(4.25)
    ground = next(t for t in fig.data if t.name == "Ground")
    assert list(ground.x) == ["Sun 02 Jun", "Mon 03 Jun"]  # local days (Berlin), one category each
    assert list(fig.layout.xaxis.categoryarray) == ["Sun 02 Jun", "Mon 03 Jun"]
    assert fig.data[0].name == "First"  # the biggest group first (at the bottom of the stack)
    assert fig.layout.title.text == "Energy per day by floor"


def test_energy_stacked_by_hour_keeps_time_and_spans_each_hour() -> None:
    df = pd.DataFrame(
        {
            "start": times("2024-06-03T10:00:00Z", "2024-06-03T11:00:00Z"),
            "area": ["A", "A"],
            "energy_kwh": [1.0, 2.0],
        }
    )
    bar = charts.energy_stacked(df, resolution="hour").data[0]
    assert [pd.Timestamp(x) for x in bar.x] == [
        pd.Timestamp("2024-06-03 12:00"),
        pd.Timestamp("2024-06-03 13:00"),
    ]
    assert (bar.xperiod, bar.xperiodalignment) == (3_600_000, "middle")


def test_energy_stacked_lumps_small_groups_together_last() -> None:
    df = pd.DataFrame(
        {
            "start": times(*["2024-06-01T22:00:00Z"] * 5),
            "area": ["A", "B", "C", "D", "E"],
            "energy_kwh": [5.0, 4.0, 1.0, 3.0, 0.5],
        }
    )
    fig = charts.energy_stacked(df, groups=3)
    assert [t.name for t in fig.data] == ["A", "B", "3 other areas"]
    assert list(fig.data[-1].y) == [4.5]
    assert sum(sum(t.y) for t in fig.data) == pytest.approx(13.5)


def test_energy_treemap_nests_floor_area_zone_and_drops_zero_energy() -> None:
    df = pd.DataFrame(
        {
            "floor": ["G", "G", "1", "1"],
            "area": ["Kitchen", "Kitchen", "Bed", "Bed"],
            "zone": ["Downlights", "Island", "Lamp", "Off all month"],
            "energy_kwh": [3.0, 1.0, 2.0, 0.0],
        }
    )
    trace = charts.energy_treemap(df).data[0]
    values = dict(zip(trace.ids, trace.values, strict=True))
    assert values["House/G/Kitchen/Downlights"] == 3.0
    assert values["House/G/Kitchen"] == 4.0
    assert values["House"] == 6.0
    assert not any("Off all month" in i for i in trace.ids)
    assert trace.maxdepth == -1  # a small house: every zone drawn


def test_a_big_treemap_draws_floors_and_areas_and_keeps_the_zones_a_click_away() -> None:
    n = charts.TREEMAP_ZONES + 1
    df = pd.DataFrame(
        {
            "floor": ["G"] * n,
            "area": ["A", "B"] * (n // 2) + ["A"],
            "zone": [f"z{i}" for i in range(n)],
            "energy_kwh": [1.0] * n,
        }
    )
    trace = charts.energy_treemap(df).data[0]
    assert trace.maxdepth == 3
    assert "House/G/A/z0" in trace.ids


def test_weekday_hour_heatmap_is_seven_by_twenty_four_with_gaps_empty() -> None:
    df = pd.DataFrame({"weekday": [1, 7], "hour": [0, 23], "avg_watts": [100.0, 250.0]})
    trace = charts.weekday_hour_heatmap(df).data[0]
    z = trace.z
    assert len(z) == 7 and all(len(row) == 24 for row in z)
    assert z[0][0] == 100.0 and z[6][23] == 250.0
    assert math.isnan(z[3][12])
    assert list(trace.y) == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def test_top_zones_bar_takes_the_top_n_biggest_on_top() -> None:
    df = pd.DataFrame(
        {
            "zone": [f"z{i}" for i in range(20)],
            "area": ["A"] * 20,
            "energy_kwh": [float(i) for i in range(20)],
        }
    )
    bar = charts.top_zones_bar(df, top=5).data[0]
    assert list(bar.x) == [15.0, 16.0, 17.0, 18.0, 19.0]
    assert bar.y[-1] == "z19 · A"


def test_level_line_is_bounded_to_percent() -> None:
    df = pd.DataFrame({"time": times("2024-06-03T10:00:00Z"), "avg_level": [40.0], "max_level": [75.0]})
    fig = charts.level_line(df)
    assert tuple(fig.layout.yaxis.range) == (0, 105)
    assert next(t for t in fig.data if t.name == "average").y[0] == 40.0


def test_on_hours_bar_has_one_category_per_day() -> None:
    df = pd.DataFrame(
        {"day": [date(2024, 6, 3), date(2024, 6, 4)], "on_hours": [5.5, 24.0], "hours": [24, 24]}
    )
    bar = charts.on_hours_bar(df).data[0]
    assert list(bar.x) == ["Mon 03 Jun", "Tue 04 Jun"]
    assert list(bar.y) == [5.5, 24.0]
