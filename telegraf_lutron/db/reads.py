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


_NOTHING = sql.SQL("")


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


def zone_source(bucket: Bucket, *, covered: bool = True) -> sql.Composed:
    """Zone change buckets with the open segments added, one row per rollup bucket plus one per
    bucket an open segment reaches: (site, zone_id, <bucket>, energy_joules, on_seconds, watts_max,
    covered: the house's seconds with data in the bucket, counted once per zone and bucket; NULL
    without `covered`)."""
    table = q(ZONE_HOURLY if bucket == "hour" else ZONE_DAILY)
    b = sql.Identifier(bucket)
    if not covered:
        return sql.SQL(
            """(SELECT z.site, z.zone_id, z.{b}, z.energy_joules, z.on_seconds, z.watts_max, NULL::float8 AS covered
        FROM {table} z
        UNION ALL
        SELECT o.site, o.zone_id, o.{b}, o.energy_joules, o.on_seconds, o.watts_max, NULL::float8 FROM ({open}) o)"""
        ).format(b=b, table=table, open=open_segments())
    house = q(HOUSE_HOURLY if bucket == "hour" else HOUSE_DAILY)
    b = sql.Identifier(bucket)
    return sql.SQL(
        """(SELECT z.site, z.zone_id, z.{b}, z.energy_joules, z.on_seconds, z.watts_max, hh.covered_seconds AS covered
        FROM {table} z LEFT JOIN {house} hh ON hh.site = z.site AND hh.{b} = z.{b}
        UNION ALL
        SELECT o.site, o.zone_id, o.{b}, o.energy_joules, o.on_seconds, o.watts_max,
               -- one primary-key probe per open row (EXISTS here would hash the whole table)
               CASE WHEN (SELECT true FROM {table} z WHERE z.site = o.site AND z.zone_id = o.zone_id AND z.{b} = o.{b} LIMIT 1)
                    THEN 0 ELSE hh.covered_seconds END
        FROM (
            SELECT x.site, x.zone_id, x.{b}, sum(x.energy_joules) AS energy_joules, sum(x.on_seconds) AS on_seconds,
                   max(x.watts_max) AS watts_max
            FROM ({open}) x GROUP BY 1, 2, 3
        ) o
        LEFT JOIN {house} hh ON hh.site = o.site AND hh.{b} = o.{b})"""
    ).format(b=b, table=table, house=house, open=open_segments())


def _change_part(
    lv: Level,
    bucket: Bucket,
    filters: sql.Composable,
    *,
    whole_months: bool,
    area_filter: sql.Composable = _NOTHING,
) -> sql.Composed:
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
            """SELECT t.site, t.zone_id AS id, t.{b} AS b, t.energy_joules, t.energy_joules / 60.0,
           t.covered / 60.0, t.watts_max, t.covered / 60.0, t.on_seconds / 60.0,
           greatest(t.covered, t.on_seconds) / 60.0, {n}, {n}, {n}, {n}, {n}
    FROM {zone} t
    WHERE {rng} {filters}"""
        ).format(b=b, n=n, zone=zone_source(bucket), rng=rng, filters=filters)
    # An area: the sum of its zones (see the module docstring), summed per zone first (a year of
    # days by month is 12 rows per zone to map to its area), the house's seconds with data after.
    key = sql.SQL("date_trunc('month', t.day)::date") if whole_months else sql.SQL("t.{}").format(b)
    covered = (
        sql.SQL(
            "(SELECT sum(hh.covered_seconds) FROM {house} hh WHERE hh.site = a.site"
            " AND hh.day >= a.b AND hh.day < (a.b + interval '1 month')::date)"
        )
        if whole_months
        else sql.SQL("(SELECT hh.covered_seconds FROM {house} hh WHERE hh.site = a.site AND hh.{b} = a.b)")
    ).format(house=house_table, b=b)
    return sql.SQL(
        """SELECT a.site, a.area_id AS id, a.b, a.energy_joules, a.energy_joules / 60.0,
           {covered} / 60.0, NULL::float8, {covered} / 60.0, NULL::float8, NULL::float8,
           {n}, {n}, {n}, {n}, {n}
    FROM (
        SELECT z.site, nm.area_id, z.b, sum(z.energy_joules) AS energy_joules
        FROM (
            SELECT t.site, t.zone_id, {key} AS b, sum(t.energy_joules) AS energy_joules
            FROM {zone} t
            WHERE {rng} {filters}
            GROUP BY 1, 2, 3
        ) z
        JOIN names nm ON nm.site = z.site AND nm.zone_id = z.zone_id
        GROUP BY 1, 2, 3
    ) a
    WHERE true {area_filter}"""
    ).format(
        key=key,
        covered=covered,
        n=n,
        area_filter=area_filter,
        zone=zone_source(bucket, covered=False),
        rng=rng,
        filters=filters,
    )


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

    def filters(id_column: sql.Composable | None, *, on_site: bool = True) -> sql.Composable:
        conds: list[sql.Composable] = []
        if site and on_site:
            conds.append(sql.SQL("t.site = %(f_site)s"))
        if id and id_column is not None:
            conds.append(sql.SQL("{} = %(f_id)s").format(id_column))
        return sql.SQL("").join(sql.SQL(" AND ") + c for c in conds)

    snapshot_id = frag.rollup_series(lv, "t")
    parts = [_snapshot_part(lv, bucket, filters(snapshot_id), whole_months=whole_months)]
    if bucket == "day":
        parts.append(_cut_day_part(lv, filters(snapshot_id), whole_months=whole_months))
    if lv is AREA:  # the area is known once the zones are mapped to it
        change = _change_part(
            lv,
            bucket,
            filters(None),
            whole_months=whole_months,
            area_filter=filters(sql.SQL("a.area_id"), on_site=False),
        )
    else:
        change = _change_part(
            lv, bucket, filters(sql.SQL("t.zone_id") if lv is ZONE else None), whole_months=whole_months
        )
    parts.append(change)
    return sql.SQL("\n    UNION ALL\n    ").join(parts)


