"""Plotly figures for the pages. Each function takes a DataFrame and returns a figure, and an empty
DataFrame gives a figure that says so, so they are tested without a browser.

Times are drawn as wall-clock time of the zone they carry (the loaders convert them to the house's
time zone): plotly would otherwise show UTC or the viewer's clock.

Names are text: every name and title passes through `escape.plotly_text` (plotly draws a subset of
HTML, links included, in labels, hover text, legends and titles).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from telegraf_lutron.webui.escape import plotly_text

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
HEIGHT = 340
_MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}
_PALETTE = px.colors.qualitative.Safe + px.colors.qualitative.Pastel + px.colors.qualitative.Set3


_TOP_LEGEND = {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1}
_SIDE_LEGEND = {"orientation": "v", "yanchor": "top", "y": 1.0, "xanchor": "left", "x": 1.01}


def _layout(
    fig: go.Figure,
    title: str,
    *,
    height: int = HEIGHT,
    legend: dict[str, object] | None = None,
    **kwargs: object,
) -> go.Figure:
    fig.update_layout(
        title={"text": plotly_text(title), "x": 0, "xanchor": "left", "font": {"size": 15}},
        height=height,
        margin=_MARGIN,
        legend=legend or _TOP_LEGEND,
        hoverlabel={"namelength": -1},
        **kwargs,
    )
    return fig


def empty_figure(title: str, message: str = "No data in this range") -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(
        text=plotly_text(message),
        showarrow=False,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        font={"size": 14},
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, title, height=220)


def wall_time(values: pd.Series) -> pd.Series:
    """Timezone-aware times as naive wall-clock times of their own zone (what the house's clock said)."""
    s = pd.to_datetime(values)
    return s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s


def _label(values: pd.Series, fallback: str) -> pd.Series:
    """Names as plotly text; missing or empty ones are `fallback`."""
    named = values.astype("object").where(values.notna() & (values.astype("object") != ""), fallback)
    return named.astype(str).map(plotly_text)


# --- power ------------------------------------------------------------------------------------------


def power_line(df: pd.DataFrame, title: str = "Power") -> go.Figure:
    """Average power per bin as a filled line, the highest sample per bin as a thin line.
    Columns: time, avg_watts, max_watts. Several series (an `id` column) are summed per time."""
    if df.empty:
        return empty_figure(title)
    d = df.groupby("time", as_index=False)[["avg_watts", "max_watts"]].sum(min_count=1).sort_values("time")
    x = wall_time(d["time"])
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=x,
            y=d["max_watts"],
            name="peak",
            mode="lines",
            line={"width": 1, "color": "rgba(230,120,30,0.6)", "shape": "hv"},
            hovertemplate="%{y:,.0f} W<extra>peak</extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=d["avg_watts"],
            name="average",
            mode="lines",
            fill="tozeroy",
            line={"width": 2, "color": "#1f77b4", "shape": "hv"},
            hovertemplate="%{y:,.0f} W<extra>average</extra>",
        )
    )
    fig.update_yaxes(title="W", rangemode="tozero")
    return _layout(fig, title, hovermode="x unified")


def areas_now_bar(df: pd.DataFrame, title: str = "Areas by power now", top: int = 15) -> go.Figure:
    """Horizontal bars, biggest on top. Columns: name, watts (and floor, shown on hover)."""
    d = df[df["watts"].fillna(0) > 0] if not df.empty else df
    if d.empty:
        return empty_figure(title, "Nothing draws power right now")
    d = d.sort_values("watts", ascending=False).head(top).iloc[::-1]
    names = _label(d["name"], "(unnamed area)")
    floors = _label(d["floor"], "") if "floor" in d else pd.Series([""] * len(d), index=d.index)
    fig = go.Figure(
        go.Bar(
            x=d["watts"],
            y=names,
            orientation="h",
            customdata=floors,
            marker_color="#f2a900",
            hovertemplate="%{y} (%{customdata}): %{x:,.0f} W<extra></extra>",
            text=[f"{w:,.0f} W" for w in d["watts"]],
            textposition="auto",
        )
    )
    fig.update_xaxes(title="W")
    fig.update_yaxes(type="category")
    return _layout(fig, title, height=max(220, 60 + 26 * len(d)))


# --- energy -----------------------------------------------------------------------------------------

