"""The metric catalogue: house state and session health as InfluxDB line protocol.

Every numeric field is a float, so the column types Telegraf's PostgreSQL output creates never
flip. Tag values come from the design through `lineprotocol.safe_tag_value`; a name that is empty
after that gets a documented substitute (`zone 27`, `area 12`, `keypad 40`, `Button 3`, `LED 81`);
an empty floor (RadioRA 2 rooms sit directly under the root) is simply not tagged.

Series prefixes (measurement and escaped tags) depend only on the design and the site, so they are
built once per design revision; an interval only formats numbers.

Counters start where Prometheus can see them start: the first line of every counter series carries
the value the series had when this process started (0 for a new one), and what was counted before
that line shows from the next one on (`CounterStarts`). Prometheus' `increase()` cannot count the
step up to a series' first sample, so otherwise the first connect, bad login or press of a run would
never show (docs/telegraf.md §2).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from telegraf_lutron import protocol as p
from telegraf_lutron.config import SysvarConfig
from telegraf_lutron.design import Area, Design, Zone
from telegraf_lutron.lineprotocol import encode_fields, safe_tag_value, series_prefix
from telegraf_lutron.state import ButtonCounts, Counts, HouseState

if TYPE_CHECKING:  # the catalogue must not pull the telnet client into the web UI and db
    from telegraf_lutron.connection import Counters

LED_STATES = {0: 0.0, 1: 1.0, 2: 2.0, 3: 3.0}


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: str  # Prometheus type under metric_version = 2: "gauge" or "counter"


@dataclass(frozen=True, slots=True)
class Measurement:
    """One measurement the plugin writes: the one source for the encoder's field names, the
    PostgreSQL tables, `metric_types` and the README's catalogue (tests compare them)."""

    name: str
    tags: tuple[str, ...]  # every tag key the plugin may write (some only where the design has it)
    fields: tuple[Field, ...]
    postgres: bool = False  # routed to outputs.postgresql (db init creates its table)
    # Snapshots written to PostgreSQL before the change rows: db init keeps the table and the UI reads
    # its history, but outputs.postgresql no longer takes them (the change rows carry the same facts).
    history_table: bool = False
    prometheus: bool = True  # False: change rows, kept out of outputs.prometheus_client (namedrop)
    optional_tags: tuple[str, ...] = ()  # written only where the design has a value (an empty floor)

    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def _fields(*pairs: tuple[str, str]) -> tuple[Field, ...]:
    return tuple(Field(name, kind) for name, kind in pairs)


_KEYPAD_TAGS = ("site", "keypad_id", "keypad", "area", "component", "button")

