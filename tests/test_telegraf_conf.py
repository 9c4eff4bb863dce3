"""telegraf.conf.example wires every metric the plugin writes, with the right Prometheus type."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatchcase
from pathlib import Path

from telegraf_lutron.metrics import CATALOGUE, prometheus_names

CONF = Path(__file__).resolve().parent.parent / "telegraf.conf.example"


def load() -> dict:
    return tomllib.loads(CONF.read_text())


def prometheus_type(name: str, types: dict[str, list[str]]) -> str:
    """As outputs.prometheus_client decides: gauge wins where both globs match; else untyped."""
    if any(fnmatchcase(name, g) for g in types.get("gauge", [])):
        return "gauge"
    if any(fnmatchcase(name, g) for g in types.get("counter", [])):
        return "counter"
    return "untyped"


def test_execd_runs_the_plugin_directly_with_stdin_ticks() -> None:
    (execd,) = load()["inputs"]["execd"]
    command = execd["command"]
    assert isinstance(command, list) and command[0].startswith("/") and command[1] == "run"
    assert "--config" in command and command[command.index("--config") + 1].startswith("/")
    assert execd["signal"] == "STDIN"
    assert execd["restart_delay"] == "10s"
    assert execd["data_format"] == "influx"


def test_every_metric_has_its_prometheus_type() -> None:
    (prom,) = load()["outputs"]["prometheus_client"]
    assert prom["listen"] == ":9992" and prom["metric_version"] == 2
    types = prom["metric_types"]
    names = prometheus_names()
    assert len(names) == sum(len(m.fields) for m in CATALOGUE)
    wrong = {
        n: (prometheus_type(n, types), kind) for n, kind in names.items() if prometheus_type(n, types) != kind
    }
    assert not wrong, wrong
    # No glob names a metric that does not exist.
    for kind, globs in types.items():
        for g in globs:
            assert any(fnmatchcase(n, g) for n in names), (kind, g)


def test_postgresql_gets_power_and_energy_only() -> None:
    (pg,) = load()["outputs"]["postgresql"]
    assert pg["namepass"] == ["lutron_power", "lutron_area", "lutron_zone"]
    assert pg["timestamp_column_type"] == "timestamp with time zone"
    assert pg["startup_error_behavior"] == "retry"