_LABELS = {"day": "%a %d %b", "month": "%b %Y"}


STACK_GROUPS = 12  # more stacked colours than this cannot be told apart


def energy_stacked(
    df: pd.DataFrame,
    by: str = "area",
    resolution: str = "day",
    title: str | None = None,
    groups: int = STACK_GROUPS,
) -> go.Figure:
    """Energy per bucket as bars stacked by `by` ("area" or "floor"): the `groups` biggest, the rest
    together as "other". Columns: start, `by` (names; empty ones become "(none)"), energy_kwh."""
    title = title or f"Energy per {resolution} by {by}"
    if df.empty or df["energy_kwh"].sum() <= 0:
        return empty_figure(title)
    d = df.assign(group=_label(df[by], "(none)"), x=wall_time(df["start"]))
    totals = d.groupby("group")["energy_kwh"].sum().sort_values(ascending=False)
    if len(totals) > groups:
        rest = totals.index[groups - 1 :]
        other = f"{len(rest)} other {by}s"
        d["group"] = d["group"].where(~d["group"].isin(rest), other)
        totals = d.groupby("group")["energy_kwh"].sum()
        totals = pd.concat([totals.drop(other).sort_values(ascending=False), totals[[other]]])
    d = d.groupby(["x", "group"], as_index=False).agg(energy_kwh=("energy_kwh", "sum")).sort_values("x")
    hourly = resolution == "hour"
    if not hourly:
        # Days and months as named categories: one label under each bar, never a half-day tick.
        d["x"] = d["x"].dt.strftime(_LABELS.get(resolution, "%a %d %b"))
    fig = go.Figure()
    for i, group in enumerate(totals.index):
        g = d[d["group"] == group]
        fig.add_trace(
            go.Bar(
                x=g["x"],
                y=g["energy_kwh"],
                name=str(group),
                marker_color=_PALETTE[i % len(_PALETTE)],
                hovertemplate="%{x}: %{y:,.2f} kWh<extra>%{fullData.name}</extra>",
                # An hour's bar spans its hour, not a point at the hour's start.
                xperiod=3_600_000 if hourly else None,
                xperiodalignment="middle" if hourly else None,
            )
        )
    fig.update_layout(barmode="stack")
    if hourly:
        fig.update_xaxes(tickformat="%H:%M<br>%a %d")
    else:
        fig.update_xaxes(type="category", categoryorder="array", categoryarray=list(dict.fromkeys(d["x"])))
    fig.update_yaxes(title="kWh")
    # Many areas: a legend beside the plot scrolls, one above it would cover the title.
    return _layout(fig, title, height=HEIGHT + 40, legend=_SIDE_LEGEND)


TREEMAP_ZONES = 60  # up to this many zones the treemap shows them all at once


def energy_treemap(df: pd.DataFrame, title: str = "Where the energy went") -> go.Figure:
    """Floor > area > zone, sized by energy (zones drawn when there are at most TREEMAP_ZONES,
    else one click away). Columns: floor, area, zone, energy_kwh."""
    d = df[df["energy_kwh"] > 0] if not df.empty else df
    if d.empty:
        return empty_figure(title, "No energy recorded in this range")
    d = d.assign(
        floor=_label(d["floor"], "(no floor)"),
        area=_label(d["area"], "(no area)"),
        zone=_label(d["zone"], "(unnamed zone)"),
    )
    fig = px.treemap(
        d,
        path=[px.Constant("House"), "floor", "area", "zone"],
        values="energy_kwh",
        color_discrete_sequence=_PALETTE,
        # A big house shows floors and areas; a click on an area opens its zones.
        maxdepth=-1 if len(d) <= TREEMAP_ZONES else 3,
    )
    fig.update_traces(
        hovertemplate="%{label}<br>%{value:,.2f} kWh (%{percentRoot:.1%})<extra></extra>",
        texttemplate="%{label}<br>%{value:,.1f} kWh",
        root_color="lightgrey",
    )
    return _layout(fig, title, height=460)


