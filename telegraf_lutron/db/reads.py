"""The SQL behind `queries.HistoryStore`: buckets from the change rollups, and from the snapshot
rollups for history written before a site's first change row.

Two generations of tables hold the history:
- change rows (`lutron_zone_change`, `lutron_house`, names in `lutron_zone_info`; telegraf_lutron/
  changes.py) and their exact rollups (`lutron.zone_change_*`, `lutron.house_*`; db/changes.py);
- snapshot rows (`lutron_zone`, `lutron_area`, `lutron_power`) and their rollups
  (`lutron.{zone,area,system}_{hourly,daily}`; db/rollups.py), written before the upgrade.

A site's *cut* is its first change row (its first house row, `lutron.change_last.first_time`).
Snapshot buckets wholly before the cut (their `last_time`) are read as they were recorded (old
numbers are not reinterpreted); change buckets hold everything from the cut on. The day of the cut
is the snapshot's hours wholly before it plus the change rollup's day, so days agree with hours.
An upgrade stops the snapshots where the change rows start, so the hour of the cut is the sum of
both. Snapshot buckets that reach past the cut (both routed at once for a while) are left out:
then the part of the cut's hour before the cut is missing, never counted twice.

Every bucket comes out in one shape (`BUCKET_COLUMNS`), so one aggregation serves both:
- `energy_joules`; `watts_sum` / `watts_n` is the average power and `watts_max` the peak;
- `samples` and the on-share `on_w` / `all_w`. The house row arrives every minute, so a change
  bucket counts one sample per minute with data (`covered_seconds` / 60) and its on-share is
  on-seconds over covered seconds (as minutes): averages over a range that spans the cut weight old
  and new buckets alike when the snapshots were written every minute.

Areas have no rollup tables of their own in the change generation: an area's bucket is the sum of
its zones' buckets, each zone in the area its newest `lutron_zone_info` row names (`names`). Why
not area rollup tables: the zone rollups are exact, an area is a `GROUP BY` over at most a few
hundred zones (milliseconds, see bench/bench_webui.py), and nothing has to be kept in step when a
design revision moves a zone (its history moves with it). What that costs: an area's peak (the
peak of a sum) and its "lights on" share are not known from per-zone buckets; they are NULL.
"""

from __future__ import annotations

from typing import Literal

from psycopg import sql

from telegraf_lutron.db import INTERNAL_SCHEMA
from telegraf_lutron.db import fragments as frag
from telegraf_lutron.db.changes import HOUSE_DAILY, HOUSE_HOURLY, LAST, NAMES, ZONE_DAILY, ZONE_HOURLY
from telegraf_lutron.db.levels import AREA, SYSTEM, ZONE, Level

Bucket = Literal["hour", "day"]

_START, _END, _TZ = sql.Placeholder("start"), sql.Placeholder("end"), sql.Placeholder("tz")

# The columns every bucket source yields (see the module docstring).
BUCKET_COLUMNS = (
    "site",
    "id",
    "b",
    "energy_joules",
    "watts_sum",
    "watts_n",
    "watts_max",
    "samples",
    "on_w",
    "all_w",
    "name",
    "area",
    "floor",
    "kind",
    "output_type",
)


def q(name: str) -> sql.Identifier:
    return sql.Identifier(INTERNAL_SCHEMA, name)


def cut_cte() -> sql.Composed:
    """`cut (site, time, day)`: each site's first change row (its first house row) and its local day."""
    return sql.SQL(
        "cut AS (SELECT l.site, l.first_time AS time, (l.first_time AT TIME ZONE %(tz)s)::date AS day"
        " FROM {} l WHERE l.series = 'house')"
    ).format(q(LAST))


def names_cte(raw_schema: str) -> sql.Composed:
    """`names (site, zone_id, zone, area_id, area, floor, output_type, kind, rated_watts)`: each
    zone's newest `lutron_zone_info` row, as the trigger keeps it in `lutron.zone_names`.
    (`raw_schema` is unused: the names live in the internal schema.)"""
    del raw_schema
    return sql.SQL(
        "names AS (SELECT n.site, n.zone_id, n.zone, n.area_id, n.area, n.floor, n.output_type, n.kind,"
        " n.rated_watts FROM {} n)"
    ).format(q(NAMES))


