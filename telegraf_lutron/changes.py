"""Change rows for PostgreSQL: what changed, when it changed.

The snapshot (`metrics.MetricSet.snapshot`) is for Prometheus, which wants every series at every
interval. PostgreSQL gets these instead (docs/telegraf.md §3: execd stdout is read at any time, and
each line carries the plugin's own timestamp, so they are valid in every `signal` mode):

- `lutron_zone_change`: a zone's level, watts and energy counter, at the instant of the level
  report (the counter integrated up to that instant); tagged with the zone's id and kind (light,
  fan, shade, ...) and the cause of the level from this row on (docs/protocol.md §11), with the
  keypad button (`keypad_id`, `component`) or time clock event (`timeclock_id`, `timeclock_event`)
  behind it where known. A level change's row waits for its `~OUTPUT,<id>,29` line, at most
  `CAUSE_WAIT` (its timestamp stays the change's own), and is written with cause `unknown` when
  none comes; checkpoints and baselines carry the cause the level has then;
- checkpoints (the same measurement): at every clock-aligned `checkpoint_interval` (default
  15 min), a row for each zone that drew power (watts above 0: lights, fans and loads that were
  on, or a shade an owner gave watts) at any time during the period that just ended, so
  energy is known at bounded gaps and a lost "off" row is corrected by the next checkpoint; a zone
  off for the whole period gets none;
- `lutron_house`: the house's watts and energy counter every minute (clock-aligned), so a reader
  can tell "no changes" from "no data";
- `lutron_event`: LED, button, occupancy and contact-input changes (`event` = led, button,
  occupancy, input; `value` = LED state, button action code, 1/0 occupied, 1/0 closed);
- `lutron_zone_info`: the names behind the ids (zone, area, floor, output type, rated watts),
  written after each full read of the state (a connect), so change rows carry ids only;
- `lutron_area_change` (areas with occupancy sensors only): the watts of the area's lights counted
  as unoccupied from now on and the area's unoccupied energy counter, whenever those watts change
  (an occupancy report, a light of the area changing), at the event's own time; at each checkpoint
  for the areas whose unoccupied watts were above 0 during the period; for every sensor area after
  each full read.

After each full read on a new connection every zone gets a row (the baseline the rows that
follow change), since levels may have changed while the plugin was away.
"""

from __future__ import annotations

from telegraf_lutron import protocol as p
from telegraf_lutron.design import Design
from telegraf_lutron.lineprotocol import encode_fields, series_prefix
from telegraf_lutron.metrics import LED_STATES, zone_tags
from telegraf_lutron.metrics import site_tag as metric_site_tag
from telegraf_lutron.state import Cause, HouseState

DEFAULT_CHECKPOINT_INTERVAL = 900.0  # seconds, clock-aligned
HOUSE_INTERVAL = 60.0  # seconds, clock-aligned


def _line(prefix: str, fields: dict[str, float], ts_ns: int) -> str:
    encoded = encode_fields(fields)
    return f"{prefix} {encoded} {ts_ns}\n" if encoded else ""


