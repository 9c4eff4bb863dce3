"""What every page shares: settings, the pages for states a person meets, formatting, the sidebar."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from telegraf_lutron.db.cli import telegraf_block
from telegraf_lutron.webui import data
from telegraf_lutron.webui.escape import csv_safe, md
from telegraf_lutron.webui.settings import Settings, load_settings

# --- settings -------------------------------------------------------------------------------------


def secrets() -> Mapping[str, Any]:
    """Streamlit secrets as a mapping, {} when there is no secrets.toml (never an error)."""
    try:
        if st.secrets.load_if_toml_exists():
            return dict(st.secrets)
    except Exception:  # a broken secrets.toml must not take the UI down; env vars still work
        return {}
    return {}


@dataclass(frozen=True, slots=True)
class Context:
    settings: Settings
    db: data.DbState
    tz: str  # the zone every time is shown in

    @property
    def dsn(self) -> str:
        return self.settings.dsn


def page(title: str, *, needs_db: bool = True) -> Context:
    """Start a page: title, setting warnings, sidebar; when the page needs the history and it is not
    there (unreachable, not initialised, empty), show what to do and stop the page."""
    settings = load_settings(secrets=secrets())
    st.title(title)
    for warning in settings.warnings:
        st.warning(warning, icon=":material/settings:")
    state = data.db_state(settings.dsn)
    tz = settings.timezone or state.timezone or "UTC"
    ctx = Context(settings, state, tz)
    sidebar(ctx)
    if needs_db and not state.ok:
        show_db_state(ctx)
        st.stop()
    return ctx


def sidebar(ctx: Context) -> None:
    s = ctx.settings
    with st.sidebar:
        st.caption("Settings")
        st.markdown(
            "\n".join(
                [
                    f"- Database: `{s.masked_dsn}`",
                    f"- Time zone: {md(ctx.tz)}",
                    f"- Tariff: {md(f'{s.tariff:g} {s.currency}/kWh') if s.tariff is not None else 'not set (TL_TARIFF)'}",
                    f"- Design cache: `{s.cache_dir}`",
                ]
            )
        )
        if st.button("Refresh", icon=":material/refresh:", help="Read everything again now"):
            data.clear_caches()
            st.rerun()


# --- states a person meets ------------------------------------------------------------------------


def show_db_state(ctx: Context) -> None:
    """A page for a database that is down, not set up, refusing us or empty."""
    state, s = ctx.db, ctx.settings
    if state.kind == "unavailable":
        st.error("**The history database cannot be reached.**", icon=":material/cloud_off:")
        st.markdown(md(state.message))
        st.markdown(
            "What to check:\n"
            "- that PostgreSQL is running and reachable from this machine;\n"
            f"- the connection string: `{s.masked_dsn}` (set `TL_DSN`, `TELEGRAF_LUTRON_DSN` or "
            "`dsn` in `.streamlit/secrets.toml`);\n"
            "- `telegraf-lutron db status --dsn ...` says what the database looks like.\n\n"
            "The Design page works without the database."
        )
    elif state.kind == "not_initialised":
        st.warning("**The database is not set up for telegraf-lutron yet.**", icon=":material/database:")
        st.markdown(md(state.message))
        st.markdown("Create the tables, rollups and triggers (safe to run again):")
        st.code(f"telegraf-lutron db init --dsn '{s.masked_dsn}' --timezone {ctx.tz}", language="bash")
        _telegraf_help(ctx, "public")
    elif state.kind == "empty":
        st.info(
            "**No lighting data yet.** The database is set up but holds no rows.", icon=":material/hourglass:"
        )
        _telegraf_help(ctx, state.raw_schema)
    else:
        st.error(f"**The history cannot be read:** {md(state.message)}", icon=":material/error:")


def _telegraf_help(ctx: Context, schema: str) -> None:
    st.markdown(
        "Wire Telegraf so it writes the plugin's metrics here:\n"
        "1. run the plugin under `[[inputs.execd]]` (see `telegraf.conf.example`);\n"
        "2. add this output to Telegraf's configuration (the password comes from `PGPASSWORD` in "
        "Telegraf's environment; the role needs INSERT, see `db init --telegraf-role`);\n"
        "3. restart Telegraf and reload this page after one flush interval (10 s by default)."
    )
    st.code(telegraf_block(ctx.dsn, schema), language="toml")


def show_no_design(info: data.DesignInfo) -> None:
    st.info(f"**No design yet.** {info.message}", icon=":material/account_tree:")


FILL_IN = (
    "Add a `[[zone]]` entry with its `id` and `watts` for each to the plugin's configuration "
    "(`lutron.toml`): `telegraf-lutron design wattage --host <processor>` prints them all, ready to "
    "fill in; restart the plugin (or reload Telegraf) and the next readings count them."
)


def wattage_note(
    design_info: data.DesignInfo,
    zone_energy: pd.DataFrame | None = None,
    reported: pd.DataFrame | None = None,
) -> bool:
    """Say when energy is unknown because lights, fans or loads have no wattage (shades, motors and
    contacts draw nothing and need none), and how to fill them in. `reported`: `snapshot().zones`,
    whose kinds and wattages (with the owner's overrides) win over the design's. Returns False when
    no zone that draws power has a wattage (energy is unknown altogether)."""
    design = design_info.design if design_info.ok else None
    if design is not None or (reported is not None and len(reported)):
        zones = data.effective_zones(design, reported)
        power = zones[zones["draws_power"]]
        missing = power[power["rated_watts"].fillna(0) <= 0]
        if len(power) and len(missing) == len(power):
            st.warning(
                f"**Energy unknown:** none of the {len(power)} lights, fans and loads has a wattage, so "
                f"power and energy read as zero. {FILL_IN}",
                icon=":material/help:",
            )
            return False
        if len(missing):
            kinds = missing["kind"].value_counts()
            what = ", ".join(plural(int(n), str(k)) for k, n in kinds.items())
            st.info(
                f"**{len(missing)} of {len(power)} zones that draw power have no wattage** ({what}): "
                f"their energy is unknown and not counted here. {FILL_IN}",
                icon=":material/info:",
            )
        return True
    if (
        zone_energy is not None
        and not zone_energy.empty
        and not (zone_energy["max_watts"].fillna(0) > 0).any()
    ):
        st.warning(
            f"**Energy unknown:** no zone has reported any power; most likely no zone has a wattage. {FILL_IN}",
            icon=":material/help:",
        )
        return False
    return True


# --- formatting -----------------------------------------------------------------------------------


def watts(w: float | None) -> str:
    if w is None or pd.isna(w):
        return "–"
    if w == 0:
        return "0 W"
    return f"{w:,.0f} W" if abs(w) >= 10 else f"{w:,.1f} W"


def _decimals(v: float) -> int:
    # Fewer decimals as numbers grow, so a metric card never cuts the unit off.
    return 2 if abs(v) < 100 else 1 if abs(v) < 1000 else 0


def kwh(v: float | None) -> str:
    if v is None or pd.isna(v):
        return "–"
    return f"{v:,.{_decimals(v)}f} kWh"


def money(v: float | None, currency: str) -> str:
    return "–" if v is None else f"{v:,.{2 if abs(v) < 1000 else 0}f} {currency}"


def duration(d: timedelta) -> str:
    minutes = int(d.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def when(t: datetime | pd.Timestamp | None, now: datetime | None = None) -> str:
    """A local time, with the date when it is not today."""
    if t is None or pd.isna(t):
        return "–"
    ts = pd.Timestamp(t)
    if now is not None and ts.date() == pd.Timestamp(now).date():
        return ts.strftime("%H:%M:%S")
    return ts.strftime("%a %d %b %Y %H:%M")


def ago(t: datetime | None, now: datetime) -> str:
    if t is None:
        return "never"
    seconds = (pd.Timestamp(now) - pd.Timestamp(t)).total_seconds()
    if seconds < 90:
        return f"{max(0, int(seconds))} s ago"
    return f"{duration(timedelta(seconds=seconds))} ago"


def zone_labels(zones: pd.DataFrame, *, with_site: bool) -> dict[Any, str]:
    """Row index -> "Zone (kind) — Area, Floor" (and " [site]" when the house has several sites),
    the choices of a zone picker; missing names read "(unnamed)" and "?", an unknown kind nothing."""

    def part(value: Any, missing: str) -> str:
        return missing if value is None or pd.isna(value) or value == "" else str(value)

    kinds = zones["kind"] if "kind" in zones else pd.Series(None, index=zones.index, dtype=object)
    return {
        i: f"{part(r.zone, '(unnamed)')}"
        + (f" ({kind})" if isinstance(kind, str) else "")
        + f" — {part(r.area, '?')}, {part(r.floor, '?')}"
        + (f" [{r.site}]" if with_site else "")
        for i, r, kind in zip(zones.index, zones.itertuples(), kinds, strict=True)
    }


CALENDAR_RANGES = ("24 h", "7 d", "30 d", "1 y")


def calendar_range(choice: str, tz: str, now: datetime) -> tuple[datetime, datetime, str]:
    """(start, end, description) of one of `CALENDAR_RANGES`, ending `now`: the last 24 hours, or
    whole local days from midnight (today included), or whole months for a year, so that the
    first bucket of the daily or monthly rollups is whole."""
    today = pd.Timestamp(now).tz_convert(tz).date()

    def midnight(day: date) -> datetime:
        # Calendar days, not 24-hour steps: a range across a DST change still starts at midnight
        # (or, where a zone skips midnight itself, at the first instant of that day).
        start = pd.Timestamp(day).tz_localize(tz, nonexistent="shift_forward", ambiguous=True)
        return start.to_pydatetime()

    if choice == "24 h":
        return now - timedelta(hours=24), now, "the last 24 hours"
    if choice == "7 d":
        return midnight(today - timedelta(days=6)), now, "the last 7 days (today included)"
    if choice == "30 d":
        return midnight(today - timedelta(days=29)), now, "the last 30 days (today included)"
    if choice == "1 y":
        first = (pd.Timestamp(today.replace(day=1)) - pd.DateOffset(months=11)).date()
        return midnight(first), now, "the last 12 months (this month included)"
    raise ValueError(f"unknown range {choice!r}: one of {', '.join(CALENDAR_RANGES)}")


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def csv_bytes(df: pd.DataFrame) -> bytes:
    """CSV with times as ISO 8601 including their offset, and text a spreadsheet would run as a
    formula neutralised (`escape.csv_text`)."""
    out = csv_safe(df)
    for c in out.columns:
        if isinstance(out[c].dtype, pd.DatetimeTZDtype):
            out[c] = out[c].map(lambda t: t.isoformat() if pd.notna(t) else "")
    return out.to_csv(index=False).encode()
