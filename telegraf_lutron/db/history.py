"""Lighting history in Telegraf's shape, for the demo, the benchmarks and the tests.

- `TelegrafWriter` writes metrics into PostgreSQL the way Telegraf's outputs.postgresql does: the
  output's namepass/taginclude, one transaction per flush, per measurement a SAVEPOINT, Telegraf's
  column diff (ALTER TABLE ADD COLUMN for a missing one, and what it drops when that fails) and one
  `COPY ... (time, tags..., fields...) FROM STDIN`, columns named. `add_agent_tags` adds what
  Telegraf's agent adds (`host`, `[global_tags]`).
- `HistoryGenerator` makes realistic history: zones switching with the time of day, dimmer levels,
  shades open by day, fans at speed steps, energy counters integrating power exactly as the plugin
  does (and resets, gaps, renames on demand), lights, fans and shades counted as the plugin does.
- `zone_specs(design, site)` gives the generator a design's zones with exactly the tags the plugin
  writes for them, so generated history and live data are the same series.
"""

from __future__ import annotations

import random
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from telegraf_lutron.design import (
    FAN_SPEED_STEPS,
    PULSED_OUTPUT_TYPES,
    SPEED_OUTPUT_TYPES,
    Design,
    speed_step,
)
from telegraf_lutron.lineproto_parse import Metric, parse_stream
from telegraf_lutron.lineprotocol import encode, safe_tag_value

# --- writing like Telegraf's outputs.postgresql -------------------------------------------------

# Telegraf's lock around schema changes (outputs/postgresql/table_manager.go), shared by every
# Telegraf writing to the database.
SCHEMA_LOCK = 5705450890675909945


def ns_to_datetime(ts_ns: int) -> datetime:
    # PostgreSQL keeps microseconds; Telegraf's pgx encoder truncates the nanoseconds.
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ts_ns // 1000)


def add_agent_tags(
    metrics: Iterable[Metric], *, host: str | None = None, global_tags: Mapping[str, str] | None = None
) -> list[Metric]:
    """What Telegraf's agent adds to every metric before any output sees it (docs/telegraf.md §3):
    `host` (unless `[agent] omit_hostname = true`; pass None for that) and each `[global_tags]`
    entry, where the metric does not already carry that tag."""
    extra = dict(global_tags or {})
    if host is not None:
        extra["host"] = host
    return [Metric(m.name, dict(sorted({**extra, **m.tags}.items())), m.fields, m.ts) for m in metrics]


def _is_temporary(exc: psycopg.Error) -> bool:
    """Telegraf's split of PostgreSQL errors (docs/telegraf.md §3): temporary ones keep the batch
    buffered for the next flush, everything else is permanent."""
    state = exc.sqlstate or ""
    if state in ("57014", "57P04"):
        return False
    return state[:2] in ("53", "57", "25") or state in ("40P01", "42701", "42P07")