# Prometheus names (metric_version = 2) are <measurement>_<field>.
CATALOGUE: tuple[Measurement, ...] = (
    Measurement(
        "lutron_zone",
        ("site", "zone_id", "zone", "area", "floor", "output_type", "kind"),
        _fields(
            ("level", "gauge"),
            ("watts", "gauge"),
            ("rated_watts", "gauge"),
            ("energy_joules_total", "counter"),
            ("tilt", "gauge"),
            ("pulses_total", "counter"),  # pulsed contact closures only
        ),
        history_table=True,
        optional_tags=("floor",),
    ),
    Measurement(
        "lutron_area",
        ("site", "area_id", "area", "floor"),
        _fields(
            ("watts", "gauge"),
            ("energy_joules_total", "counter"),
            ("lights_on", "gauge"),
            ("fans_on", "gauge"),
            ("shades_open", "gauge"),
            # Lights while the area's occupancy group reported unoccupied (0 without sensors).
            ("unoccupied_energy_joules_total", "counter"),
        ),
        history_table=True,
        optional_tags=("floor",),
    ),
    Measurement(
        "lutron_power",
        ("site",),
        _fields(
            ("watts", "gauge"),
            ("energy_joules_total", "counter"),
            ("lights_on", "gauge"),
            ("fans_on", "gauge"),
            ("shades_open", "gauge"),
            # A gauge despite its suffix: list it by name under metric_types' gauge (gauge wins).
            ("lights_total", "gauge"),
            ("unoccupied_energy_joules_total", "counter"),
        ),
        history_table=True,
    ),
    # Energy by the cause of the levels that drew it (docs/protocol.md §11): every cause, always.
    Measurement(
        "lutron_cause",
        ("site", "cause"),
        _fields(("energy_joules_total", "counter"), ("lights_on", "gauge")),
    ),
    Measurement("lutron_led", _KEYPAD_TAGS, _fields(("state", "gauge"))),
    Measurement(
        "lutron_button",
        _KEYPAD_TAGS,
        _fields(
            ("presses_total", "counter"),
            ("releases_total", "counter"),
            ("holds_total", "counter"),
            ("multitaps_total", "counter"),
        ),
    ),
    Measurement("lutron_occupancy", ("site", "area_id", "area"), _fields(("occupied", "gauge"))),
    Measurement(
        "lutron_input",
        ("site", "device_id", "device", "area_id", "area", "component", "input"),
        _fields(("active", "gauge"), ("changes_total", "counter")),
    ),
    Measurement(
        "lutron_timeclock",
        ("site", "timeclock_id", "timeclock"),
        _fields(("mode", "gauge"), ("events_run_total", "counter")),
    ),
    Measurement("lutron_sysvar", ("site", "sysvar_id", "sysvar"), _fields(("state", "gauge"))),
    Measurement(
        "lutron_shade_group",
        ("site", "shadegroup_id", "shadegroup", "area_id", "area"),
        _fields(("level", "gauge")),
    ),
    Measurement("lutron_green_mode", ("site", "area_id", "area"), _fields(("step", "gauge"))),
    Measurement(
        "lutron_battery", ("site", "device_id", "device", "area_id", "area"), _fields(("status", "gauge"))
    ),
    Measurement(
        "lutron_processor",
        ("site", "host", "project"),
        _fields(
            ("up", "gauge"),
            ("connects_total", "counter"),
            ("disconnects_total", "counter"),
            ("bad_logins_total", "counter"),
            ("commands_total", "counter"),
            ("errors_total", "counter"),
            ("timeouts_total", "counter"),
            ("events_total", "counter"),
            ("unknown_events_total", "counter"),
            ("command_latency_seconds", "gauge"),
            ("design_export_timestamp_seconds", "gauge"),
            ("design_loaded", "gauge"),
            ("zones", "gauge"),
            ("keypads", "gauge"),
            ("clock_offset_seconds", "gauge"),
            ("sunrise_seconds", "gauge"),
            ("sunset_seconds", "gauge"),
        ),
    ),
    # One series per firmware seen: `info` is always 1 (a Prometheus info metric).
    Measurement("lutron_processor_info", ("site", "host", "firmware"), _fields(("info", "gauge"))),
    # Change rows for PostgreSQL only (`changes`): ids as tags, names in lutron_zone_info.
    # `cause` on every row; the keypad button or time clock event behind it where known.
    Measurement(
        "lutron_zone_change",
        ("site", "zone_id", "kind", "cause", "keypad_id", "component", "timeclock_id", "timeclock_event"),
        _fields(("level", "gauge"), ("watts", "gauge"), ("energy_joules_total", "counter")),
        postgres=True,
        prometheus=False,
        optional_tags=("keypad_id", "component", "timeclock_id", "timeclock_event"),
    ),
    Measurement(
        "lutron_house",
        ("site",),
        _fields(("watts", "gauge"), ("energy_joules_total", "counter")),
        postgres=True,
        prometheus=False,
    ),
    Measurement(
        "lutron_event",
        ("site", "event", "device_id", "area_id", "component"),
        _fields(
            ("value", "gauge"),
        ),
        postgres=True,
        prometheus=False,
        optional_tags=("device_id", "area_id", "component"),
    ),
    Measurement(
        "lutron_zone_info",
        ("site", "zone_id", "zone", "area_id", "area", "floor", "output_type", "kind"),
        _fields(
            ("rated_watts", "gauge"),
        ),
        postgres=True,
        prometheus=False,
        optional_tags=("floor",),
    ),
    # Energy in empty rooms, for areas with occupancy sensors only.
    Measurement(
        "lutron_area_change",
        ("site", "area_id"),
        _fields(("unoccupied_watts", "gauge"), ("unoccupied_energy_joules_total", "counter")),
        postgres=True,
        prometheus=False,
    ),
)
BY_NAME: dict[str, Measurement] = {m.name: m for m in CATALOGUE}