def weekday_hour_heatmap(df: pd.DataFrame, title: str = "Average power by weekday and hour") -> go.Figure:
    """7 x 24 grid of average power. Columns: weekday (ISO 1 = Monday), hour (0-23), avg_watts."""
    if df.empty or df["avg_watts"].isna().all():
        return empty_figure(title)
    grid = (
        df.pivot_table(index="weekday", columns="hour", values="avg_watts", aggfunc="mean")
        .reindex(index=range(1, 8), columns=range(24))
        .astype(float)
    )
    fig = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(),
            x=[f"{h:02d}:00" for h in range(24)],
            y=list(WEEKDAYS),
            colorscale="YlOrRd",
            colorbar={"title": "W"},
            hovertemplate="%{y} %{x}: %{z:,.0f} W<extra></extra>",
            xgap=1,
            ygap=1,
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category", tickangle=0, dtick=3)
    return _layout(fig, title, height=320)


def top_zones_bar(df: pd.DataFrame, title: str = "Top zones by energy", top: int = 15) -> go.Figure:
    """Horizontal bars of the zones that used most. Columns: zone, area, energy_kwh."""
    return _kwh_hbar(
        df,
        title,
        "#2a9d8f",
        top,
        lambda d: _label(d["zone"], "(unnamed zone)") + " · " + _label(d["area"], ""),
    )


def _kwh_hbar(
    df: pd.DataFrame, title: str, color: str, top: int, labels: Callable[[pd.DataFrame], pd.Series]
) -> go.Figure:
    """Horizontal bars of the `top` rows by energy_kwh, largest on top, named by `labels`."""
    d = df[df["energy_kwh"] > 0] if not df.empty else df
    if d.empty:
        return empty_figure(title, "No energy recorded in this range")
    d = d.sort_values("energy_kwh", ascending=False).head(top).iloc[::-1]
    fig = go.Figure(
        go.Bar(
            x=d["energy_kwh"],
            y=labels(d),
            orientation="h",
            marker_color=color,
            hovertemplate="%{y}: %{x:,.2f} kWh<extra></extra>",
            text=[f"{v:,.2f}" for v in d["energy_kwh"]],
            textposition="auto",
        )
    )
    fig.update_xaxes(title="kWh")
    fig.update_yaxes(type="category")
    return _layout(fig, title, height=max(220, 60 + 26 * len(d)))


# --- one zone ---------------------------------------------------------------------------------------


def level_line(df: pd.DataFrame, title: str = "Level") -> go.Figure:
    """Dimmer level over time (0-100 %). Columns: time, avg_level, max_level."""
    if df.empty:
        return empty_figure(title)
    d = df.sort_values("time")
    x = wall_time(d["time"])
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=x,
            y=d["max_level"],
            name="highest",
            mode="lines",
            line={"width": 1, "color": "rgba(150,150,150,0.8)", "shape": "hv"},
            hovertemplate="%{y:.0f} %<extra>highest</extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=d["avg_level"],
            name="average",
            mode="lines",
            fill="tozeroy",
            line={"width": 2, "color": "#f2a900", "shape": "hv"},
            hovertemplate="%{y:.0f} %<extra>average</extra>",
        )
    )
    fig.update_yaxes(title="%", range=[0, 105])
    return _layout(fig, title, hovermode="x unified")


def on_hours_bar(df: pd.DataFrame, title: str = "Hours on per day") -> go.Figure:
    """Columns: day (date), on_hours, hours (hours with data that day)."""
    if df.empty:
        return empty_figure(title)
    d = df.groupby("day", as_index=False)[["on_hours", "hours"]].sum().sort_values("day")
    days = pd.to_datetime(d["day"]).dt.strftime("%a %d %b")  # one category per day: no half-day ticks
    fig = go.Figure(
        go.Bar(
            x=days,
            y=d["on_hours"],
            customdata=d["hours"],
            marker_color="#e76f51",
            hovertemplate="%{x}: %{y:.1f} h on (%{customdata} h recorded)<extra></extra>",
        )
    )
    fig.update_xaxes(type="category")
    fig.update_yaxes(title="hours", range=[0, 24.5])
    return _layout(fig, title)


# --- why ------------------------------------------------------------------------------------------


def kwh_bars(df: pd.DataFrame, label: str, title: str, *, color: str = "#e76f51", top: int = 15) -> go.Figure:
    """Horizontal bars of kWh per `label` (a cause, an area), largest on top. Columns: `label`,
    energy_kwh."""
    return _kwh_hbar(df, title, color, top, lambda d: _label(d[label], "?"))