def labels_join(
    lv: Level, alias: str = "g", fallback: str | None = None
) -> tuple[sql.Composable, dict[str, sql.Composable]]:
    join: sql.Composable
    """A LEFT JOIN `l` to the newest names of `lv`'s series (the change rows' `lutron_zone_info`)
    and the label expressions that prefer them to `fallback`'s (default: the bucket's own,
    `alias`.name, ...; `snapshot_labels` gives `sl` for groups of several buckets)."""
    a = sql.SQL(alias)
    f = sql.SQL(fallback or alias)
    null = sql.SQL("NULL::text")
    if lv is ZONE:
        join = sql.SQL("LEFT JOIN names l ON l.site = {a}.site AND l.zone_id = {a}.id").format(a=a)
        return join, {
            "name": sql.SQL("coalesce(l.zone, {f}.name)").format(f=f),
            "area": sql.SQL("coalesce(l.area, {f}.area)").format(f=f),
            "floor": sql.SQL("coalesce(l.floor, {f}.floor)").format(f=f),
            "kind": sql.SQL("coalesce(l.kind, {f}.kind)").format(f=f),
            "output_type": sql.SQL("coalesce(l.output_type, {f}.output_type)").format(f=f),
        }
    if lv is AREA:
        join = sql.SQL("LEFT JOIN area_names l ON l.site = {a}.site AND l.area_id = {a}.id").format(a=a)
        return join, {
            "name": sql.SQL("coalesce(l.area, {f}.name)").format(f=f),
            "area": sql.SQL("coalesce(l.area, {f}.area)").format(f=f),
            "floor": sql.SQL("coalesce(l.floor, {f}.floor)").format(f=f),
            "kind": null,
            "output_type": null,
        }
    join = sql.SQL("LEFT JOIN (SELECT NULL::text AS site) l ON false")
    return join, {"name": null, "area": null, "floor": null, "kind": null, "output_type": null}


def snapshot_labels(
    lv: Level, bucket: Bucket, alias: str = "g", *, whole_months: bool = False
) -> sql.Composable:
    """A LEFT JOIN LATERAL `sl` (name, area, floor, kind, output_type): the labels of the newest
    snapshot bucket in range of series `alias`.site/.id, looked up only where `l` (the newest
    names of the change rows, `labels_join`) has none."""
    if lv is SYSTEM:
        return sql.SQL(
            "LEFT JOIN LATERAL (SELECT NULL::text AS name, NULL::text AS area, NULL::text AS floor,"
            " NULL::text AS kind, NULL::text AS output_type) sl ON true"
        )
    table = lv.hourly_table() if bucket == "hour" else lv.daily_table()
    zone = lv is ZONE
    return sql.SQL(
        """LEFT JOIN LATERAL (
        SELECT {name} AS name, t.area, t.floor, {kind} AS kind, {output_type} AS output_type
        FROM {table} t
        WHERE l.site IS NULL AND t.site = {a}.site AND t.{key} = {a}.id AND {rng}
        ORDER BY t.{b} DESC LIMIT 1
    ) sl ON true"""
    ).format(
        name=sql.SQL("t.zone" if zone else "t.area"),
        kind=sql.SQL("t.kind" if zone else "NULL::text"),
        output_type=sql.SQL("t.output_type" if zone else "NULL::text"),
        table=table,
        a=sql.SQL(alias),
        key=sql.Identifier(lv.key or ""),
        rng=_range("t", bucket, whole_months=whole_months),
        b=sql.Identifier(bucket),
    )


def grouped(lv: Level, bucket: Bucket, key: sql.Composable, **kw: bool) -> sql.Composed:
    """`buckets` summed per (site, id, `key`). Labels: the greatest of the snapshot buckets' (change
    buckets carry none; `labels_join` prefers the newest names): exactly the bucket's own when a
    group is one bucket; `snapshot_labels` finds the newest where a group spans several."""
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
