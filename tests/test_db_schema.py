"""`db init`: the tables outputs.postgresql expects, idempotence, adopting tables Telegraf filled,
roles, and the settings it refuses to change silently."""

from __future__ import annotations

import secrets
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pg_fixtures import assert_rollups_match, flush_rollups, init_db, metrics_of, set_rollup_batch_rows
from psycopg import conninfo, sql

from telegraf_lutron.db import IncompatibleSchema, PermissionDenied, golden
from telegraf_lutron.db.cli import telegraf_block
from telegraf_lutron.db.history import HistoryGenerator, TelegrafWriter, add_agent_tags, make_house
from telegraf_lutron.db.levels import LEVELS
from telegraf_lutron.db.schema import LATEST, rebuild, status
from telegraf_lutron.lineproto_parse import Metric
from telegraf_lutron.metrics import CATALOGUE, Measurement

ROOT = Path(__file__).resolve().parent.parent


def telegraf_order(m: Measurement) -> tuple[list[str], list[str]]:
    """(tags, fields) of a measurement in the order Telegraf's outputs.postgresql gives them columns
    (docs/telegraf.md §3: time, then tags, then fields, each group alphabetical). Derived here from
    the catalogue by Telegraf's rule on purpose, not taken from `levels`: it is what db init's
    tables are checked against."""
    return sorted(m.tags), sorted(m.field_names())


# Fields of rows written before the kinds, kept so their history reads (never written again).
LEGACY_FIELDS = {"lutron_area": ["zones_on"], "lutron_power": ["zones_on", "zones_total"]}
EXPECTED = {
    m.name: (tags, sorted([*fields, *LEGACY_FIELDS.get(m.name, [])]))
    for m in CATALOGUE
    if m.postgres or m.history_table  # the snapshot tables stay for their history
    for tags, fields in [telegraf_order(m)]
}


def columns(conn: psycopg.Connection[Any], table: str, schema: str = "public") -> list[tuple[Any, ...]]:
    """(name, type, nullable, comment) as Telegraf's table manager sees them (information_schema)."""
    return conn.execute(
        "SELECT c.column_name, c.data_type, c.is_nullable, col_description(%s::regclass, c.ordinal_position)"
        " FROM information_schema.columns c WHERE c.table_schema = %s AND c.table_name = %s ORDER BY c.ordinal_position",
        (f'"{schema}"."{table}"', schema, table),
    ).fetchall()


def catalog(conn: psycopg.Connection[Any]) -> dict[str, list[tuple[Any, ...]]]:
    """Everything `db init` could change, oids included (a drop and re-create shows)."""
    nsp = "n.nspname IN ('lutron', 'public', 'telegraf')"
    queries = {
        "namespaces": "SELECT n.oid, n.nspname, n.nspacl::text FROM pg_namespace n WHERE " + nsp,
        "relations": "SELECT c.oid, n.nspname, c.relname, c.relkind, c.relacl::text, c.relfilenode"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE " + nsp,
        "attributes": "SELECT c.relname, a.attnum, a.attname, a.atttypid, a.atttypmod, a.attnotnull, a.atthasdef,"
        " a.attgenerated, a.attisdropped FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE a.attnum > 0 AND " + nsp,
        "defaults": "SELECT d.oid, d.adrelid, d.adnum, pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d"
        " JOIN pg_class c ON c.oid = d.adrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE " + nsp,
        "indexes": "SELECT i.indexrelid, pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE " + nsp,
        "constraints": "SELECT co.oid, co.conname, pg_get_constraintdef(co.oid) FROM pg_constraint co"
        " JOIN pg_namespace n ON n.oid = co.connamespace WHERE " + nsp,
        "triggers": "SELECT t.oid, pg_get_triggerdef(t.oid), t.tgenabled FROM pg_trigger t"
        " JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE NOT t.tgisinternal AND " + nsp,
        "functions": "SELECT p.oid, p.proname, p.prosrc, p.proacl::text, p.proconfig::text, p.prosecdef"
        " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE " + nsp,
        "comments": "SELECT d.objoid, d.classoid, d.objsubid, d.description FROM pg_description d"
        " JOIN pg_class c ON c.oid = d.objoid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE " + nsp,
        "database": "SELECT datacl::text FROM pg_database WHERE datname = current_database()",
        "migrations": "SELECT version, name, applied_at FROM lutron.schema_migrations",
        "settings": "SELECT name, value FROM lutron.settings",
    }
    return {k: sorted(conn.execute(q).fetchall(), key=repr) for k, q in queries.items()}