def area_names_cte() -> sql.SQL:
    """`area_names (site, area_id, area, floor)` from `names`."""
    return sql.SQL(
        "area_names AS (SELECT n.site, n.area_id, max(n.area) AS area, max(n.floor) AS floor"
        " FROM names n GROUP BY n.site, n.area_id)"
    )


def ctes(raw_schema: str) -> sql.Composed:
    return sql.SQL("WITH {}, {}, {}").format(cut_cte(), names_cte(raw_schema), area_names_cte())


def _range(alias: str, bucket: Bucket, *, whole_months: bool = False) -> sql.Composed:
    if bucket == "hour":
        return frag.hours_overlapping(alias, _START, _END)
    return frag.days_overlapping(alias, _START, _END, _TZ, whole_months=whole_months)


def _snapshot_part(lv: Level, bucket: Bucket, filters: sql.Composable, *, whole_months: bool) -> sql.Composed:
    """Snapshot rollup buckets before the site's cut."""
    table = lv.hourly_table() if bucket == "hour" else lv.daily_table()
    key = frag.rollup_series(lv, "t")
    null = sql.SQL("NULL::text")
    labels = {
        "name": sql.SQL("t.zone") if lv is ZONE else sql.SQL("t.area") if lv is AREA else null,
        "area": sql.SQL("t.area") if lv is not SYSTEM else null,
        "floor": sql.SQL("t.floor") if lv is not SYSTEM else null,
        "kind": sql.SQL("t.kind") if lv is ZONE else null,
        "output_type": sql.SQL("t.output_type") if lv is ZONE else null,
    }
    # Wholly before the cut: a bucket the snapshots still wrote into after it is the change rows'.
    before = (
        sql.SQL("t.last_time < coalesce(c.time, 'infinity')")
        if bucket == "hour"
        else sql.SQL("(c.day IS NULL OR (t.day < c.day AND t.last_time < c.time))")
    )
    return sql.SQL(
        """SELECT t.site, {key} AS id, t.{b} AS b, t.energy_joules, t.watts_sum, t.watts_samples::float8 AS watts_n,
           t.watts_max, t.samples::float8 AS samples, t.on_samples::float8 AS on_w,
           (t.on_samples + t.off_samples)::float8 AS all_w,
           {name} AS name, {area} AS area, {floor} AS floor, {kind} AS kind, {output_type} AS output_type
    FROM {table} t LEFT JOIN cut c ON c.site = t.site
    WHERE {rng} AND {before} {filters}"""
    ).format(
        key=key,
        b=sql.Identifier(bucket),
        table=table,
        rng=_range("t", bucket, whole_months=whole_months),
        before=before,
        filters=filters,
        **labels,
    )


def _cut_day_part(lv: Level, filters: sql.Composable, *, whole_months: bool) -> sql.Composed:
    """The day of the cut: the snapshot's hours wholly before the cut, as one daily bucket."""
    key = frag.rollup_series(lv, "t")
    null = sql.SQL("NULL::text")
    return sql.SQL(
        """SELECT t.site, {key} AS id, t.day AS b, sum(t.energy_joules), sum(t.watts_sum),
           sum(t.watts_samples)::float8, max(t.watts_max), sum(t.samples)::float8, sum(t.on_samples)::float8,
           sum(t.on_samples + t.off_samples)::float8, {n}, {n}, {n}, {n}, {n}
    FROM {table} t JOIN cut c ON c.site = t.site
    WHERE t.day = c.day AND t.last_time < c.time AND t.hour > c.time - interval '26 hours'
      AND {rng} {filters}
    GROUP BY t.site, 2, t.day"""
    ).format(
        key=key,
        n=null,
        table=lv.hourly_table(),
        rng=_range("t", "day", whole_months=whole_months),
        filters=filters,
    )


def hour_start(t: sql.Composable) -> sql.Composed:
    """The start of the local clock hour containing `t` in %(tz)s (lutron.hour_start, inlined: the
    UI role may not execute our functions)."""
    return sql.SQL(
        "({t} - (({t} AT TIME ZONE %(tz)s) - date_trunc('hour', {t} AT TIME ZONE %(tz)s)))"
    ).format(t=t)


