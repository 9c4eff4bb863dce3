"""The Grafana dashboard and the alert rules as a real Prometheus evaluates them, from the first minute.

Three houses run at once: the plugin as a real subprocess under the execd emulator against the
simulator, its lines turned into the exposition Telegraf's outputs.prometheus_client serves (the
shipped telegraf.conf.example: metric_types, 60 s expiry), scraped by Debian's `prometheus` with the
shipped prometheus.yml and rules.yml:
- "test house": a generated HomeWorks QS house in which two rooms on different floors are both
  called "Bath" and three buttons of one keypad are engraved "Kids' Bath";
- "bad password": the plugin's password is wrong;
- "empty design": the design the processor serves has no zones.

Time is compressed where that changes nothing the queries see: Telegraf's interval and flush, the
scrape and the rule evaluation are 1 s, and the alerts' `for` durations are divided by 60 (a copy).
Every dashboard target is evaluated the way Grafana asks for it (tests/prometheus_stack.py) over the
dashboard's default time range, as soon as the plugin's first lines are minutes old at most.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from execd_emulator import ExecdEmulator
from free_ports import free_port
from prometheus_stack import GrafanaRequest, PrometheusServer, grafana_request, prometheus_binary
from telegraf_prometheus_client import Exposition, ExpositionServer, PrometheusClientConfig, TelegrafAgent

from telegraf_lutron.design import Design
from telegraf_lutron.simulator import SimulatorThread
from telegraf_lutron.simulator.designgen import GeneratorParams, design_to_xml, generate_design

pytestmark = [pytest.mark.subprocess, pytest.mark.apt]

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "lutron.json"
DATASOURCE = ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yaml"
PROMETHEUS_YML = ROOT / "deploy" / "prometheus" / "prometheus.yml"
TELEGRAF_CONF = ROOT / "telegraf.conf.example"
PLUGIN = [sys.executable, "-m", "telegraf_lutron", "run", "--config"]

INTERVAL = 1.0  # Telegraf's interval and flush_interval, Prometheus' scrape and evaluation
FOR_FACTOR = 1 / 60  # the alerts' `for`: 15m becomes 15 s
DEADLINE = 240.0  # seconds for every target to show data (the widest panels step by 2 minutes)

HOUSE, BAD, EMPTY = "test house", "bad password", "empty design"


@dataclass(frozen=True)
class HouseUnderTest:
    design: Design
    kids_keypad: int  # three buttons of this keypad are engraved "Kids' Bath"
    kids_buttons: tuple[int, ...]
    bath_empty: int  # two rooms called "Bath" on different floors, both with occupancy sensors
    bath_occupied: int


def house_under_test() -> HouseUnderTest:
    params = GeneratorParams(
        seed=5, floors=2, rooms_per_floor=2, zones_per_room=2, keypads_per_room=1, occupancy=1.0
    )
    design = generate_design(params)
    rooms = [a for a in design.areas if a.occupancy_group]
    empty_bath = rooms[0]
    occupied_bath = next(a for a in rooms if a.floor != empty_bath.floor)
    baths = (empty_bath.key, occupied_bath.key)
    keypad = next(k for k in design.keypads if len(k.buttons) >= 3)
    kids = tuple(b.component for b in keypad.buttons[:3])
    areas = tuple(replace(a, name="Bath") if a.key in baths else a for a in design.areas)
    zones = tuple(replace(z, rated_watts=60.0) for z in design.zones)
    engraved = tuple(
        replace(b, engraving="Kids' Bath", name="Kids' Bath") if b.component in kids else b
        for b in keypad.buttons
    )
    keypads = tuple(replace(k, buttons=engraved) if k.id == keypad.id else k for k in design.keypads)
    return HouseUnderTest(replace(design, areas=areas, zones=zones, keypads=keypads), keypad.id, kids, *baths)


SYSVAR = 90  # a system variable the house watches ([[sysvar]])


def plugin_config(path: Path, sim: SimulatorThread, site: str, password: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    config = path / "lutron.toml"
    config.write_text(
        f"""