def _column_type(value: object) -> str:
    """The type Telegraf gives a new field column: that of the first value (bool before int: a
    Python bool is an int)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint"
    if isinstance(value, str):
        return "text"
    return "double precision"


class TelegrafWriter:
    """Writes metrics the way outputs.postgresql does (docs/telegraf.md §3), for tests, the demo
    and the benchmarks.

    - The output's metric filters first: `namepass` (measurement globs) and `taginclude` (tag key
      globs; the other tags are removed), as in `[[outputs.postgresql]]`.
    - One transaction per flush; per measurement a SAVEPOINT and Telegraf's table manager: the
      table's columns (read from information_schema, cached like Telegraf caches them) against the
      batch's tags and fields. A missing column is added in a nested transaction under Telegraf's
      schema lock, `ALTER TABLE ... ADD COLUMN IF NOT EXISTS` (tag columns commented 'tag'), or the
      table created when it does not exist (`create_tables`, Telegraf's default create_templates;
      text tags, fields typed by their first value, `timestamp_type` time). If that is not
      allowed (`create_tables`/`add_columns` off, like `create_templates = []` /
      `add_column_templates = []`) or fails with a permanent error (a role without DDL rights gets
      SQLSTATE 42501), Telegraf logs it and goes on without the column: every metric carrying a
      missing tag is dropped, a missing field is left out, a metric left without fields is
      dropped. `log` keeps those lines, `schema_errors` the errors.
    - Then one `COPY "schema"."measurement" ("time", tags..., fields...) FROM STDIN`, columns named
      (time, then tags and fields, each alphabetical), missing values NULL. (Text COPY here;
      Telegraf uses binary COPY.)
    """

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        *,
        schema: str = "public",
        create_tables: bool = False,
        add_columns: bool = True,
        timestamp_type: str = "timestamp with time zone",
        namepass: Sequence[str] | None = None,
        taginclude: Sequence[str] | None = None,
    ) -> None:
        if conn.autocommit:
            raise ValueError("TelegrafWriter needs a non-autocommit connection (one transaction per flush)")
        self.conn = conn
        self.schema = schema
        self.create_tables = create_tables
        self.add_columns = add_columns
        self.timestamp_type = timestamp_type
        self.namepass = namepass
        self.taginclude = taginclude
        self.copies: list[str] = []  # the COPY statements issued, for assertions
        self.log: list[str] = []  # what Telegraf would log about the schema
        self.schema_errors: list[psycopg.Error] = []
        self._columns: dict[str, set[str]] = {}  # Telegraf's per-table column cache

    def write_lines(self, text: str) -> None:
        """Parse `text` with the strict Telegraf parser and write all of it as one flush."""
        metrics, errors = parse_stream(text, eof=True)
        if errors:
            raise errors[0]
        self.write(metrics)

    def _selected(self, metrics: Iterable[Metric]) -> Iterator[Metric]:
        for m in metrics:
            if self.namepass is not None and not any(fnmatchcase(m.name, g) for g in self.namepass):
                continue
            if self.taginclude is not None:
                keep = self.taginclude
                m = Metric(
                    m.name,
                    {k: v for k, v in m.tags.items() if any(fnmatchcase(k, g) for g in keep)},
                    m.fields,
                    m.ts,
                )
            yield m

    def write(self, metrics: Iterable[Metric]) -> None:
        by_table: dict[str, list[Metric]] = defaultdict(list)
        for m in self._selected(metrics):
            by_table[m.name].append(m)
        with self.conn.transaction(), self.conn.cursor() as cur:
            for name, batch in by_table.items():
                with self.conn.transaction():  # SAVEPOINT, as Telegraf does per sub-batch
                    self._write_table(cur, name, batch)

    def _write_table(self, cur: psycopg.Cursor[Any], name: str, batch: list[Metric]) -> None:
        tags = sorted({k for m in batch for k in m.tags})
        fields = sorted({k for m in batch for k in m.fields})
        first_values = {k: v for m in reversed(batch) for k, v in m.fields.items()}
        missing = self._ensure_columns(cur, name, tags, {f: _column_type(first_values[f]) for f in fields})
        if "time" in missing:
            raise psycopg.errors.UndefinedColumn(
                f'metric/table mismatch: critical column "time" missing from {name!r}'
            )
        dropped_tags = [t for t in tags if t in missing]
        if dropped_tags:
            self.log.append(
                f"Table {name!r} is missing tag columns (dropping metrics): {', '.join(dropped_tags)}"
            )
        dropped_fields = [f for f in fields if f in missing]
        if dropped_fields:
            self.log.append(
                f"Table {name!r} is missing columns (omitting fields): {', '.join(dropped_fields)}"
            )
        tags = [t for t in tags if t not in missing]
        fields = [f for f in fields if f not in missing]
        rows = [
            m for m in batch if not any(t in missing for t in m.tags) and any(f in m.fields for f in fields)
        ]
        table = sql.Identifier(self.schema, name)
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in ["time", *tags, *fields])
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(table, columns)
        self.copies.append(statement.as_string(self.conn))
        with cur.copy(statement) as copy:
            for m in rows:
                ts = ns_to_datetime(m.ts if m.ts is not None else _now_ns())
                if self.timestamp_type == "timestamp without time zone":
                    ts = ts.replace(tzinfo=None)
                copy.write_row([ts, *(m.tags.get(t) for t in tags), *(m.fields.get(f) for f in fields)])

    def _read_columns(self, cur: psycopg.Cursor[Any], name: str) -> set[str]:
        cur.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (self.schema, name),
        )
        return {str(r[0]) for r in cur.fetchall()}

    def _ensure_columns(
        self, cur: psycopg.Cursor[Any], name: str, tags: list[str], fields: dict[str, str]
    ) -> set[str]:
        """Telegraf's EnsureStructure: the needed columns the table still lacks afterwards."""
        needed = ["time", *tags, *fields]
        if not set(needed) - self._columns.get(name, set()):
            return set()
        existing = self._read_columns(cur, name)
        self._columns[name] = existing
        missing = [c for c in needed if c not in existing]
        if not missing:
            return set()
        if (not existing and not self.create_tables) or (existing and not self.add_columns):
            return set(missing)
        table = sql.Identifier(self.schema, name)
        try:
            with self.conn.transaction():  # Telegraf: its own transaction (here nested: a savepoint)
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                types = {"time": self.timestamp_type} | dict.fromkeys(tags, "text") | fields
                definitions = sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(types[c])) for c in missing
                )
                if existing:
                    adds = sql.SQL(", ").join(
                        sql.SQL("ADD COLUMN IF NOT EXISTS {} {}").format(sql.Identifier(c), sql.SQL(types[c]))
                        for c in missing
                    )
                    cur.execute(sql.SQL("ALTER TABLE {} {}").format(table, adds))
                else:
                    cur.execute(sql.SQL("CREATE TABLE {} ({})").format(table, definitions))
                for c in missing:
                    if c in tags:
                        cur.execute(
                            sql.SQL("COMMENT ON COLUMN {}.{} IS 'tag'").format(table, sql.Identifier(c))
                        )
        except psycopg.Error as exc:
            if _is_temporary(exc):
                raise
            self.schema_errors.append(exc)
            self.log.append(f"Permanent error updating schema for {name}: {exc} (SQLSTATE {exc.sqlstate})")
            return set(missing)
        self._columns[name] = self._read_columns(cur, name)
        return set()


