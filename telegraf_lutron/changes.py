"""Change rows for PostgreSQL: what changed, when it changed.

The snapshot (`metrics.MetricSet.snapshot`) is for Prometheus, which wants every series at every
interval. PostgreSQL gets these instead (docs/telegraf.md §3: execd stdout is read at any time, and
each line carries the plugin's own timestamp, so they are valid in every `signal` mode):

- `lutron_zone_change`: a zone's level, watts and energy counter, at the instant of the level
  report (the counter integrated up to that instant), written as the event is handled; tagged
  with the zone's id and kind (light, fan, shade, ...);
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
  written after each full read of the state (a connect), so change rows carry ids only.

After each full read on a new connection every zone gets a row (the baseline the rows that
follow change), since levels may have changed while the plugin was away.
"""

from __future__ import annotations

from telegraf_lutron import protocol as p
from telegraf_lutron.design import Design
from telegraf_lutron.lineprotocol import encode_fields, series_prefix
from telegraf_lutron.metrics import LED_STATES, tag, zone_tags
from telegraf_lutron.state import HouseState

DEFAULT_CHECKPOINT_INTERVAL = 900.0  # seconds, clock-aligned
HOUSE_INTERVAL = 60.0  # seconds, clock-aligned


def _line(prefix: str, fields: dict[str, float], ts_ns: int) -> str:
    encoded = encode_fields(fields)
    return f"{prefix} {encoded} {ts_ns}\n" if encoded else ""


class ChangeRows:
    """The change rows of one design revision. Not thread-safe: the plugin's event loop owns it."""

    def __init__(self, design: Design, site: str) -> None:
        self.design = design
        site_tag = tag(site, "default")
        self.zone_prefix = {
            z.id: series_prefix(
                "lutron_zone_change", {"site": site_tag, "zone_id": str(z.id), "kind": z.kind}
            )
            for z in design.zones
        }
        self.info_prefix: dict[int, str] = {}
        for z in design.zones:
            tags = {**zone_tags(z, site_tag), "area_id": str(z.area_key)}
            self.info_prefix[z.id] = series_prefix("lutron_zone_info", tags)
        self.house_prefix = series_prefix("lutron_house", {"site": site_tag})
        self._site = site_tag
        self._event_prefix: dict[tuple[str, int, int], str] = {}
        self._powered: set[int] = set()  # zones that drew power during the current period

    # --- rows ------------------------------------------------------------------------------

    def zone_row(self, state: HouseState, zone_id: int, ts_ns: int) -> str:
        """The zone's level, watts and counter now (the caller advanced the state to `ts_ns`)."""
        prefix = self.zone_prefix.get(zone_id)
        if prefix is None:
            return ""
        watts = state.watts(zone_id)
        if watts > 0:
            self._powered.add(zone_id)
        fields = {"watts": watts, "energy_joules_total": state.zone_energy.get(zone_id, 0.0)}
        level = state.level(zone_id)
        if level is not None:
            fields["level"] = float(level)
        return _line(prefix, fields, ts_ns)

    def all_zones(self, state: HouseState, ts_ns: int) -> str:
        """A row for every zone and the names behind the ids: the baseline after a full read."""
        self._powered = set()
        rows = [self.zone_row(state, zone_id, ts_ns) for zone_id in self.zone_prefix]
        for z in self.design.zones:
            rows.append(_line(self.info_prefix[z.id], {"rated_watts": float(z.rated_watts)}, ts_ns))
        rows.append(self.house_row(state, ts_ns))
        return "".join(rows)

    def checkpoint(self, state: HouseState, ts_ns: int) -> str:
        """Rows for the zones that drew power during the period ending now; starts the next one
        with the zones drawing power now."""
        powered = sorted(self._powered)
        self._powered = set()
        return "".join(self.zone_row(state, zone_id, ts_ns) for zone_id in powered)

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
        return [*self.zone_prefix.values(), *self.info_prefix.values(), self.house_prefix, *events]

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