[processor]
host = "127.0.0.1"
telnet_port = {sim.telnet_port}
http_port = {sim.http_port}
username = "default"
password = "{password}"
[plugin]
cache_dir = "{path / "cache"}"
site = "{site}"
signal = "STDIN"
[[sysvar]]
id = {SYSVAR}
name = "Away"
states = ["Home", "Away"]
"""
    )
    return config


@dataclass
class Run:
    """What the scenario produced, for the tests below to judge."""

    requests: list[GrafanaRequest]
    results: dict[str, list[dict[str, Any]]]  # by request label
    variables: dict[str, list[str]]
    rules: list[dict[str, Any]]  # from /api/v1/rules
    shipped_rules: list[dict[str, Any]]
    alerts_seen: dict[tuple[str, str], float]  # (alert, site) -> seconds after that site's first sample
    never_alerted: dict[tuple[str, str], list[dict[str, Any]]]  # ALERTS samples of (alert, site)
    active: list[dict[str, Any]]  # /api/v1/alerts at the end
    first_sample: dict[str, float]
    while_down: dict[str, list[dict[str, Any]]]
    buttons: list[dict[str, Any]] = field(default_factory=list)
    elapsed: float = 0.0


def dashboard() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return doc


def all_requests(now: float, site: str | None = None) -> list[GrafanaRequest]:
    """Every target over the dashboard's default range: all sites, or only `site` selected."""
    import yaml

    doc = dashboard()
    (source,) = yaml.safe_load(DATASOURCE.read_text())["datasources"]
    ds_interval = source["jsonData"]["timeInterval"]
    assert doc["time"] == {"from": "now-24h", "to": "now"}
    variables = {v["name"]: v["allValue"] for v in doc["templating"]["list"]}
    if site is not None:
        assert re.fullmatch(r"[\w ]+", site)  # Grafana would regex-escape it: nothing to escape here
        variables["site"] = site
    requests = []
    for panel in doc["panels"]:
        if panel["type"] == "row":
            continue
        for target in panel["targets"]:
            requests.append(
                grafana_request(
                    panel,
                    target,
                    time_from=now - 86400,
                    time_to=now,
                    datasource_interval=ds_interval,
                    variables=variables,
                )
            )
    return requests


def evaluate(prom: PrometheusServer, request: GrafanaRequest) -> list[dict[str, Any]]:
    if request.instant:
        return prom.query(request.expr, request.end)
    return prom.query_range(request.expr, request.start, request.end, request.step)


def shows_now(request: GrafanaRequest, result: list[dict[str, Any]]) -> bool:
    """Data, and for a range query a point at the newest step Grafana asks for."""
    if request.instant:
        return bool(result)
    return any(float(series["values"][-1][0]) == request.end for series in result if series["values"])


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout:.0f} s")
        time.sleep(1.0)


