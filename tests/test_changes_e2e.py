"""Change rows end to end: a fresh `db init`, `telegraf-lutron run` under the execd emulator against
the simulator, its stdout written as Telegraf's outputs.postgresql writes it with the filters `db
init` prints; the change tables fill and the web UI's queries answer from them."""

from __future__ import annotations

import sys
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from execd_emulator import ExecdEmulator
from free_ports import free_port

from telegraf_lutron.db.cli import telegraf_block
from telegraf_lutron.db.history import TelegrafWriter, add_agent_tags
from telegraf_lutron.db.queries import HistoryStore
from telegraf_lutron.simulator import SimulatorThread
from telegraf_lutron.simulator.designgen import GeneratorParams, generate

pytestmark = [pytest.mark.subprocess]

PLUGIN = [sys.executable, "-m", "telegraf_lutron", "run", "--config"]


def test_db_init_and_the_plugin_fill_the_change_tables_and_the_ui_reads_them(
    tmp_path: Path, pg_lutron_dsn: str
) -> None:
    design, xml = generate(GeneratorParams(seed=5, floors=1, rooms_per_floor=3, zones_per_room=4))
    light = next(z for z in design.zones if z.kind == "light" and z.rated_watts > 0)
    ports = (free_port(), free_port())
    config = tmp_path / "lutron.toml"
    config.write_text(
        f'[processor]\nhost = "127.0.0.1"\ntelnet_port = {ports[0]}\nhttp_port = {ports[1]}\n'
        f'password = "default"\n[plugin]\ncache_dir = "{tmp_path / "cache"}"\nsite = "e2e"\n'
    )
    with SimulatorThread(design, xml=xml, telnet_port=ports[0], http_port=ports[1], service_time=0.0) as sim:
        emu = ExecdEmulator([*PLUGIN, str(config)], signal="STDIN")
        emu.start()
        try:
            baseline = emu.wait_for(
                lambda: [m for m in emu.metrics if m.metric.name == "lutron_zone_change"] or None, 20.0
            )
            assert len(baseline) >= len(design.zones)  # every zone after the first full read
            sim.set_level(light.id, 100.0)
            emu.wait_for(
                lambda: (
                    any(
                        m.metric.name == "lutron_zone_change"
                        and m.metric.tags["zone_id"] == str(light.id)
                        and m.metric.fields.get("level") == 100.0
                        for m in emu.metrics
                    )
                    or None
                ),
                10.0,
            )
            for _ in range(3):  # snapshots too (for Prometheus), which PostgreSQL does not take
                emu.tick()
                time.sleep(0.3)
        finally:
            emu.stop()
    (pg,) = tomllib.loads(telegraf_block(pg_lutron_dsn, "public"))["outputs"]["postgresql"]
    metrics = add_agent_tags([m.metric for m in emu.metrics], host="telegraf-host")
    with psycopg.connect(pg_lutron_dsn) as conn:
        writer = TelegrafWriter(conn, namepass=pg["namepass"], taginclude=pg["taginclude"])
        writer.write(metrics)
        assert not writer.log and not writer.schema_errors
        counts = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("lutron_zone_change", "lutron_house", "lutron_zone_info", "lutron_zone", "lutron_power")
        }
    assert counts["lutron_zone_change"] > len(design.zones) and counts["lutron_house"] >= 1
    assert counts["lutron_zone_info"] == len(design.zones)
    assert counts["lutron_zone"] == counts["lutron_power"] == 0  # the snapshots stay out of PostgreSQL

    with HistoryStore(pg_lutron_dsn) as store:
        assert {z for _, z in store.series("zone")} == {str(z.id) for z in design.zones}
        now = store.current_power(now=datetime.now(UTC))
        zones = {p.id: p for p in now.zones}
        assert zones[str(light.id)].level_pct == 100.0
        assert zones[str(light.id)].watts == pytest.approx(light.rated_watts)
        assert zones[str(light.id)].name == light.name
        (house,) = now.system
        assert house.site == "e2e" and house.lights_total == sum(1 for z in design.zones if z.kind == "light")
        assert (house.lights_on or 0) >= 1
        on = store.zones_on(now=datetime.now(UTC))
        assert str(light.id) in {z.zone_id for z in on}