def open_segments() -> sql.Composed:
    """A subquery: the hourly parts of every zone's open segment (from its newest change row,
    `lutron.change_last`, to its site's newest house row), which no rollup holds yet: site, zone_id,
    hour, day, energy_joules, on_seconds, watts_max. A zone holds its level and watts until its
    next row, so the energy up to the house's newest row is known now."""
    overlap = sql.SQL(
        'extract(epoch FROM least(hl."time", g.hour + interval \'1 hour\') - greatest(l."time", g.hour))'
    )
    return sql.SQL(
        """SELECT l.site, l.id AS zone_id, g.hour, (g.hour AT TIME ZONE %(tz)s)::date AS day,
               l.watts * {overlap} AS energy_joules,
               CASE WHEN l.level > 0 THEN {overlap} ELSE 0 END AS on_seconds,
               CASE WHEN l.watts > 0 THEN l.watts END AS watts_max
        FROM {last} l
        JOIN {last} hl ON hl.series = 'house' AND hl.site = l.site AND hl.id = ''
        CROSS JOIN LATERAL generate_series({first}, hl."time" - interval '1 microsecond', interval '1 hour') AS g(hour)
        WHERE l.series = 'zone' AND hl."time" > l."time" AND (l.watts > 0 OR l.level > 0)"""
    ).format(overlap=overlap, last=q(LAST), first=hour_start(sql.SQL('l."time"')))


def zone_source(bucket: Bucket) -> sql.Composed:
    """Zone change buckets with the open segments added: (site, zone_id, <bucket>, energy_joules,
    on_seconds, watts_max), several rows per bucket where an open segment adds to it."""
    table = q(ZONE_HOURLY if bucket == "hour" else ZONE_DAILY)
    b = sql.Identifier(bucket)
    return sql.SQL(
        """(SELECT z.site, z.zone_id, z.{b}, z.energy_joules, z.on_seconds, z.watts_max FROM {table} z
        UNION ALL
        SELECT o.site, o.zone_id, o.{b}, o.energy_joules, o.on_seconds, o.watts_max FROM ({open}) o) c"""
    ).format(b=b, table=table, open=open_segments())


def _change_part(lv: Level, bucket: Bucket, filters: sql.Composable, *, whole_months: bool) -> sql.Composed:
    """Change rollup buckets (every one is at or after its site's cut)."""
    house_table = q(HOUSE_HOURLY if bucket == "hour" else HOUSE_DAILY)
    b = sql.Identifier(bucket)
    n = sql.SQL("NULL::text")
    rng = _range("t", bucket, whole_months=whole_months)
    if lv is SYSTEM:
        return sql.SQL(
            """SELECT t.site, ''::text AS id, t.{b} AS b, t.energy_joules, t.energy_joules / 60.0,
           t.covered_seconds / 60.0, t.watts_max, t.covered_seconds / 60.0, NULL::float8, NULL::float8,
           {n}, {n}, {n}, {n}, {n}
    FROM {house} t
    WHERE {rng} {filters}"""
        ).format(b=b, n=n, house=house_table, rng=rng, filters=filters)
    if lv is ZONE:
        return sql.SQL(
            """SELECT t.site, t.zone_id AS id, t.{b} AS b, sum(t.energy_joules), sum(t.energy_joules) / 60.0,
           max(hh.covered_seconds) / 60.0, max(t.watts_max), max(hh.covered_seconds) / 60.0,
           sum(t.on_seconds) / 60.0, greatest(max(hh.covered_seconds), sum(t.on_seconds)) / 60.0,
           {n}, {n}, {n}, {n}, {n}
    FROM (SELECT * FROM {zone}) t LEFT JOIN {house} hh ON hh.site = t.site AND hh.{b} = t.{b}
    WHERE {rng} {filters}
    GROUP BY t.site, t.zone_id, t.{b}"""
        ).format(b=b, n=n, zone=zone_source(bucket), house=house_table, rng=rng, filters=filters)
    # An area: the sum of its zones (see the module docstring).
    return sql.SQL(
        """SELECT t.site, nm.area_id AS id, t.{b} AS b, sum(t.energy_joules), sum(t.energy_joules) / 60.0,
           max(hh.covered_seconds) / 60.0, NULL::float8, max(hh.covered_seconds) / 60.0, NULL::float8, NULL::float8,
           {n}, {n}, {n}, {n}, {n}
    FROM (SELECT * FROM {zone}) t
    JOIN names nm ON nm.site = t.site AND nm.zone_id = t.zone_id
    LEFT JOIN {house} hh ON hh.site = t.site AND hh.{b} = t.{b}
    WHERE {rng} {filters}
    GROUP BY t.site, nm.area_id, t.{b}"""
    ).format(b=b, n=n, zone=zone_source(bucket), house=house_table, rng=rng, filters=filters)