def measurement(name: str) -> Measurement:
    return BY_NAME[name]


def prometheus_names() -> dict[str, str]:
    """Every Prometheus metric name Telegraf exposes for our metrics, with its type."""
    return {f"{m.name}_{f.name}": f.type for m in CATALOGUE if m.prometheus for f in m.fields}


def prometheus_dropped() -> tuple[str, ...]:
    """The measurements kept out of outputs.prometheus_client (its `namedrop`): change rows."""
    return tuple(m.name for m in CATALOGUE if not m.prometheus)


def postgres_measurements() -> tuple[str, ...]:
    """The measurements routed to outputs.postgresql (its `namepass`), in catalogue order."""
    return tuple(m.name for m in CATALOGUE if m.postgres)


def postgres_tables() -> tuple[str, ...]:
    """Every measurement db init keeps a PostgreSQL table for: the routed ones and the snapshots
    whose history is read from before the change rows."""
    return tuple(m.name for m in CATALOGUE if m.postgres or m.history_table)


def postgres_tags() -> tuple[str, ...]:
    """Every tag a PostgreSQL-bound measurement may carry, sorted: the output's `taginclude`, so
    that Telegraf's own `host` and `[global_tags]` never reach tables without a column for them
    (docs/telegraf.md §3)."""
    return tuple(sorted({t for m in CATALOGUE if m.postgres for t in m.tags}))


def tag(value: str, fallback: str) -> str:
    return safe_tag_value(value) or fallback


DEFAULT_SITE = "home"  # the `site` tag when the configured site is empty or has no printable character


def site_tag(site: str) -> str:
    """The `site` tag of every line the plugin writes, snapshots and change rows alike."""
    return tag(site, DEFAULT_SITE)


def zone_tags(zone: Zone, site_tag: str) -> dict[str, str]:
    """A zone's tags as `lutron_zone` carries them (the floor only where the design has one)."""
    tags = {
        "site": site_tag,
        "zone_id": str(zone.id),
        "zone": tag(zone.name, f"zone {zone.id}"),
        "area": tag(zone.area, f"area {zone.area_key}"),
        "output_type": tag(zone.output_type, "UNKNOWN"),
        "kind": zone.kind,
    }
    if floor := safe_tag_value(zone.floor):
        tags["floor"] = floor
    return tags


@dataclass(frozen=True, slots=True)
class ProcessorHealth:
    """What `lutron_processor` reports of the session: up, its counters (a copy taken for this
    snapshot) and the mean command latency since the previous snapshot."""

    up: bool
    counters: Counters
    command_latency: float
    clock_offset: float | None = None  # processor time minus the plugin host's, seconds
    sunrise: float | None = None  # seconds after local midnight
    sunset: float | None = None
    firmware: str = ""  # "" until FIRMWAREREV or ?SYSTEM,8 answered
    unknown_events: int = 0  # events about zones, components or areas the design does not list


# lutron_processor's counters, as <name>_total: the session's and the events the design does not list.
_SESSION_COUNTS = (
    "connects",
    "disconnects",
    "bad_logins",
    "commands",
    "errors",
    "timeouts",
    "events",
    "unknown_events",
)