def _now_ns() -> int:
    return int(datetime.now(UTC).timestamp() * 1e9)


# --- realistic history --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ZoneSpec:
    zone_id: str
    zone: str
    area_id: str
    area: str
    floor: str
    output_type: str
    rated_watts: float
    dimmable: bool
    kind: str = "light"  # light, fan, shade, motor, contact or load (design.KINDS)
    # What may set its level (from a design: `zone_specs`): a keypad of its area and its buttons'
    # components, a time clock and its events' numbers; ("", ()) where the design has none (the
    # cause then carries no ids, as the plugin's does). None (no design): made-up ids.
    keypad: tuple[str, tuple[str, ...]] | None = None
    timeclock: tuple[str, tuple[str, ...]] | None = None

    @property
    def pulsed(self) -> bool:
        return self.output_type in PULSED_OUTPUT_TYPES


def make_house(n_zones: int, *, zones_per_area: int = 6, seed: int = 1) -> list[ZoneSpec]:
    """A house of `n_zones` zones in areas of about `zones_per_area`, on two or more floors."""
    rnd = random.Random(seed)
    kinds = [
        ("INC", True, (40, 300)),
        ("LED", True, (8, 60)),
        ("NON_DIM", False, (20, 150)),
        ("ELV", True, (20, 120)),
    ]
    names = [
        "Downlights",
        "Pendants",
        "Wall washers",
        "Cove",
        "Sconces",
        "Chandelier",
        "Track",
        "Under-cabinet",
    ]
    zones = []
    for i in range(n_zones):
        area_no = i // zones_per_area
        kind, dimmable, (lo, hi) = rnd.choice(kinds)
        zones.append(
            ZoneSpec(
                zone_id=str(100 + i),
                zone=f"{names[i % len(names)]} {i}",
                area_id=str(10 + area_no),
                area=f"Room {area_no}",
                floor=f"Floor {area_no % 3}",
                output_type=kind,
                rated_watts=float(rnd.randint(lo, hi)),
                dimmable=dimmable,
            )
        )
    return zones


@dataclass(slots=True)
class _ZoneState:
    level: float = 0.0
    energy: float = 0.0