class ChangeRows:
    """The change rows of one design revision. Not thread-safe: the plugin's event loop owns it."""

    def __init__(self, design: Design, site: str) -> None:
        self.design = design
        site_tag = metric_site_tag(site)
        self.zone_ids = tuple(z.id for z in design.zones)  # their rows' prefixes depend on the cause
        self._zone_set = frozenset(self.zone_ids)
        self.info_prefix: dict[int, str] = {}
        for z in design.zones:
            tags = {**zone_tags(z, site_tag), "area_id": str(z.area_key)}
            self.info_prefix[z.id] = series_prefix("lutron_zone_info", tags)
        self.house_prefix = series_prefix("lutron_house", {"site": site_tag})
        self._site = site_tag
        self._event_prefix: dict[tuple[str, int, int], str] = {}
        self._powered: set[int] = set()  # zones that drew power during the current period
        self._cause_prefix: dict[tuple[int, Cause], str] = {}
        # A level change's row, waiting for its cause: fields and the change's own time.
        self._waiting: dict[int, tuple[dict[str, float], int]] = {}
        self.area_prefix = {
            a.key: series_prefix("lutron_area_change", {"site": site_tag, "area_id": str(a.key)})
            for a in design.occupancy_areas
        }
        self._area_watts: dict[int, float] = {}  # the unoccupied watts each area's last row said
        self._unoccupied: set[int] = set()  # areas with unoccupied watts during the current period

    # --- rows ------------------------------------------------------------------------------

    def _zone_fields(self, state: HouseState, zone_id: int) -> dict[str, float]:
        watts = state.watts(zone_id)
        if watts > 0:
            self._powered.add(zone_id)
        fields = {"watts": watts, "energy_joules_total": state.zone_energy.get(zone_id, 0.0)}
        level = state.level(zone_id)
        if level is not None:
            fields["level"] = float(level)
        return fields

    def _zone_prefix(self, zone_id: int, cause: Cause) -> str:
        key = (zone_id, cause)
        prefix = self._cause_prefix.get(key)
        if prefix is None:
            zone = self.design.zone(zone_id)
            assert zone is not None  # callers checked _zone_set
            tags = {"site": self._site, "zone_id": str(zone_id), "kind": zone.kind, "cause": cause.name}
            if cause.keypad is not None:
                tags |= {"keypad_id": str(cause.keypad[0]), "component": str(cause.keypad[1])}
            if cause.timeclock is not None:
                tags |= {"timeclock_id": str(cause.timeclock[0]), "timeclock_event": str(cause.timeclock[1])}
            if len(self._cause_prefix) > 4096:  # one per zone and cause is typical; never grow forever
                self._cause_prefix.clear()
            prefix = self._cause_prefix[key] = series_prefix("lutron_zone_change", tags)
        return prefix

    def zone_row(self, state: HouseState, zone_id: int, ts_ns: int) -> str:
        """The zone's level, watts and counter now (the caller advanced the state to `ts_ns`),
        tagged with the cause of its level now (`unknown` while a change waits for its cause)."""
        if zone_id not in self._zone_set:
            return ""
        fields = self._zone_fields(state, zone_id)
        return _line(self._zone_prefix(zone_id, state.cause(zone_id)), fields, ts_ns)

    def level_change(self, state: HouseState, zone_id: int, ts_ns: int) -> str:
        """A level change: its row waits for the cause (`cause_known`, `due`). Returns what is
        written now: the row of the zone's previous change if it still waited (no cause came)."""
        if zone_id not in self._zone_set:
            return ""
        text = self._release(state, zone_id)
        fields = self._zone_fields(state, zone_id)
        if state.cause_pending(zone_id):
            self._waiting[zone_id] = (fields, ts_ns)
        else:
            text += _line(self._zone_prefix(zone_id, state.cause(zone_id)), fields, ts_ns)
        return text

    def _release(self, state: HouseState, zone_id: int) -> str:
        waiting = self._waiting.pop(zone_id, None)
        if waiting is None:
            return ""
        fields, ts_ns = waiting
        return _line(self._zone_prefix(zone_id, state.cause(zone_id)), fields, ts_ns)

    def cause_known(self, state: HouseState, zone_id: int) -> str:
        """The waiting row of the zone's change, now that the state knows its cause."""
        if zone_id in self._waiting and not state.cause_pending(zone_id):
            return self._release(state, zone_id)
        return ""

    def due(self, state: HouseState) -> str:
        """Waiting rows whose wait is over (the caller advanced the state: their cause is
        `unknown` now)."""
        return "".join(self._release(state, z) for z in sorted(self._waiting) if not state.cause_pending(z))

    def flush(self, state: HouseState) -> str:
        """Every waiting row, with the cause known now (before this design's rows end)."""
        return "".join(self._release(state, z) for z in sorted(self._waiting))

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    # --- energy in empty rooms -----------------------------------------------------------------

    def _area_row(self, state: HouseState, key: int, ts_ns: int) -> str:
        watts = state.unoccupied_watts(key)
        self._area_watts[key] = watts
        if watts > 0:
            self._unoccupied.add(key)
        fields = {
            "unoccupied_watts": watts,
            "unoccupied_energy_joules_total": state.unoccupied_energy.get(key, 0.0),
        }
        return _line(self.area_prefix[key], fields, ts_ns)

    def area_change(self, state: HouseState, key: int, ts_ns: int) -> str:
        """A sensor area's row if its unoccupied watts changed (after an occupancy report or a
        change of one of its lights; the caller advanced the state to `ts_ns`)."""
        if key not in self.area_prefix or self._area_watts.get(key) == state.unoccupied_watts(key):
            return ""
        return self._area_row(state, key, ts_ns)

    def zone_area_change(self, state: HouseState, zone_id: int, ts_ns: int) -> str:
        zone = self.design.zone(zone_id)
        return "" if zone is None else self.area_change(state, zone.area_key, ts_ns)

    def all_zones(self, state: HouseState, ts_ns: int) -> str:
        """A row for every zone and the names behind the ids: the baseline after a full read."""
        self._powered = set()
        self._unoccupied = set()
        rows = [self.zone_row(state, zone_id, ts_ns) for zone_id in self.zone_ids]
        for z in self.design.zones:
            rows.append(_line(self.info_prefix[z.id], {"rated_watts": float(z.rated_watts)}, ts_ns))
        rows += [self._area_row(state, key, ts_ns) for key in self.area_prefix]
        rows.append(self.house_row(state, ts_ns))
        return "".join(rows)

    def checkpoint(self, state: HouseState, ts_ns: int) -> str:
        """Rows for the zones that drew power during the period ending now; starts the next one
        with the zones drawing power now."""
        powered = sorted(self._powered)
        self._powered = set()
        unoccupied = sorted(self._unoccupied)
        self._unoccupied = {k for k in self.area_prefix if state.unoccupied_watts(k) > 0}
        rows = [self.zone_row(state, zone_id, ts_ns) for zone_id in powered]
        rows += [self._area_row(state, key, ts_ns) for key in unoccupied]
        return "".join(rows)

    def on_the_minute(
        self, state: HouseState, boundary: float, checkpoint_interval: float, ts_ns: int
    ) -> str:
        """What the plugin writes at a clock-aligned minute `boundary` (seconds since the epoch):
        the house row, and at every multiple of `checkpoint_interval` the checkpoints too."""
        text = self.house_row(state, ts_ns)
        if round(boundary) % round(checkpoint_interval) == 0:
            text += self.checkpoint(state, ts_ns)
        return text

    def house_row(self, state: HouseState, ts_ns: int) -> str:
        watts = sum(state.watts(z.id) for z in self.design.zones)
        return _line(self.house_prefix, {"watts": watts, "energy_joules_total": state.total_energy}, ts_ns)

    def _event(self, event: str, ident: int, component: int) -> str:
        key = (event, ident, component)
        prefix = self._event_prefix.get(key)
        if prefix is None:
            tags = {"site": self._site, "event": event}
            if event == "occupancy":
                tags["area_id"] = str(ident)
            else:
                tags["device_id"] = str(ident)
                tags["component"] = str(component)
            prefix = self._event_prefix[key] = series_prefix("lutron_event", tags)
        return prefix

    def prefixes(self) -> list[str]:
        """Every series this design can write (for the catalogue's tests)."""
        events = [self._event("led", k.id, led) for k in self.design.keypads for led in k.leds]
        events += [self._event("button", k.id, b.component) for k in self.design.keypads for b in k.buttons]
        events += [self._event("input", i.device, i.component) for i in self.design.inputs]
        events += [self._event("occupancy", a.iid, 0) for a in self.design.occupancy_areas]
        causes = [
            self._zone_prefix(z.id, cause)
            for z in self.design.zones
            for cause in (Cause(), Cause("keypad", keypad=(1, 2)), Cause("timeclock", timeclock=(3, 4)))
        ]
        return [
            *causes,
            *self.info_prefix.values(),
            self.house_prefix,
            *self.area_prefix.values(),
            *events,
        ]

    def event_row(self, state: HouseState, event: p.Event, ts_ns: int) -> str:
        """The row of an LED, button, occupancy or contact-input change ("" for other events).
        Call it only for events `HouseState.apply` reported as a change."""
        if isinstance(event, p.LedState):
            if event.state not in LED_STATES:
                return ""
            return _line(
                self._event("led", event.device, event.led), {"value": LED_STATES[event.state]}, ts_ns
            )
        if isinstance(event, p.ButtonEvent):
            key = (event.device, event.component)
            if self.design.input(*key) is not None:
                active = state.rest.inputs.get(key)
                if active is None:
                    return ""
                return _line(self._event("input", *key), {"value": 1.0 if active else 0.0}, ts_ns)
            return _line(self._event("button", *key), {"value": float(event.action)}, ts_ns)
        if isinstance(event, p.OccupancyState):
            occupied = state.occupancy.get(event.group)
            if occupied is None:
                return ""  # unknown is not "unoccupied"
            return _line(self._event("occupancy", event.group, 0), {"value": 1.0 if occupied else 0.0}, ts_ns)
        return ""


def next_boundary(now: float, interval: float) -> float:
    """The next clock-aligned multiple of `interval` after `now` (seconds since the epoch)."""
    return (now // interval + 1) * interval