class CounterStarts:
    """Where each counter series starts, kept across design revisions for one process.

    The first line of a series carries its value from when the process started: what
    `counters.json` restored (energy, by cause and in empty rooms too, pulses, buttons, inputs, time
    clocks), else 0. The processor's
    session counters are not persisted, and its series changes with the `project` tag (a design read
    after a failed login, a renamed project): each such series counts from 0 when it first appears,
    with what happened since the previous series' last line in its second line, so the series add up
    to the session counters and a query that adds the first value of a new series never counts
    anything twice."""

    def __init__(self) -> None:
        self._initial: dict[Hashable, tuple[float, ...]] = {}
        self._written: set[Hashable] = set()
        self._processor_prefix: str | None = None
        self._processor_base: tuple[int, ...] = (0,) * len(_SESSION_COUNTS)
        self._processor_last: tuple[int, ...] = (0,) * len(_SESSION_COUNTS)

    def capture(self, state: HouseState) -> None:
        """Remember the counters as restored from counters.json; call before the first line."""
        self._initial = {("zone", k): (v,) for k, v in state.zone_energy.items()}
        self._initial |= {("pulses", k): (v,) for k, v in state.pulses.items()}
        self._initial |= {("area", k): (v,) for k, v in state.area_energy.items()}
        self._initial[("power",)] = (state.total_energy,)
        for key, b in state.buttons.items():
            self._initial[("button", key)] = (b.presses, b.releases, b.holds, b.multitaps)
        self._initial |= {("input", k): (v,) for k, v in state.rest.input_changes.items()}
        self._initial |= {("timeclock", k): (v,) for k, v in state.rest.events_run.items()}
        self._initial |= {("cause", k): (v,) for k, v in state.cause_energy.items()}
        self._initial |= {("unoccupied", k): (v,) for k, v in state.unoccupied_energy.items()}
        self._initial[("unoccupied_power",)] = (state.unoccupied_total,)

    def values(self, key: Hashable, current: tuple[float, ...]) -> tuple[float, ...]:
        """What the line of series `key` carries now: its start value the first time."""
        if key in self._written:
            return current
        self._written.add(key)
        return self._initial.get(key, (0.0,) * len(current))

    def processor(self, prefix: str, health: ProcessorHealth) -> dict[str, int]:
        """The session counters as the processor series `prefix` reports them now, by name."""
        c = health.counters
        raw: tuple[int, ...] = (c.connects, c.disconnects, c.bad_logins, c.commands, c.errors)
        raw += (c.timeouts, c.events, health.unknown_events)
        if prefix != self._processor_prefix:
            self._processor_prefix = prefix
            self._processor_base = self._processor_last
            counts: tuple[int, ...] = (0,) * len(raw)
        else:
            counts = tuple(r - b for r, b in zip(raw, self._processor_base, strict=True))
        self._processor_last = raw
        return dict(zip(_SESSION_COUNTS, counts, strict=True))