@dataclass(frozen=True, slots=True)
class Tick:
    """One collection: every series' values at `ts_ns`."""

    ts_ns: int
    zones: list[tuple[ZoneSpec, float, float, float]]  # spec, level, watts, energy
    # area_id, area, floor, watts, energy, lights_on, fans_on, shades_open
    areas: list[tuple[str, str, str, float, float, float, float, float]]
    system: tuple[
        float, float, float, float, float, float
    ]  # watts, energy, lights/fans on, shades open, lights
    # The change rows of this instant (telegraf_lutron/changes.py): indexes into `zones` of the
    # zones that changed or get a checkpoint, whether the names are written (the first tick), and
    # the area events (area_id, on) of areas that went from all off to some on or back.
    changed: tuple[int, ...] = ()
    names: bool = False
    area_events: tuple[tuple[str, bool], ...] = ()
    # zone_id -> the cause tags of its level (docs/protocol.md §11), for the change rows
    causes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # Occupancy reports without a change of the lights (people left a lit room, or came back).
    occupancy: tuple[tuple[str, bool], ...] = ()
    # `lutron_area_change` rows of this instant: (area_id, unoccupied watts, unoccupied energy).
    unoccupied: tuple[tuple[str, float, float], ...] = ()


def _counts(zones: Iterable[tuple[ZoneSpec, float]]) -> tuple[float, float, float, float]:
    """Lights on, fans on, shades open and lights, as the plugin counts them (state.Counts)."""
    lights = fans = shades = total = 0.0
    for z, level in zones:
        on = 1.0 if level > 0 else 0.0
        if z.kind == "light":
            lights, total = lights + on, total + 1.0
        elif z.kind == "fan":
            fans += on
        elif z.kind == "shade":
            shades += on
    return lights, fans, shades, total