def first_alert(prom: PrometheusServer, alert: str, site: str, since: float) -> float | None:
    """When ALERTS first had a sample (pending or firing) for `alert` at `site`, or None."""
    series = prom.query_range(f'ALERTS{{alertname="{alert}", site="{site}"}}', since, time.time(), INTERVAL)
    times = [float(t) for s in series for t, _ in s["values"]]
    return min(times) if times else None


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    if prometheus_binary() is None:
        pytest.skip("prometheus is not installed: apt-get install prometheus (scripts/test.sh does)")
    tmp = tmp_path_factory.mktemp("dashboard")
    started = time.monotonic()
    exposition = Exposition(PrometheusClientConfig.from_telegraf_conf(TELEGRAF_CONF))
    server = ExpositionServer(exposition).start()
    prom = PrometheusServer(
        PROMETHEUS_YML,
        tmp / "prometheus",
        f"127.0.0.1:{server.port}",
        scrape_interval=f"{INTERVAL:g}s",
        evaluation_interval=f"{INTERVAL:g}s",
        for_factor=FOR_FACTOR,
        port=free_port(),
    )
    house_ = house_under_test()
    design = house_.design
    # Rooms and keypads but no zones: a design that was read and really is empty.
    empty = replace(design, project=replace(design.project, name="Empty House"), zones=())
    sims = {
        HOUSE: SimulatorThread(design, xml=design_to_xml(design), service_time=0.0, sysvars={SYSVAR: 1}),
        BAD: SimulatorThread(design, xml=design_to_xml(design), service_time=0.0),
        EMPTY: SimulatorThread(empty, xml=design_to_xml(empty), service_time=0.0),
    }
    emus: dict[str, ExecdEmulator] = {}
    agent: TelegrafAgent | None = None
    try:
        prom.start()
        for sim in sims.values():
            sim.start()
        for zone in design.zones[:6]:
            sims[HOUSE].set_level(zone.id, 100.0)
        for site, sim in sims.items():
            config = plugin_config(
                tmp / site.replace(" ", "-"), sim, site, "wrong" if site == BAD else "default"
            )
            emus[site] = ExecdEmulator([*PLUGIN, str(config)], signal="STDIN", restart_delay=10.0)
        run_start = time.time()
        for emu in emus.values():
            emu.start()
        agent = TelegrafAgent(
            list(emus.values()), exposition, interval=INTERVAL, flush_interval=INTERVAL
        ).start()

        # The house: three presses on equally engraved buttons (1, 2 and 3 times), lights on in both
        # rooms called Bath, one of them empty. The presses come once Prometheus has the buttons, as
        # a house's first press comes minutes after an install, not within its first interval.
        button_series = f'lutron_button_presses_total{{site="{HOUSE}", keypad_id="{house_.kids_keypad}"}}'
        wait_until(lambda: len(prom.query(button_series)) >= 3, 60, "the buttons in Prometheus")
        for times, component in enumerate(house_.kids_buttons, start=1):
            for _ in range(times):
                sims[HOUSE].tap(house_.kids_keypad, component)
        for zone in design.zones:
            if zone.area_key in (house_.bath_empty, house_.bath_occupied):
                sims[HOUSE].set_level(zone.id, 100.0)
        sims[HOUSE].set_occupancy(house_.bath_empty, False)
        sims[HOUSE].set_occupancy(house_.bath_occupied, True)

        first_sample: dict[str, float] = {}

        def all_sites_scraped() -> bool:
            for s in prom.query("min_over_time(timestamp(lutron_processor_up)[10m:1s])"):
                first_sample[s["metric"]["site"]] = float(s["value"][1])
            return set(first_sample) == set(sims)

        wait_until(all_sites_scraped, 60, "every house in Prometheus")

        alerts_expected = [
            ("LutronBadLogin", BAD),
            ("LutronDesignEmpty", EMPTY),
            ("LutronLightsOnInEmptyArea", HOUSE),
        ]

        def fired() -> bool:
            active = {(a["labels"]["alertname"], a["labels"].get("site")) for a in prom.alerts()}
            return all(pair in active for pair in alerts_expected)

        with_alerts = True
        try:
            wait_until(fired, 60, "the expected alerts")
        except AssertionError:
            with_alerts = False

        # The empty design's processor goes away: only lutron_processor is written from now on.
        sims[EMPTY].stop()

        # Every target as Grafana asks for it, until all show data at their newest step.
        results: dict[str, list[dict[str, Any]]] = {}
        deadline = time.monotonic() + DEADLINE
        while True:
            requests = all_requests(time.time())
            results = {r.label: evaluate(prom, r) for r in requests}
            if all(shows_now(r, results[r.label]) for r in requests) or time.monotonic() > deadline:
                break
            time.sleep(5.0)

        alerts_seen = {}
        for alert, site in [*alerts_expected, ("LutronDesignEmpty", BAD)]:
            first = first_alert(prom, alert, site, run_start - 60)
            if first is not None:
                alerts_seen[(alert, site)] = first - first_sample[site]
        never = {
            (alert, site): prom.query(f'count_over_time(ALERTS{{alertname="{alert}", site="{site}"}}[15m])')
            for alert in ("LutronDesignEmpty", "LutronDesignNotLoaded")
            for site in (HOUSE, BAD)
        }
        active = prom.alerts()
        assert with_alerts or alerts_seen  # the tests below say which one is missing
        doc = dashboard()
        variables = {}
        for var in doc["templating"]["list"]:
            label = var["query"]["query"].rsplit(",", 1)[1].strip(" )")
            match = var["query"]["query"].split("(", 1)[1].rsplit(",", 1)[0].replace("$site", ".*")
            variables[var["name"]] = prom.label_values(label, match, time.time() - 86400, time.time())
        rules = [r for g in prom.rule_groups() for r in g["rules"]]
        buttons = prom.query(button_series)

        # Once Telegraf has expired the other series of the processor that went away (60 s), what
        # can keep a value must still have one: the dashboard with only that site selected.
        wait_until(
            lambda: not prom.query(f'lutron_power_watts{{site="{EMPTY}"}}'),
            90,
            "the power series expired after the outage",
        )
        while_down = {r.label: evaluate(prom, r) for r in all_requests(time.time(), EMPTY) if r.instant}
        yield Run(
            requests=requests,
            results=results,
            variables=variables,
            rules=rules,
            shipped_rules=prom.rules,
            alerts_seen=alerts_seen,
            never_alerted=never,
            active=active,
            first_sample=first_sample,
            while_down=while_down,
            buttons=buttons,
            elapsed=time.monotonic() - started,
        )
    finally:
        if agent is not None:
            agent.stop()
        for emu in emus.values():
            emu.stop()
        for sim in sims.values():
            sim.stop()
        prom.stop()
        server.stop()
        print(f"dashboard scenario: {time.monotonic() - started:.0f} s wall time")