class MetricSet:
    """Line protocol for one design revision and site. `design_loaded` False: the placeholder used
    until a design was read (no `zones`/`keypads` then, so nothing reports an empty design)."""

    def __init__(
        self,
        design: Design,
        site: str,
        host: str,
        sysvars: Sequence[SysvarConfig] = (),
        *,
        design_loaded: bool = True,
        starts: CounterStarts | None = None,
    ) -> None:
        self.design = design
        self.design_loaded = design_loaded
        self.starts = starts if starts is not None else CounterStarts()
        site = site_tag(site)
        self._site = site
        areas = {a.key: a for a in design.areas}

        def area_tags(area: Area | None, key: int) -> dict[str, str]:
            tags = {"site": site, "area_id": str(key)}
            tags["area"] = tag(area.name, f"area {key}") if area else f"area {key}"
            floor = safe_tag_value(area.floor) if area else ""
            if floor:
                tags["floor"] = floor
            return tags

        self.zone_prefix = {z.id: series_prefix("lutron_zone", zone_tags(z, site)) for z in design.zones}
        zone_areas = {z.area_key for z in design.zones}
        self.area_zones: dict[int, list[int]] = {}
        for z in design.zones:
            self.area_zones.setdefault(z.area_key, []).append(z.id)
        self.area_prefix = {
            key: series_prefix("lutron_area", area_tags(areas.get(key), key)) for key in sorted(zone_areas)
        }
        self.occupancy_prefix = {
            a.iid: series_prefix(
                "lutron_occupancy",
                {"site": site, "area_id": str(a.iid), "area": tag(a.name, f"area {a.iid}")},
            )
            for a in design.occupancy_areas
        }
        self.power_prefix = series_prefix("lutron_power", {"site": site})
        self.cause_prefix = {
            cause: series_prefix("lutron_cause", {"site": site, "cause": cause}) for cause in p.CAUSE_NAMES
        }
        self.led_prefix: dict[tuple[int, int], str] = {}
        self.button_prefix: dict[tuple[int, int], str] = {}
        for k in design.keypads:
            base = {
                "site": site,
                "keypad_id": str(k.id),
                "keypad": tag(k.name, f"keypad {k.id}"),
                "area": tag(k.area, f"area {k.area_key}"),
            }
            for b in k.buttons:
                tags = {**base, "component": str(b.component), "button": tag(b.name, f"Button {b.component}")}
                self.button_prefix[(k.id, b.component)] = series_prefix("lutron_button", tags)
            for led in k.leds:
                button = k.button_for_led(led)
                name = tag(button.name, f"Button {button.component}") if button else f"LED {led}"
                tags = {**base, "component": str(led), "button": name}
                self.led_prefix[(k.id, led)] = series_prefix("lutron_led", tags)
        self.processor_prefix = series_prefix(
            "lutron_processor",
            {
                "site": site,
                "host": tag(host, "processor"),
                "project": tag(design.project.name, "unnamed project"),
            },
        )
        export = design.project.export
        self.export_timestamp = export.timestamp() if export is not None else None
        self._host_tag = tag(host, "processor")
        self._rest_prefixes(design, sysvars)

    def _rest_prefixes(self, design: Design, sysvars: Sequence[SysvarConfig]) -> None:
        site = self._site
        areas = {a.key: a for a in design.areas}

        def area_tags(key: int, fallback_id: int) -> dict[str, str]:
            area = areas.get(key)
            if area is None:
                return {"area_id": str(fallback_id), "area": f"area {fallback_id}"}
            area_id = area.iid or key  # containers keep their (negative) key, as lutron_area does
            return {"area_id": str(area_id), "area": tag(area.name, f"area {area_id}")}

        self.input_prefix: dict[tuple[int, int], str] = {}
        for i in design.inputs:
            tags = {
                "site": site,
                "device_id": str(i.device),
                "device": tag(i.device_name, f"device {i.device}"),
                **area_tags(i.area_key, i.area_key),
                "component": str(i.component),
                "input": i.kind,
            }
            self.input_prefix[(i.device, i.component)] = series_prefix("lutron_input", tags)
        self.timeclock_prefix = {
            t.id: series_prefix(
                "lutron_timeclock",
                {"site": site, "timeclock_id": str(t.id), "timeclock": tag(t.name, f"timeclock {t.id}")},
            )
            for t in design.timeclocks
        }
        self.sysvar_prefix = {
            v.id: series_prefix(
                "lutron_sysvar",
                {"site": site, "sysvar_id": str(v.id), "sysvar": tag(v.name, f"sysvar {v.id}")},
            )
            for v in sysvars
        }
        self.shade_group_prefix = {
            g.id: series_prefix(
                "lutron_shade_group",
                {
                    "site": site,
                    "shadegroup_id": str(g.id),
                    "shadegroup": tag(g.name, f"shade group {g.id}"),
                    **area_tags(g.area_key, g.area_key),
                },
            )
            for g in design.shade_groups
        }
        self.green_mode_prefix = {
            g.id: series_prefix("lutron_green_mode", {"site": site, **area_tags(g.area_key, g.id)})
            for g in design.green_modes
        }
        self.battery_prefix = {
            k.id: series_prefix(
                "lutron_battery",
                {
                    "site": site,
                    "device_id": str(k.id),
                    "device": tag(k.name, f"device {k.id}"),
                    **area_tags(k.area_key, k.area_key),
                },
            )
            for k in design.keypads
        }

    # --- lines ---------------------------------------------------------------------------

    @staticmethod
    def _line(prefix: str, fields: dict[str, float], ts: str) -> str:
        encoded = encode_fields(fields)
        return f"{prefix} {encoded}{ts}\n" if encoded else ""

    def zone_line(self, state: HouseState, zone_id: int, ts: str) -> str:
        zone = self.design.zone(zone_id)
        if zone is None:
            return ""
        fields = {}
        level = state.level(zone_id)
        if level is not None:
            fields["level"] = float(level)
        fields["watts"] = state.watts(zone_id)
        fields["rated_watts"] = float(zone.rated_watts)
        (fields["energy_joules_total"],) = self.starts.values(
            ("zone", zone_id), (state.zone_energy.get(zone_id, 0.0),)
        )
        tilt = state.rest.tilts.get(zone_id)
        if tilt is not None:
            fields["tilt"] = float(tilt)
        if zone.pulsed:
            (fields["pulses_total"],) = self.starts.values(
                ("pulses", zone_id), (state.pulses.get(zone_id, 0.0),)
            )
        return self._line(self.zone_prefix[zone_id], fields, ts)

    def area_line(self, state: HouseState, key: int, counts: Counts, ts: str) -> str:
        (energy,) = self.starts.values(("area", key), (state.area_energy.get(key, 0.0),))
        (unoccupied,) = self.starts.values(("unoccupied", key), (state.unoccupied_energy.get(key, 0.0),))
        fields = {
            "watts": counts.watts,
            "energy_joules_total": energy,
            "lights_on": float(counts.lights_on),
            "fans_on": float(counts.fans_on),
            "shades_open": float(counts.shades_open),
            "unoccupied_energy_joules_total": unoccupied,
        }
        return self._line(self.area_prefix[key], fields, ts)

    def power_line(self, state: HouseState, ts: str) -> str:
        counts = state.system_totals()
        (energy,) = self.starts.values(("power",), (state.total_energy,))
        (unoccupied,) = self.starts.values(("unoccupied_power",), (state.unoccupied_total,))
        fields = {
            "watts": counts.watts,
            "energy_joules_total": energy,
            "lights_on": float(counts.lights_on),
            "fans_on": float(counts.fans_on),
            "shades_open": float(counts.shades_open),
            "lights_total": float(counts.lights),
            "unoccupied_energy_joules_total": unoccupied,
        }
        return self._line(self.power_prefix, fields, ts)

    def cause_lines(self, state: HouseState, ts: str) -> Iterator[str]:
        """`lutron_cause`: energy and lights on by cause, a line for every cause."""
        lights_on = state.lights_on_by_cause()
        for cause, prefix in self.cause_prefix.items():
            (energy,) = self.starts.values(("cause", cause), (state.cause_energy.get(cause, 0.0),))
            yield self._line(
                prefix, {"energy_joules_total": energy, "lights_on": float(lights_on[cause])}, ts
            )

    def led_line(self, key: tuple[int, int], value: int, ts: str) -> str:
        prefix = self.led_prefix.get(key)
        if prefix is None or value not in LED_STATES:
            return ""  # 255 = unknown (RA2): no sample rather than a made-up one
        return self._line(prefix, {"state": LED_STATES[value]}, ts)

    def button_line(self, key: tuple[int, int], counts: ButtonCounts, ts: str) -> str:
        prefix = self.button_prefix.get(key)
        if prefix is None:
            return ""
        current = (counts.presses, counts.releases, counts.holds, counts.multitaps)
        presses, releases, holds, multitaps = self.starts.values(("button", key), current)
        fields = {
            "presses_total": presses,
            "releases_total": releases,
            "holds_total": holds,
            "multitaps_total": multitaps,
        }
        return self._line(prefix, fields, ts)

    def occupancy_line(self, area_iid: int, occupied: bool | None, ts: str) -> str:
        prefix = self.occupancy_prefix.get(area_iid)
        if prefix is None or occupied is None:
            return ""
        return self._line(prefix, {"occupied": 1.0 if occupied else 0.0}, ts)

    def processor_line(self, health: ProcessorHealth, ts: str) -> str:
        counts = self.starts.processor(self.processor_prefix, health)
        fields = {"up": 1.0 if health.up else 0.0}
        fields |= {f"{name}_total": float(value) for name, value in counts.items()}
        fields["command_latency_seconds"] = health.command_latency
        fields["design_loaded"] = 1.0 if self.design_loaded else 0.0
        if self.design_loaded:  # absent until a design was read: a failed login is not an empty design
            fields["zones"] = float(len(self.design.zones))
            fields["keypads"] = float(len(self.design.keypads))
        if self.export_timestamp is not None:
            fields["design_export_timestamp_seconds"] = self.export_timestamp
        for name, value in (
            ("clock_offset_seconds", health.clock_offset),
            ("sunrise_seconds", health.sunrise),
            ("sunset_seconds", health.sunset),
        ):
            if value is not None:
                fields[name] = value
        return self._line(self.processor_prefix, fields, ts)

    def processor_info_line(self, firmware: str, ts: str) -> str:
        if not (value := safe_tag_value(firmware)):
            return ""
        tags = {"site": self._site, "host": self._host_tag, "firmware": value}
        return self._line(series_prefix("lutron_processor_info", tags), {"info": 1.0}, ts)

    def input_line(self, state: HouseState, key: tuple[int, int], ts: str) -> str:
        prefix = self.input_prefix.get(key)
        if prefix is None:
            return ""
        rest = state.rest
        (changes,) = self.starts.values(("input", key), (rest.input_changes.get(key, 0.0),))
        fields = {"changes_total": changes}
        active = rest.inputs.get(key)
        if active is not None:
            fields["active"] = 1.0 if active else 0.0
        return self._line(prefix, fields, ts)

    def timeclock_line(self, state: HouseState, clock: int, ts: str) -> str:
        prefix = self.timeclock_prefix.get(clock)
        if prefix is None:
            return ""
        rest = state.rest
        (events_run,) = self.starts.values(("timeclock", clock), (rest.events_run.get(clock, 0.0),))
        fields = {"events_run_total": events_run}
        if (mode := rest.clock_modes.get(clock)) is not None:
            fields["mode"] = float(mode)
        return self._line(prefix, fields, ts)

    def sysvar_line(self, state: HouseState, sysvar: int, ts: str) -> str:
        prefix, value = self.sysvar_prefix.get(sysvar), state.rest.sysvars.get(sysvar)
        return "" if prefix is None or value is None else self._line(prefix, {"state": float(value)}, ts)

    def shade_group_line(self, state: HouseState, group: int, ts: str) -> str:
        prefix, value = self.shade_group_prefix.get(group), state.rest.shade_levels.get(group)
        return "" if prefix is None or value is None else self._line(prefix, {"level": float(value)}, ts)

    def green_mode_line(self, state: HouseState, mode: int, ts: str) -> str:
        prefix, value = self.green_mode_prefix.get(mode), state.rest.green_steps.get(mode)
        return "" if prefix is None or value is None else self._line(prefix, {"step": float(value)}, ts)

    def battery_line(self, state: HouseState, device: int, ts: str) -> str:
        prefix, value = self.battery_prefix.get(device), state.rest.batteries.get(device)
        return "" if prefix is None or value is None else self._line(prefix, {"status": float(value)}, ts)

    def rest_lines(self, state: HouseState, ts: str) -> Iterator[str]:
        """Inputs, time clocks, system variables, shade groups, green modes and batteries."""
        for key in self.input_prefix:
            yield self.input_line(state, key, ts)
        for clock in self.timeclock_prefix:
            yield self.timeclock_line(state, clock, ts)
        for sysvar in self.sysvar_prefix:
            yield self.sysvar_line(state, sysvar, ts)
        for group in self.shade_group_prefix:
            yield self.shade_group_line(state, group, ts)
        for mode in self.green_mode_prefix:
            yield self.green_mode_line(state, mode, ts)
        for device in state.rest.batteries:
            yield self.battery_line(state, device, ts)

    def change_lines(self, state: HouseState, event: p.Event, ts: str) -> str:
        """The series an event of the rest of the house changed (emit-on-change), or ""."""
        if isinstance(event, p.ButtonEvent):
            return self.input_line(state, (event.device, event.component), ts)
        if isinstance(event, p.TimeclockReport):
            return self.timeclock_line(state, event.clock, ts)
        if isinstance(event, p.SysvarState):
            return self.sysvar_line(state, event.sysvar, ts)
        if isinstance(event, p.ShadeGroupLevel):
            return self.shade_group_line(state, event.group, ts)
        if isinstance(event, p.GreenModeStep):
            return self.green_mode_line(state, event.area, ts)
        if isinstance(event, p.BatteryReport):
            return self.battery_line(state, event.device, ts)
        return ""

    def snapshot(self, state: HouseState, health: ProcessorHealth, ts_ns: int | None, *, house: bool) -> str:
        """Every series, as one string. `house` False: only the processor line (no state known)."""
        ts = f" {ts_ns}" if ts_ns is not None else ""
        return "".join(self._snapshot_lines(state, health, ts, house))

    def _snapshot_lines(
        self, state: HouseState, health: ProcessorHealth, ts: str, house: bool
    ) -> Iterator[str]:
        yield self.processor_line(health, ts)
        yield self.processor_info_line(health.firmware, ts)
        if not house:
            return
        yield self.power_line(state, ts)
        yield from self.cause_lines(state, ts)
        totals = state.area_totals()
        for area_key in self.area_prefix:
            yield self.area_line(state, area_key, totals.get(area_key) or Counts(), ts)
        for zone_id in self.zone_prefix:
            yield self.zone_line(state, zone_id, ts)
        for led, value in state.leds.items():
            yield self.led_line(led, value, ts)
        zero = ButtonCounts()
        for button in self.button_prefix:
            yield self.button_line(button, state.buttons.get(button, zero), ts)
        for area_iid in self.occupancy_prefix:
            yield self.occupancy_line(area_iid, state.occupancy.get(area_iid), ts)
        yield from self.rest_lines(state, ts)

    def zone_change_lines(self, state: HouseState, zone_ids: set[int], ts_ns: int | None) -> str:
        """What changes when zones change: those zones, their areas (once each) and the house."""
        ts = f" {ts_ns}" if ts_ns is not None else ""
        zones = [z for z in (self.design.zone(i) for i in sorted(zone_ids)) if z is not None]
        if not zones:
            return ""
        lines = [self.zone_line(state, z.id, ts) for z in zones]
        for key in sorted({z.area_key for z in zones}):
            lines.append(self.area_line(state, key, state.counts(self.area_zones.get(key, ())), ts))
        lines.append(self.power_line(state, ts))
        return "".join(lines)