def buckets(
    lv: Level,
    bucket: Bucket,
    *,
    site: bool = False,
    id: bool = False,
    whole_months: bool = False,
) -> sql.Composed:
    """Every bucket of `lv` overlapping [%(start)s, %(end)s) from both generations, in the shape
    of `BUCKET_COLUMNS` (a subquery over the `ctes`). `site`/`id`: filter on %(f_site)s/%(f_id)s."""

    def filters(id_column: sql.Composable) -> sql.Composable:
        conds: list[sql.Composable] = []
        if site:
            conds.append(sql.SQL("t.site = %(f_site)s"))
        if id:
            conds.append(sql.SQL("{} = %(f_id)s").format(id_column))
        return sql.SQL("").join(sql.SQL(" AND ") + c for c in conds)

    snapshot_id = frag.rollup_series(lv, "t")
    change_id: sql.Composable = (
        sql.SQL("t.zone_id") if lv is ZONE else sql.SQL("nm.area_id") if lv is AREA else sql.SQL("''")
    )
    parts = [_snapshot_part(lv, bucket, filters(snapshot_id), whole_months=whole_months)]
    if bucket == "day":
        parts.append(_cut_day_part(lv, filters(snapshot_id), whole_months=whole_months))
    parts.append(_change_part(lv, bucket, filters(change_id), whole_months=whole_months))
    return sql.SQL("\n    UNION ALL\n    ").join(parts)


def labels_join(lv: Level, alias: str = "g") -> tuple[sql.Composable, dict[str, sql.Composable]]:
    """A LEFT JOIN to the newest names of `lv`'s series (the change rows' `lutron_zone_info`) and
    the label expressions that prefer them to the bucket's own (`alias`.name, ...)."""
    a = sql.SQL(alias)
    null = sql.SQL("NULL::text")
    if lv is ZONE:
        join = sql.SQL("LEFT JOIN names l ON l.site = {a}.site AND l.zone_id = {a}.id").format(a=a)
        return join, {
            "name": sql.SQL("coalesce(l.zone, {a}.name)").format(a=a),
            "area": sql.SQL("coalesce(l.area, {a}.area)").format(a=a),
            "floor": sql.SQL("coalesce(l.floor, {a}.floor)").format(a=a),
            "kind": sql.SQL("coalesce(l.kind, {a}.kind)").format(a=a),
            "output_type": sql.SQL("coalesce(l.output_type, {a}.output_type)").format(a=a),
        }
    if lv is AREA:
        join = sql.SQL("LEFT JOIN area_names l ON l.site = {a}.site AND l.area_id = {a}.id").format(a=a)
        return join, {
            "name": sql.SQL("coalesce(l.area, {a}.name)").format(a=a),
            "area": sql.SQL("coalesce(l.area, {a}.area)").format(a=a),
            "floor": sql.SQL("coalesce(l.floor, {a}.floor)").format(a=a),
            "kind": null,
            "output_type": null,
        }
    return sql.SQL(""), {"name": null, "area": null, "floor": null, "kind": null, "output_type": null}


def grouped(lv: Level, bucket: Bucket, key: sql.Composable, **kw: bool) -> sql.Composed:
    """`buckets` summed per (site, id, `key`), with the newest bucket's labels (`b` ordered)."""
    return sql.SQL(
        """SELECT u.site, u.id, {key} AS b, sum(u.energy_joules) AS energy_joules, sum(u.watts_sum) AS watts_sum,
           sum(u.watts_n) AS watts_n, max(u.watts_max) AS watts_max, sum(u.samples) AS samples,
           sum(u.on_w) AS on_w, sum(u.all_w) AS all_w,
           {name}, {area}, {floor}, {kind}, {output_type}
    FROM (
    {buckets}
    ) u
    GROUP BY u.site, u.id, 3"""
    ).format(
        key=key,
        buckets=buckets(lv, bucket, **kw),
        **{
            label: sql.SQL(
                "(array_agg(u.{c} ORDER BY u.b DESC) FILTER (WHERE u.{c} IS NOT NULL))[1] AS {c}"
            ).format(c=sql.Identifier(label))
            for label in ("name", "area", "floor", "kind", "output_type")
        },
    )