@dataclass
class HistoryGenerator:
    """Zones switching on and off with the time of day, dimmer levels, and energy counters that
    integrate power exactly as the plugin does (each counter on its own, surviving "restarts").

    `reset(series)` makes a counter restart from 0 at the next tick (a lost state file); a
    series is ("zone", zone_id), ("area", area_id) or ("system", "").
    """

    zones: Sequence[ZoneSpec]
    start: datetime
    step: timedelta = timedelta(minutes=1)
    site: str = "home"
    seed: int = 7
    tz: str = "Europe/Berlin"
    pinned: dict[str, float] = field(default_factory=dict)  # zone_id -> level held throughout
    now: datetime = field(init=False)
    _rnd: random.Random = field(init=False)
    _state: dict[str, _ZoneState] = field(init=False)
    _area_energy: dict[str, float] = field(init=False)
    _system_energy: float = field(init=False, default=0.0)
    _last_joules: dict[tuple[str, str], float] = field(init=False)
    checkpoint: timedelta = timedelta(minutes=15)  # the plugin's checkpoint_interval
    _last_level: dict[str, float] | None = field(init=False, default=None)
    _powered: set[str] = field(init=False, default_factory=set)
    _area_was_on: dict[str, bool] = field(init=False, default_factory=dict)
    _causes: dict[str, dict[str, str]] = field(init=False, default_factory=dict)
    _level_changes: int = field(init=False, default=0)
    # Energy in empty rooms: every area has an occupancy sensor here. An area is occupied from the
    # moment its lights go on until people leave (at random) or the lights go off; its lights on
    # while unoccupied count (lights only, as the plugin counts them).
    _occupied: dict[str, bool] = field(init=False, default_factory=dict)
    _unoccupied_energy: dict[str, float] = field(init=False, default_factory=dict)
    _last_unoccupied: dict[str, float] | None = field(init=False, default=None)
    _unoccupied_powered: set[str] = field(init=False, default_factory=set)
    _occupancy_rnd: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.now = self.start
        self._rnd = random.Random(self.seed)
        self._state = {
            z.zone_id: _ZoneState(level=self.pinned.get(z.zone_id, 0.0), energy=self._rnd.uniform(0, 5e6))
            for z in self.zones
        }
        self._area_energy = {z.area_id: self._rnd.uniform(0, 5e7) for z in self.zones}
        self._system_energy = self._rnd.uniform(0, 5e8)
        self._last_joules = defaultdict(float)
        self._zone_tz = ZoneInfo(self.tz)
        # Occupancy draws from its own stream: the levels stay what they always were.
        self._occupancy_rnd = random.Random(self.seed * 7919 + 1)
        self._unoccupied_energy = {z.area_id: self._occupancy_rnd.uniform(0, 5e6) for z in self.zones}

    def reset(self, level: str, key: str = "") -> None:
        """The counter restarted from 0 at the start of the interval that just ended (a lost state
        file), so the next row reports only that interval's energy."""
        joules = self._last_joules[(level, key)]
        if level == "zone":
            self._state[key].energy = joules
        elif level == "area":
            self._area_energy[key] = joules
        else:
            self._system_energy = joules

    def rename(self, zone_id: str, zone: str) -> None:
        """Rename a zone in the design; its id, and so its series and counter, stay."""
        self.zones = [replace(z, zone=zone) if z.zone_id == zone_id else z for z in self.zones]

    def pin(self, zone_id: str, level: float) -> None:
        """Hold a zone at `level` from the next interval on."""
        self.pinned[zone_id] = level

    def _p_on(self, when: datetime) -> float:
        hour = when.astimezone(self._zone_tz).hour
        if 6 <= hour < 8:
            return 0.5
        if 17 <= hour < 23:
            return 0.7
        if hour >= 23 or hour < 5:
            return 0.05
        return 0.3

    def _advance(self, dt: float) -> None:
        # Energy for the interval just ended, at the power that held during it (left Riemann sum).
        area_watts: dict[str, float] = defaultdict(float)
        for z in self.zones:
            st = self._state[z.zone_id]
            watts = z.rated_watts * st.level / 100.0
            st.energy += watts * dt
            self._last_joules[("zone", z.zone_id)] = watts * dt
            area_watts[z.area_id] += watts
        for area_id, watts in area_watts.items():
            self._area_energy[area_id] += watts * dt
            self._last_joules[("area", area_id)] = watts * dt
        total = sum(area_watts.values())
        self._system_energy += total * dt
        self._last_joules[("system", "")] = total * dt
        for area_id, watts in self._unoccupied_watts().items():
            self._unoccupied_energy[area_id] += watts * dt
        # New levels for the coming interval: a zone changes state now and then.
        p_on = self._p_on(self.now)
        for z in self.zones:
            st = self._state[z.zone_id]
            if z.zone_id in self.pinned:
                st.level = self.pinned[z.zone_id]
            elif self._rnd.random() < 0.1:
                if self._rnd.random() < p_on:
                    st.level = float(self._rnd.choice([25, 40, 60, 75, 100])) if z.dimmable else 100.0
                else:
                    st.level = 0.0
                if z.pulsed:
                    st.level = 0.0  # a pulsed contact closure is never on
                elif z.kind == "shade":  # open by day, closed at night
                    st.level = 100.0 if 7 <= self.now.astimezone(self._zone_tz).hour < 20 else 0.0
                elif z.output_type in SPEED_OUTPUT_TYPES:
                    st.level = FAN_SPEED_STEPS[speed_step(st.level)]

    def tick(self) -> Tick:
        """The values at the current time, then advance one step."""
        ts_ns = int((self.now - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1)) * 1000
        zones = []
        area_watts: dict[str, float] = defaultdict(float)
        area_levels: dict[str, list[tuple[ZoneSpec, float]]] = defaultdict(list)
        meta: dict[str, ZoneSpec] = {}
        for z in self.zones:
            st = self._state[z.zone_id]
            watts = z.rated_watts * st.level / 100.0
            zones.append((z, st.level, watts, st.energy))
            area_watts[z.area_id] += watts
            area_levels[z.area_id].append((z, st.level))
            meta[z.area_id] = z
        areas = [
            (
                aid,
                meta[aid].area,
                meta[aid].floor,
                area_watts[aid],
                self._area_energy[aid],
                *_counts(area_levels[aid])[:3],
            )
            for aid in sorted(meta)
        ]
        total = sum(area_watts.values())
        lights, fans, shades, lights_total = _counts((z, level) for z, level, _, _ in zones)
        system = (total, self._system_energy, lights, fans, shades, lights_total)
        lights_on = {aid: _counts(area_levels[aid])[0] for aid in meta}
        changed, names, area_events = self._changes(zones, lights_on)
        occupancy = self._occupancy(lights_on, area_events)
        tick = Tick(
            ts_ns,
            zones,
            areas,
            system,
            changed,
            names,
            area_events,
            dict(self._causes),
            occupancy,
            self._area_changes(),
        )
        self._advance(self.step.total_seconds())
        self.now += self.step
        return tick

    def _changes(
        self, zones: list[tuple[ZoneSpec, float, float, float]], area_on: dict[str, float]
    ) -> tuple[tuple[int, ...], bool, tuple[tuple[str, bool], ...]]:
        """What the plugin writes for PostgreSQL at this instant: every zone at the start, then the
        zones whose level changed, and at each clock-aligned checkpoint the zones that drew power
        during the period that ends now."""
        first = self._last_level is None
        last = self._last_level or {}
        epoch = self.now - datetime(1970, 1, 1, tzinfo=UTC)
        at_checkpoint = epoch % self.checkpoint == timedelta(0)
        changed = []
        for i, (z, level, _watts, _energy) in enumerate(zones):
            if first or last.get(z.zone_id) != level or (at_checkpoint and z.zone_id in self._powered):
                changed.append(i)
            if first or last.get(z.zone_id) != level:
                self._level_changes += 1
                self._causes[z.zone_id] = _cause_tags(z, level, self._level_changes)
        if at_checkpoint:
            self._powered = set()
        for z, _level, watts, _energy in zones:
            if watts > 0:
                self._powered.add(z.zone_id)
        self._last_level = {z.zone_id: level for z, level, _w, _e in zones}
        events = []
        for area_id in sorted(area_on):
            on = area_on[area_id] > 0
            if self._area_was_on.get(area_id) != on:
                events.append((area_id, on))
            self._area_was_on[area_id] = on
        return tuple(changed), first, tuple(events)

    def _unoccupied_watts(self) -> dict[str, float]:
        """Per area: the watts of its lights while it is unoccupied (0 while occupied)."""
        out = dict.fromkeys(self._unoccupied_energy, 0.0)
        for z in self.zones:
            if z.kind == "light" and not self._occupied.get(z.area_id, False):
                out[z.area_id] += z.rated_watts * self._state[z.zone_id].level / 100.0
        return out

    def _occupancy(
        self, lights_on: dict[str, float], area_events: tuple[tuple[str, bool], ...]
    ) -> tuple[tuple[str, bool], ...]:
        """Occupancy from now on: lights going on or off in an area set it (their events are
        `area_events`); while the lights stay on, people leave and come back now and then (those
        reports are returned)."""
        switched = dict(area_events)
        reports = []
        for area_id in sorted(lights_on):
            if area_id in switched:
                self._occupied[area_id] = switched[area_id]
            elif lights_on[area_id] > 0:
                occupied = self._occupied.get(area_id, False)
                if self._occupancy_rnd.random() < (0.03 if occupied else 0.05):
                    self._occupied[area_id] = not occupied
                    reports.append((area_id, not occupied))
        return tuple(reports)

    def _area_changes(self) -> tuple[tuple[str, float, float], ...]:
        """`lutron_area_change` rows now: every area at the start, then those whose unoccupied watts
        changed, and at each checkpoint those with unoccupied lights during the period."""
        watts = self._unoccupied_watts()
        first = self._last_unoccupied is None
        last = self._last_unoccupied or {}
        epoch = self.now - datetime(1970, 1, 1, tzinfo=UTC)
        at_checkpoint = epoch % self.checkpoint == timedelta(0)
        out = []
        for area_id in sorted(watts):
            w = watts[area_id]
            if first or last.get(area_id) != w or (at_checkpoint and area_id in self._unoccupied_powered):
                out.append((area_id, w, self._unoccupied_energy[area_id]))
        if at_checkpoint:
            self._unoccupied_powered = set()
        self._unoccupied_powered |= {a for a, w in watts.items() if w > 0}
        self._last_unoccupied = watts
        return tuple(out)

    def skip(self, duration: timedelta) -> None:
        """Time passes with nothing written (plugin or Telegraf down); counters keep integrating."""
        end = self.now + duration
        while self.now < end:
            self._advance(self.step.total_seconds())
            self.now += self.step

    def ticks(self, n: int) -> list[Tick]:
        return [self.tick() for _ in range(n)]

    def metrics(self, tick: Tick) -> list[tuple[str, dict[str, str], dict[str, float], int]]:
        """(measurement, tags, fields, ts_ns) per series, as the plugin reports them (floats only)."""
        out: list[tuple[str, dict[str, str], dict[str, float], int]] = []
        for z, level, watts, energy in tick.zones:
            tags = {
                "site": self.site,
                "zone_id": z.zone_id,
                "zone": z.zone,
                "area": z.area,
                "floor": z.floor,
                "output_type": z.output_type,
                "kind": z.kind,
            }
            fields = {
                "level": level,
                "watts": watts,
                "rated_watts": z.rated_watts,
                "energy_joules_total": energy,
            }
            if z.pulsed:
                fields["pulses_total"] = 0.0
            out.append(("lutron_zone", tags, fields, tick.ts_ns))
        for area_id, area, floor, watts, energy, lights_on, fans_on, shades_open in tick.areas:
            tags = {"site": self.site, "area_id": area_id, "area": area, "floor": floor}
            fields = {
                "watts": watts,
                "energy_joules_total": energy,
                "lights_on": lights_on,
                "fans_on": fans_on,
                "shades_open": shades_open,
            }
            out.append(("lutron_area", tags, fields, tick.ts_ns))
        watts, energy, lights_on, fans_on, shades_open, lights_total = tick.system
        fields = {
            "watts": watts,
            "energy_joules_total": energy,
            "lights_on": lights_on,
            "fans_on": fans_on,
            "shades_open": shades_open,
            "lights_total": lights_total,
        }
        out.append(("lutron_power", {"site": self.site}, fields, tick.ts_ns))
        out += self.change_metrics(tick)
        return out

    def change_metrics(self, tick: Tick) -> list[tuple[str, dict[str, str], dict[str, float], int]]:
        """The change rows of `tick` (telegraf_lutron/changes.py): zone changes and checkpoints
        (with their cause), the areas' unoccupied watts and energy, the house row, the names on the
        first tick, an occupancy event and a keypad LED per area whose lights went from all off to
        some on or back, and the occupancy reports in between."""
        out: list[tuple[str, dict[str, str], dict[str, float], int]] = []
        site, ts = self.site, tick.ts_ns
        for i in tick.changed:
            z, level, watts, energy = tick.zones[i]
            fields = {"level": level, "watts": watts, "energy_joules_total": energy}
            tags = {"site": site, "zone_id": z.zone_id, "kind": z.kind, **tick.causes.get(z.zone_id, {})}
            out.append(("lutron_zone_change", tags, fields, ts))
        if tick.names:
            for z, *_values in tick.zones:
                tags = {
                    "site": site,
                    "zone_id": z.zone_id,
                    "zone": z.zone,
                    "area_id": z.area_id,
                    "area": z.area,
                    "floor": z.floor,
                    "output_type": z.output_type,
                    "kind": z.kind,
                }
                out.append(("lutron_zone_info", tags, {"rated_watts": z.rated_watts}, ts))
        for area_id, watts, energy in tick.unoccupied:
            fields = {"unoccupied_watts": watts, "unoccupied_energy_joules_total": energy}
            out.append(("lutron_area_change", {"site": site, "area_id": area_id}, fields, ts))
        for area_id, on in tick.area_events:
            value = {"value": 1.0 if on else 0.0}
            out.append(("lutron_event", {"site": site, "event": "occupancy", "area_id": area_id}, value, ts))
            led = {"site": site, "event": "led", "device_id": str(1000 + int(area_id)), "component": "81"}
            out.append(("lutron_event", led, value, ts))
        for area_id, occupied in tick.occupancy:
            tags = {"site": site, "event": "occupancy", "area_id": area_id}
            out.append(("lutron_event", tags, {"value": 1.0 if occupied else 0.0}, ts))
        watts, energy = tick.system[:2]
        out.append(("lutron_house", {"site": site}, {"watts": watts, "energy_joules_total": energy}, ts))
        return out

    def lines(self, ticks: Iterable[Tick]) -> str:
        """Line protocol exactly as the plugin writes it (the project's encoder)."""
        return "".join(encode(m, t, f, ts) for tick in ticks for m, t, f, ts in self.metrics(tick))