def test_every_dashboard_target_shows_data_at_its_newest_step(run: Run) -> None:
    blank = [
        f"{r.label}: {r.expr} ({'instant' if r.instant else f'step {r.step:g} s'})"
        for r in run.requests
        if not shows_now(r, run.results[r.label])
    ]
    assert not blank, "\n".join(blank)


def test_the_dashboard_variables_have_values(run: Run) -> None:
    assert {HOUSE, BAD, EMPTY} <= set(run.variables["site"])  # a house that never logged in too
    assert "Bath" in run.variables["area"]


def test_every_rule_is_loaded_and_healthy(run: Run) -> None:
    names = {r.get("alert") or r.get("record") for r in run.shipped_rules}
    assert {r["name"] for r in run.rules} == names
    unhealthy = [(r["name"], r["health"], r.get("lastError")) for r in run.rules if r["health"] != "ok"]
    assert not unhealthy


def test_a_wrong_password_alerts_bad_login_at_once_and_never_design_empty(run: Run) -> None:
    assert ("LutronBadLogin", BAD) in run.alerts_seen
    # The first bad login happens before the plugin's first line: the alert follows within a few
    # scrapes, not at the second attempt a minute later.
    assert run.alerts_seen[("LutronBadLogin", BAD)] <= 10 * INTERVAL
    assert ("LutronDesignEmpty", BAD) not in run.alerts_seen
    assert {pair: samples for pair, samples in run.never_alerted.items() if samples} == {}


def test_a_design_really_read_without_zones_alerts_design_empty(run: Run) -> None:
    assert ("LutronDesignEmpty", EMPTY) in run.alerts_seen


def test_the_empty_area_alert_matches_occupancy_to_lights_by_area_id(run: Run) -> None:
    house = house_under_test()
    alerting = {
        a["labels"]["area_id"]
        for a in run.active
        if a["labels"]["alertname"] == "LutronLightsOnInEmptyArea" and a["labels"]["site"] == HOUSE
    }
    assert str(house.bath_empty) in alerting  # lights on, nobody there
    assert str(house.bath_occupied) not in alerting  # lights on too, but the other Bath is occupied


AREA_PANELS = ("Power by area", "Energy per area in the time range", "Energy per hour by area")
BUTTON_PANELS = ("Keypad presses per hour", "Most pressed buttons in the time range")


def test_equal_names_stay_separate_series(run: Run) -> None:
    house = house_under_test()
    kids = [s for s in run.buttons if s["metric"]["button"] == "Kids' Bath"]
    stored = {s["metric"]["component"]: float(s["value"][1]) for s in kids}
    presses = {str(c): float(n) for n, c in enumerate(house.kids_buttons, start=1)}
    assert stored == presses
    panels = {r.panel: run.results[r.label] for r in run.requests}
    for title in BUTTON_PANELS:
        kids = [
            s["metric"]
            for s in panels[title]
            if s["metric"].get("site") == HOUSE
            and s["metric"].get("keypad_id") == str(house.kids_keypad)
            and s["metric"].get("button") == "Kids' Bath"
        ]
        assert sorted(m["component"] for m in kids) == sorted(presses), title
    most = {
        s["metric"]["component"]: float(s["value"][1])
        for s in panels["Most pressed buttons in the time range"]
        if s["metric"].get("keypad_id") == str(house.kids_keypad) and s["metric"].get("site") == HOUSE
    }
    assert most == presses  # every press counted, the first one included
    area_panels = [r for r in run.requests if "lutron_area_" in r.expr]
    assert {r.panel for r in area_panels} >= set(AREA_PANELS)
    for request in area_panels:
        baths = {
            s["metric"].get("area_id")
            for s in run.results[request.label]
            if s["metric"].get("site") == HOUSE and s["metric"].get("area") == "Bath"
        }
        assert baths == {str(house.bath_empty), str(house.bath_occupied)}, request.label


def test_the_first_connect_is_counted(run: Run) -> None:
    (connects,) = [r for r in run.requests if "lutron_processor_connects_total" in r.expr]
    values = {s["metric"].get("site"): float(s["value"][1]) for s in run.results[connects.label]}
    assert round(values[HOUSE]) >= 1


def test_what_the_design_says_keeps_its_value_while_the_processor_is_down(run: Run) -> None:
    def values(panel: str) -> list[float]:
        return [float(s["value"][1]) for s in run.while_down[panel]]

    keypads = len(house_under_test().design.keypads)  # the empty design has them, but no zones
    assert values("Lights on [B]") == [0.0]  # the lights in the design: its 0, not a blank panel
    assert values("Processor [A]") == [0.0]  # down, and shown as down
    assert (values("Design [A]"), values("Design [B]")) == ([0.0], [keypads])