@pytest.fixture
def role(pg_dsn: str, pg_server_dsn: str) -> Iterator[str]:
    """A role name for this test; dropped (with its privileges) afterwards. Roles are cluster-wide."""
    name = f"tl_role_{secrets.token_hex(4)}"
    yield name
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
    with psycopg.connect(pg_server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def test_tables_are_what_outputs_postgresql_expects(pg_lutron_dsn: str) -> None:
    with psycopg.connect(pg_lutron_dsn) as conn:
        for table, (tags, fields) in EXPECTED.items():
            cols = columns(conn, table)
            assert [c[0] for c in cols] == ["time", *tags, *fields]  # Telegraf's own column order
            assert cols[0][1:3] == ("timestamp with time zone", "NO")
            for name, dtype, nullable, comment in cols[1:]:
                assert nullable == "YES", name  # a NOT NULL column without default breaks COPY
                if name in tags:
                    assert (dtype, comment) == ("text", "tag"), name
                else:
                    assert (dtype, comment) == ("double precision", None), name


def test_telegraf_copy_by_column_name_lands_and_is_rolled_up(pg_lutron_dsn: str) -> None:
    gen = HistoryGenerator(make_house(3), start=datetime(2024, 6, 3, 10, tzinfo=UTC), pinned={"100": 50.0})
    with psycopg.connect(pg_lutron_dsn) as conn:
        writer = TelegrafWriter(conn)
        lines = gen.lines(gen.ticks(30))
        writer.write_lines(lines)
        # Telegraf's order over what the batch carries (no `tilt`: these zones are not shades).
        sent = {f for m in metrics_of(lines) if m.name == "lutron_zone" for f in m.fields}
        tags, fields = EXPECTED["lutron_zone"]
        columns = ", ".join(f'"{c}"' for c in ["time", *tags, *(f for f in fields if f in sent)])
        assert writer.copies[0] == f'COPY "public"."lutron_zone" ({columns}) FROM STDIN'
        # Below the drain threshold the rows wait in the stage, all of them, none rolled up yet...
        staged = conn.execute("SELECT count(*) FROM lutron.stage_zone").fetchone()[0]
        assert staged == conn.execute("SELECT count(*) FROM public.lutron_zone").fetchone()[0] > 0
        assert conn.execute("SELECT count(*) FROM lutron.zone_hourly").fetchone()[0] == 0
        conn.commit()
        assert_rollups_match(conn, "Europe/Berlin")  # ...until a reader drains them
        assert conn.execute("SELECT count(*) FROM lutron.stage_zone").fetchone()[0] == 0


@pytest.mark.db
def test_installed_functions_are_the_checked_in_sql(pg_lutron_dsn: str) -> None:
    # What runs is what a reviewer read in telegraf_lutron/db/sql/ (see telegraf_lutron.db.golden).
    files = golden.rendered()
    with psycopg.connect(pg_lutron_dsn) as conn:
        rows = conn.execute(
            "SELECT p.proname, p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = 'lutron' AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'plpgsql')"
        ).fetchall()
    assert len(rows) == len(LEVELS) * 2 + 1 + 3  # + change_mark, change_rollup, zone_names_update
    for name, source in rows:
        text = files[f"function_{name}.sql"]
        assert text.split("$function$")[1] == source, name


def test_init_twice_changes_nothing(pg_dsn: str, role: str) -> None:
    first = init_db(pg_dsn, "Europe/Berlin", ui_role=role)
    assert first.actions
    with psycopg.connect(pg_dsn) as conn:
        before = catalog(conn)
    again = init_db(pg_dsn, "Europe/Berlin", ui_role=role)
    assert again.actions == []
    init_db(pg_dsn, None)  # no options: the stored settings (and role grants) apply
    with psycopg.connect(pg_dsn) as conn:
        after = catalog(conn)
    assert after == before


def test_status_reports_the_schema_version(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        assert status(conn).version is None
    init_db(pg_dsn)
    with psycopg.connect(pg_dsn) as conn:
        st = status(conn)
    assert st.version == LATEST and st.up_to_date
    assert st.settings["timezone"] == "Europe/Berlin"
    assert [t.trigger for t in st.tables] == [True] * len(EXPECTED)


def _prefill_like_telegraf(dsn: str) -> HistoryGenerator:
    """Tables as Telegraf's defaults create them (timestamp without time zone), plus oddities:
    a column order of its own, an extra column, an integer field column and a missing field."""
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "CREATE TABLE lutron_power (zones_total bigint, site text, note text DEFAULT 'x', watts double precision,"
            ' "time" timestamp without time zone, energy_joules_total double precision)'
        )
        conn.execute("COMMENT ON COLUMN lutron_power.site IS 'tag'")
        conn.commit()
    gen = HistoryGenerator(make_house(4), start=datetime(2024, 6, 3, 10, tzinfo=UTC), pinned={"101": 75.0})
    with psycopg.connect(dsn) as conn:
        writer = TelegrafWriter(conn, create_tables=True, timestamp_type="timestamp without time zone")
        for _ in range(6):
            metrics = metrics_of(gen.lines(gen.ticks(20)))
            # As if an older plugin (before the kinds) had sent zones_total as an integer and no
            # zones_on yet.
            writer.write([_old_power(m) if m.name == "lutron_power" else m for m in metrics])
    return gen


def _old_power(m: Metric) -> Metric:
    fields = {k: v for k, v in m.fields.items() if k in ("watts", "energy_joules_total")}
    fields["zones_total"] = int(m.fields["lights_total"])  # type: ignore[arg-type]
    return Metric(m.name, m.tags, fields, m.ts)


def test_init_adopts_tables_telegraf_filled_and_keeps_every_row(pg_dsn: str) -> None:
    gen = _prefill_like_telegraf(pg_dsn)
    with psycopg.connect(pg_dsn) as conn:
        before = {
            t: conn.execute(
                sql.SQL("SELECT count(*), min(time), max(time), sum(energy_joules_total) FROM {}").format(
                    sql.Identifier(t)
                )
            ).fetchone()
            for t in EXPECTED
            if "energy_joules_total" in EXPECTED[t][1]
        }
    report = init_db(pg_dsn, "Europe/Berlin")
    assert any("converted public.lutron_zone.time" in a for a in report.actions)
    assert any("converted public.lutron_power.zones_total from bigint" in a for a in report.actions)
    assert any("added field column public.lutron_power.zones_on" in a for a in report.actions)
    assert "lutron_zone" in before and "lutron_zone_change" in before
    with psycopg.connect(pg_dsn) as conn:
        for t, (n, lo, hi, total) in before.items():
            row = conn.execute(
                sql.SQL("SELECT count(*), min(time), max(time), sum(energy_joules_total) FROM {}").format(
                    sql.Identifier(t)
                )
            ).fetchone()
            # Same rows; the UTC wall-clock times now denote the same instants as timestamptz.
            assert row == (n, lo.replace(tzinfo=UTC), hi.replace(tzinfo=UTC), total)
        assert [c[0] for c in columns(conn, "lutron_power")] == [
            "zones_total", "site", "note", "watts", "time", "energy_joules_total",
            "fans_on", "lights_on", "lights_total", "shades_open",
            "unoccupied_energy_joules_total",  # issue 16: a catalogue field, added by db init
            "zones_on",
        ]  # fmt: skip
        assert_rollups_match(conn, "Europe/Berlin")  # existing rows were rolled up
        # Telegraf keeps writing, now with timestamptz: the triggers take over.
        TelegrafWriter(conn).write_lines(gen.lines(gen.ticks(30)))
        assert_rollups_match(conn, "Europe/Berlin")


def test_init_refuses_to_change_the_time_zone_behind_the_rollups(pg_lutron_dsn: str) -> None:
    with pytest.raises(IncompatibleSchema, match=r"db rebuild --timezone America/New_York"):
        init_db(pg_lutron_dsn, "America/New_York")


def test_init_refuses_an_unknown_time_zone(pg_dsn: str) -> None:
    with pytest.raises(IncompatibleSchema, match="unknown time zone 'Mars/Olympus'"):
        init_db(pg_dsn, "Mars/Olympus")


def test_init_refuses_tags_as_foreign_keys_tables(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute('CREATE TABLE lutron_zone ("time" timestamptz, tag_id bigint, watts double precision)')
    with pytest.raises(IncompatibleSchema, match="tags_as_foreign_keys"):
        init_db(pg_dsn)
    with psycopg.connect(pg_dsn) as conn:  # nothing half-done: init is one transaction
        assert conn.execute("SELECT to_regnamespace('lutron')").fetchone()[0] is None


def test_measurement_tables_in_another_schema(pg_dsn: str) -> None:
    init_db(pg_dsn, "Europe/Berlin", schema="telegraf")
    gen = HistoryGenerator(make_house(2), start=datetime(2024, 6, 3, 10, tzinfo=UTC))
    with psycopg.connect(pg_dsn) as conn:
        TelegrafWriter(conn, schema="telegraf").write_lines(gen.lines(gen.ticks(40)))
        flush_rollups(conn)  # the drain reads the raw rows in that schema too
        assert conn.execute("SELECT count(*) FROM lutron.system_hourly").fetchone()[0] == 1
    with pytest.raises(IncompatibleSchema, match="schema 'telegraf'"):
        init_db(pg_dsn, schema="public")


def test_ui_role_reads_but_cannot_write(pg_dsn: str, role: str) -> None:
    init_db(pg_dsn, ui_role=role)
    gen = HistoryGenerator(make_house(2), start=datetime(2024, 6, 3, 10, tzinfo=UTC))
    with psycopg.connect(pg_dsn) as conn:
        TelegrafWriter(conn).write_lines(gen.lines(gen.ticks(10)))
    as_role = conninfo.make_conninfo(pg_dsn, user=role)
    with psycopg.connect(as_role) as conn:
        assert conn.execute("SELECT count(*) FROM lutron_zone").fetchone()[0] == 20
        flush_rollups(conn)  # as HistoryStore does: the role may bring the rollups up to date...
        assert conn.execute("SELECT count(*) FROM lutron.zone_hourly").fetchone()[0] == 2
        for fn in ("drain_zone()", "rollup_zone()"):  # ...and run nothing else of ours
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT lutron.{fn}")
            conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO lutron_power (time, watts) VALUES (now(), 1)")


def test_telegraf_role_inserts_and_the_triggers_roll_up_for_it(pg_dsn: str, role: str) -> None:
    init_db(pg_dsn, telegraf_role=role)
    set_rollup_batch_rows(pg_dsn, 0)  # drain inside the role's COPY, not at a reader
    gen = HistoryGenerator(make_house(2), start=datetime(2024, 6, 3, 10, tzinfo=UTC))
    with psycopg.connect(conninfo.make_conninfo(pg_dsn, user=role)) as conn:
        TelegrafWriter(conn).write_lines(gen.lines(gen.ticks(10)))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM lutron.zone_hourly")
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT sum(samples) FROM lutron.zone_hourly").fetchone()[0] == 20


def _shipped_postgresql_output() -> dict[str, Any]:
    (pg,) = tomllib.loads((ROOT / "telegraf.conf.example").read_text())["outputs"]["postgresql"]
    return dict(pg)


@pytest.mark.db
def test_telegrafs_own_tags_reach_the_restricted_role_only_without_the_filter(pg_dsn: str, role: str) -> None:
    """Telegraf adds `host` and every [global_tags] entry; for a tag without a column it runs ALTER
    TABLE ADD COLUMN, which the --telegraf-role may not (42501, permanent): every metric with the
    tag is dropped, at every flush. The shipped configuration's taginclude prevents it."""
    init_db(pg_dsn, telegraf_role=role)
    gen = HistoryGenerator(make_house(2), start=datetime(2024, 6, 3, 10, tzinfo=UTC))
    lines = gen.lines(gen.ticks(5))
    as_telegraf_sends = add_agent_tags(metrics_of(lines), host="telegraf-01", global_tags={"house": "main"})
    pg = _shipped_postgresql_output()
    routed = [m for m in EXPECTED if m in pg["namepass"]]  # the change rows (the snapshots: Prometheus)
    counts = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(m)) for m in EXPECTED
    )
    with psycopg.connect(conninfo.make_conninfo(pg_dsn, user=role)) as conn:
        unfiltered = TelegrafWriter(conn, namepass=pg["namepass"])
        for _flush in range(2):  # the same at every flush
            unfiltered.write(as_telegraf_sends)
        assert [e.sqlstate for e in unfiltered.schema_errors] == ["42501"] * 2 * len(routed)
        assert any("missing tag columns (dropping metrics): host, house" in line for line in unfiltered.log)
        assert [n for (n,) in conn.execute(counts)] == [0] * len(EXPECTED)

        filtered = TelegrafWriter(conn, namepass=pg["namepass"], taginclude=pg["taginclude"])
        filtered.write(as_telegraf_sends)
        assert filtered.schema_errors == [] and filtered.log == []
        assert sum(n for (n,) in conn.execute(counts)) == sum(
            1 for m in metrics_of(lines) if m.name in routed
        )
    with psycopg.connect(pg_dsn) as conn:  # nothing altered, no column added
        assert "host" not in {c[0] for c in columns(conn, "lutron_zone_change")}