def zone_specs(design: Design) -> list[ZoneSpec]:
    """The design's zones as the plugin tags them (see metrics.MetricSet): same names, same
    substitutes for empty ones, area_id = the area key, floor "" where the plugin omits it."""
    areas = {a.key: a for a in design.areas}
    keypads = {}  # area key -> its first keypad with buttons: (id, components)
    for k in design.keypads:
        if k.buttons and k.area_key not in keypads:
            keypads[k.area_key] = (str(k.id), tuple(str(b.component) for b in k.buttons))
    clock = next(
        ((str(t.id), tuple(str(e.number) for e in t.events)) for t in design.timeclocks if t.events), None
    )
    specs = []
    for z in design.zones:
        area = areas.get(z.area_key)
        specs.append(
            ZoneSpec(
                zone_id=str(z.id),
                zone=safe_tag_value(z.name) or f"zone {z.id}",
                area_id=str(z.area_key),
                area=safe_tag_value(area.name if area else z.area) or f"area {z.area_key}",
                floor=safe_tag_value(area.floor if area else z.floor),
                output_type=safe_tag_value(z.output_type) or "UNKNOWN",
                rated_watts=float(z.rated_watts),
                dimmable=z.dimmable,
                kind=z.kind,
                keypad=keypads.get(z.area_key, ("", ())),
                timeclock=clock or ("", ()),
            )
        )
    return specs


