"""telegraf.conf.example wires every metric the plugin writes, with the right Prometheus type."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from telegraf_lutron import metrics
from telegraf_lutron.db.cli import output_filters, prometheus_filters, telegraf_block
from telegraf_lutron.metrics import CATALOGUE, Field, Measurement, prometheus_names

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "telegraf.conf.example"
STACK_CONF = ROOT / "deploy" / "telegraf.conf"


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
    assert prom["metric_version"] == 2
    types = prom["metric_types"]
    names = prometheus_names()
    assert len(names) == sum(len(m.fields) for m in CATALOGUE if m.prometheus)
    wrong = {
        n: (prometheus_type(n, types), kind) for n, kind in names.items() if prometheus_type(n, types) != kind
    }
    assert not wrong, wrong
    # No glob names a metric that does not exist.
    for kind, globs in types.items():
        for g in globs:
            assert any(fnmatchcase(n, g) for n in names), (kind, g)


def test_metrics_listen_on_this_machine_only_by_default() -> None:
    """/metrics has no authentication and publishes occupancy: 127.0.0.1 unless chosen otherwise."""
    (prom,) = load()["outputs"]["prometheus_client"]
    assert prom["listen"] == "127.0.0.1:9992"


@pytest.mark.parametrize("path", [CONF, STACK_CONF], ids=lambda p: p.name)
def test_change_rows_go_to_postgresql_and_never_to_prometheus(path: Path) -> None:
    conf = tomllib.loads(path.read_text())
    (prom,) = conf["outputs"]["prometheus_client"]
    (pg,) = conf["outputs"]["postgresql"]
    want = tomllib.loads("\n".join(prometheus_filters()))["namedrop"]
    assert prom["namedrop"] == want
    assert set(want) == {
        "lutron_zone_change",
        "lutron_house",
        "lutron_event",
        "lutron_zone_info",
        "lutron_area_change",
    }
    assert set(want) <= set(pg["namepass"])
    assert f"  {prometheus_filters()[0]}\n" in path.read_text()  # written as generated


def test_postgresql_gets_the_change_rows_only() -> None:
    # The snapshots (lutron_zone, lutron_area, lutron_power) are for Prometheus; PostgreSQL keeps
    # their tables for history written before the change rows, but no longer receives them.
    (pg,) = load()["outputs"]["postgresql"]
    assert set(pg["namepass"]) == {m.name for m in CATALOGUE if not m.prometheus}
    assert not {"lutron_power", "lutron_area", "lutron_zone"} & set(pg["namepass"])
    assert pg["timestamp_column_type"] == "timestamp with time zone"
    assert pg["startup_error_behavior"] == "retry"


def filter_mismatch(text: str) -> str | None:
    """Why the [[outputs.postgresql]] of a Telegraf config does not carry the generated metric
    filters (`db.cli.output_filters`, from the catalogue), or None when it does."""
    (pg,) = tomllib.loads(text)["outputs"]["postgresql"]
    want = tomllib.loads("\n".join(output_filters()))
    have = {k: pg.get(k) for k in want}
    if have != want:
        return f"[[outputs.postgresql]] has {have}; it must say (as db init prints):\n" + "\n".join(
            output_filters()
        )
    missing = [line for line in output_filters() if f"  {line}\n" not in text]
    return f"not written as db init prints it: {missing}" if missing else None


@pytest.mark.parametrize("path", [CONF, STACK_CONF], ids=lambda p: p.name)
def test_postgresql_takes_only_the_catalogues_measurements_and_tags(path: Path) -> None:
    # Telegraf adds host and [global_tags]; a tag without a column makes it ALTER the table, which
    # the --telegraf-role may not, and then it drops every metric with that tag (docs/telegraf.md §3).
    assert filter_mismatch(path.read_text()) is None, filter_mismatch(path.read_text())


def test_db_init_prints_the_same_filters() -> None:
    block = telegraf_block("host=db.example dbname=lutron", "public")
    assert filter_mismatch(block) is None
    (pg,) = tomllib.loads(block)["outputs"]["postgresql"]
    assert pg["taginclude"] == sorted({t for m in CATALOGUE if m.postgres for t in m.tags})
    assert pg["namepass"] == [m.name for m in CATALOGUE if m.postgres]


def test_a_tag_new_in_the_catalogue_fails_until_the_configs_follow(monkeypatch: pytest.MonkeyPatch) -> None:
    # e.g. a `circuit` tag on lutron_zone: the shipped files must list it, or Telegraf would drop it.
    zone = metrics.measurement("lutron_zone")
    grown = Measurement(zone.name, (*zone.tags, "circuit"), zone.fields, postgres=True)
    monkeypatch.setattr(metrics, "CATALOGUE", tuple(grown if m is zone else m for m in CATALOGUE))
    assert filter_mismatch(CONF.read_text()) is not None
    # ...and a new PostgreSQL measurement must be in namepass.
    extra = Measurement("lutron_change", ("site",), (Field("level", "gauge"),), postgres=True)
    monkeypatch.setattr(metrics, "CATALOGUE", (*CATALOGUE, extra))
    assert filter_mismatch(CONF.read_text()) is not None