@pytest.mark.db
def test_the_block_db_init_prints_lets_the_restricted_role_write(pg_dsn: str, role: str) -> None:
    report = init_db(pg_dsn, telegraf_role=role)
    (pg,) = tomllib.loads(telegraf_block(pg_dsn, report.schema, role))["outputs"]["postgresql"]
    gen = HistoryGenerator(make_house(2), start=datetime(2024, 6, 3, 10, tzinfo=UTC))
    sent = add_agent_tags(
        metrics_of(gen.lines(gen.ticks(3))), host="telegraf-01", global_tags={"env": "home"}
    )
    with psycopg.connect(conninfo.make_conninfo(pg_dsn, user=role)) as conn:
        writer = TelegrafWriter(conn, namepass=pg["namepass"], taginclude=pg["taginclude"])
        writer.write(sent)
        assert writer.schema_errors == []
        changes = sum(1 for m in sent if m.name == "lutron_zone_change")
        assert changes >= 2  # both zones' baseline at least
        assert conn.execute("SELECT count(*) FROM lutron_zone_change").fetchone()[0] == changes
        assert conn.execute("SELECT count(*) FROM lutron_zone").fetchone()[0] == 0  # for Prometheus only


@pytest.mark.db
@pytest.mark.parametrize(
    ("ddl", "option"),
    [
        ('"time" timestamptz, tags jsonb, watts double precision', "tags_as_jsonb"),
        ('"time" timestamptz, site text, zone_id text, fields jsonb', "fields_as_jsonb"),
        (
            '"time" timestamptz, site text, "timestamp" timestamptz, watts double precision',
            "timestamp_column_name",
        ),
    ],
)
def test_init_warns_about_telegraf_options_that_break_the_tables(pg_dsn: str, ddl: str, option: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(f"CREATE TABLE lutron_zone ({ddl})")
    report = init_db(pg_dsn)
    warnings = [a for a in report.actions if a.startswith("WARNING: public.lutron_zone")]
    assert len(warnings) == 1 and option in warnings[0], report.actions


@pytest.mark.db
def test_init_refuses_a_table_whose_time_column_was_renamed(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute('CREATE TABLE lutron_area ("ts" timestamptz, site text, watts double precision)')
    with pytest.raises(
        IncompatibleSchema, match=r"in ts: outputs.postgresql timestamp_column_name was changed"
    ):
        init_db(pg_dsn)


@pytest.mark.db
def test_a_column_of_our_own_with_a_default_is_not_taken_for_telegrafs_time(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(
            'CREATE TABLE lutron_power ("time" timestamptz, site text, inserted_at timestamptz DEFAULT now())'
        )
    assert not [a for a in init_db(pg_dsn).actions if a.startswith("WARNING")]


def test_init_without_rights_says_what_to_do(pg_lutron_dsn: str, role: str, pg_server_dsn: str) -> None:
    with psycopg.connect(pg_server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    with pytest.raises(PermissionDenied, match="run it as the owner"):
        init_db(conninfo.make_conninfo(pg_lutron_dsn, user=role), ui_role=f"{role}_x")


def test_rebuild_needs_an_initialised_database(pg_dsn: str) -> None:
    from telegraf_lutron.db import SchemaMissing

    with psycopg.connect(pg_dsn) as conn, pytest.raises(SchemaMissing, match="db init"):
        rebuild(conn)


def test_dsn_helpers_never_show_the_password() -> None:
    from telegraf_lutron.db import mask_dsn, telegraf_connection

    dsn = "host=db.example port=5433 user=telegraf password=s3cr=t dbname=metrics"
    assert "s3cr" not in mask_dsn(dsn) and "password=****" in mask_dsn(dsn)
    uri = "postgresql://telegraf:s3cret@db.example:5433/metrics?sslmode=require"
    assert "s3cret" not in mask_dsn(uri)
    assert conninfo.conninfo_to_dict(telegraf_connection(uri)) == {
        "user": "telegraf",
        "host": "db.example",
        "port": "5433",
        "dbname": "metrics",
        "sslmode": "require",
        "password": "${PGPASSWORD}",
    }
    assert mask_dsn("host=x password='unterminated") == "invalid connection string (not shown)"