def _metrics(gen: HistoryGenerator, ticks: Iterable[Tick]) -> list[Metric]:
    # An empty tag is not written by the plugin (the line-protocol encoder omits it): same here.
    return [
        Metric(m, {k: v for k, v in sorted(t.items()) if v}, dict(f), ts)
        for tick in ticks
        for m, t, f, ts in gen.metrics(tick)
    ]


def seed_history(
    conn: psycopg.Connection[Any],
    design: Design,
    *,
    duration: timedelta,
    end: datetime,
    step: timedelta = timedelta(minutes=1),
    coarse_step: timedelta = timedelta(minutes=5),
    fine_window: timedelta = timedelta(days=2),
    site: str = "home",
    tz: str = "UTC",
    seed: int = 7,
    flush: timedelta = timedelta(hours=6),
    progress: Callable[[float], None] | None = None,
    namepass: Sequence[str] | None = None,
) -> int:
    """Write `duration` of generated history for `design`'s zones, ending at `end`, as Telegraf
    would (one flush per `flush` of history): every `step` over the last `fine_window` (what the
    UI reads raw), every `coarse_step` before that (only the rollups read it). One generator
    throughout, so the energy counters run on without a reset. `namepass`: the measurements
    written, as outputs.postgresql's filter (default: all the generator makes, snapshots and change
    rows). Returns the rows written."""
    start = end - duration
    fine_from = max(start, end - fine_window)
    gen = HistoryGenerator(zone_specs(design), start=start, step=coarse_step, site=site, seed=seed, tz=tz)
    writer = TelegrafWriter(conn, namepass=namepass)
    rows = 0
    total = (end - start).total_seconds() or 1.0
    while gen.now < end:
        if gen.now >= fine_from:
            gen.step = step
        batch_end = min(end, gen.now + flush, fine_from if gen.now < fine_from else end)
        ticks = []
        while gen.now < batch_end:
            ticks.append(gen.tick())
        batch = [m for m in _metrics(gen, ticks) if namepass is None or m.name in namepass]
        writer.write(batch)
        rows += len(batch)
        if progress is not None:
            progress(min(1.0, (gen.now - start).total_seconds() / total))
    return rows


