"""The SQL the database layer generates is checked in (telegraf_lutron/db/sql/, see
`telegraf_lutron.db.golden`), and the facts it is generated from have one source: the metric
catalogue for tags and fields, `rollups.STATS` for the rollup statistics. No database needed."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pg_fixtures import Agg

from telegraf_lutron.db import golden
from telegraf_lutron.db.history import HistoryGenerator, make_house
from telegraf_lutron.db.levels import CHANGE_MEASUREMENTS, LEVELS, MEASUREMENTS
from telegraf_lutron.db.rollups import STAT_NAMES
from telegraf_lutron.db.schema import MIGRATIONS, Context
from telegraf_lutron.metrics import CATALOGUE


def test_the_checked_in_sql_is_what_the_code_renders() -> None:
    stale = golden.differences()
    assert not stale, f"telegraf_lutron/db/sql/ is out of date ({', '.join(stale)}): run `{golden.COMMAND}`"


def test_every_function_and_migration_has_its_golden_file() -> None:
    names = set(golden.rendered())
    for level in LEVELS:
        assert {f"function_rollup_{level.name}.sql", f"function_drain_{level.name}.sql"} <= names
        assert f"rebuild_{level.name}.sql" in names
    assert "function_rollup_flush.sql" in names and "measurement_tables.sql" in names
    assert {f"migration_{m.version}.sql" for m in MIGRATIONS} <= names


def test_the_golden_check_names_a_file_that_differs(tmp_path: Path) -> None:
    golden.write(tmp_path)
    assert golden.differences(tmp_path) == []
    (tmp_path / "function_drain_zone.sql").write_text("-- edited by hand\n")
    (tmp_path / "function_gone.sql").write_text("")
    assert golden.differences(tmp_path) == ["function_drain_zone.sql", "function_gone.sql"]
    assert sorted(golden.write(tmp_path)) == ["function_drain_zone.sql", "function_gone.sql"]
    assert golden.differences(tmp_path) == [] and not (tmp_path / "function_gone.sql").exists()


@pytest.mark.subprocess
def test_the_golden_command_checks_by_default() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "telegraf_lutron.db.golden"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_rendered_sql_names_every_column_of_the_catalogue() -> None:
    # The rollup engine reads each level's key, labels and fields from the catalogue (via levels).
    for level in LEVELS:
        m = next(m for m in CATALOGUE if m.name == level.measurement)
        body = golden.rendered()[f"function_drain_{level.name}.sql"]
        for label in level.labels:
            assert f'"{label}"' in body, (level.name, label)
        assert set(level.tags) == set(m.tags) and set(level.fields) == set(m.field_names())
    for name, text in golden.rendered().items():
        assert "\x01" not in text and "\x02" not in text, name  # alignment markers all resolved


def test_the_postgres_measurements_are_the_catalogues() -> None:
    # Only the change rows are routed to PostgreSQL; db init keeps the snapshot tables for the
    # history written before them (read by the UI).
    assert set(CHANGE_MEASUREMENTS) == {m.name for m in CATALOGUE if m.postgres}
    assert set(MEASUREMENTS) == {m.name for m in CATALOGUE if m.history_table}


def test_the_rollup_tables_have_every_statistic_once() -> None:
    ddl = "\n".join(s.as_string(None) for s in MIGRATIONS[0].statements(Context("public")))
    for name in STAT_NAMES:
        # one column per statistic in each of the six rollup tables
        assert ddl.count(f'"{name}" ') == 2 * len(LEVELS), name


def test_the_tests_reference_aggregate_computes_every_statistic() -> None:
    fields = [f.name for f in dataclasses.fields(Agg) if f.name != "labels"]
    assert tuple(fields) == STAT_NAMES


def test_generated_history_carries_the_catalogues_tags_and_fields() -> None:
    """The history generator (demo, benchmarks, database tests) writes what the plugin writes: a
    tag added to the catalogue fails here until the generator follows. Fields may be missing (the
    plugin writes `tilt` only for shades, `level` only once known), but none the catalogue lacks."""
    gen = HistoryGenerator(make_house(4), start=datetime(2024, 6, 3, 10, tzinfo=UTC))
    seen: dict[str, tuple[set[str], set[str]]] = {}
    ticks = gen.ticks(100)  # enough changes that every optional tag (a keypad, a time clock cause) shows
    for name, tags, fields, _ts in (metric for tick in ticks for metric in gen.metrics(tick)):
        seen.setdefault(name, (set(), set()))
        seen[name][0].update(tags)
        seen[name][1].update(fields)
    want = {m.name: (set(m.tags), set(m.field_names())) for m in CATALOGUE if m.postgres or m.history_table}
    assert seen.keys() == want.keys()
    for name, (tags, fields) in seen.items():
        assert tags == want[name][0], name
        assert fields <= want[name][1], name
    for level in LEVELS:  # what the rollups read is always there
        assert {"energy_joules_total", "watts", level.on_fields[0]} <= seen[level.measurement][1]