_CAUSES = ("keypad", "timeclock", "occupancy", "integration", "app", "sequence", "local", "unknown")


def _cause_tags(zone: ZoneSpec, level: float, n: int) -> dict[str, str]:
    """A made-up cause for a zone's level, kept by its checkpoints, with the keypad button (the
    area's keypad, as its LED events say) or time clock event behind it (docs/protocol.md §11).
    Drawn from a hash of the change, not the generator's random stream (its data stays the same)."""
    draw = zlib.crc32(f"{zone.zone_id}:{level}:{n}".encode())
    cause = _CAUSES[draw % len(_CAUSES)]
    tags = {"cause": cause}
    if cause == "keypad" and zone.keypad is not None:  # a button of the area's keypad in the design
        keypad_id, buttons = zone.keypad
        if buttons:
            tags |= {"keypad_id": keypad_id, "component": buttons[(draw // 8) % len(buttons)]}
    elif cause == "keypad":
        tags |= {"keypad_id": str(1000 + int(zone.area_id)), "component": "1" if level > 0 else "3"}
    elif cause == "timeclock" and zone.timeclock is not None:
        clock_id, events = zone.timeclock
        if events:
            tags |= {"timeclock_id": clock_id, "timeclock_event": events[(draw // 8) % len(events)]}
    elif cause == "timeclock":
        tags |= {"timeclock_id": "1", "timeclock_event": "1" if level > 0 else "2"}
    return tags
