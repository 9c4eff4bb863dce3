-- db rebuild of the system rollups: hourly, daily, series (named parameters %(...)s).
-- Generated from telegraf_lutron/db/rollups.py by `python -m telegraf_lutron.db.golden --write`: do not edit.

WITH points AS MATERIALIZED (
    SELECT p.*, hours.hour, hours.day
    FROM (
        SELECT coalesce(r."site", '') COLLATE "C" AS site, ''::text COLLATE "C" AS series, r."time",
               max(r."energy_joules_total") AS counter,
               max(r."watts") AS watts,
               max(coalesce(r."lights_on", r."zones_on")) AS on_value
        FROM "public"."lutron_power" r WHERE r."time" IS NOT NULL
        GROUP BY 1, 2, 3
    ) p
    JOIN (
        -- one time zone conversion per distinct time, not per row
        SELECT x."time", x.hour, (x.hour AT TIME ZONE %(tz)s)::date AS day
        FROM (
            SELECT t."time", "lutron"."hour_start"(t."time", %(tz)s) AS hour
            FROM (SELECT DISTINCT r."time" FROM "public"."lutron_power" r WHERE r."time" IS NOT NULL) t
        ) x
    ) hours ON hours."time" = p."time"
),
deltas AS (
    SELECT p.site, p.series, p.hour, p.day, p."time", p.counter, p.watts, p.on_value,
           CASE WHEN p.counter IS NULL THEN NULL ELSE lag(p.counter) OVER w END AS prev_counter
    FROM points p
    WINDOW w AS (PARTITION BY p.site, p.series, p.counter IS NULL ORDER BY p."time")
),
hour_stats AS (
    SELECT d.site, d.series, d.hour, d.day,
           count(*)::integer AS "samples",
           coalesce(sum(CASE WHEN d.counter IS NULL OR d.prev_counter IS NULL THEN 0 WHEN d.counter >= d.prev_counter THEN d.counter - d.prev_counter ELSE d.counter END), 0) AS "energy_joules",
           coalesce(sum(d.watts), 0) AS "watts_sum",
           count(d.watts)::integer AS "watts_samples",
           max(d.watts) AS "watts_max",
           (count(*) FILTER (WHERE d.on_value > 0))::integer AS "on_samples",
           (count(*) FILTER (WHERE d.on_value = 0))::integer AS "off_samples",
           min(d."time") AS "first_time",
           max(d."time") AS "last_time",
           max(d."time") FILTER (WHERE d.counter IS NOT NULL) AS last_counter_time
    FROM deltas d
    GROUP BY d.site, d.series, d.hour, d.day
),
hour_rows AS (
    SELECT hour_stats.*, last_counted.counter AS last_counter
    FROM hour_stats
    JOIN points newest_point ON newest_point.site = hour_stats.site
        AND newest_point.series = hour_stats.series AND newest_point."time" = hour_stats.last_time
    LEFT JOIN points last_counted ON last_counted.site = hour_stats.site
        AND last_counted.series = hour_stats.series AND last_counted."time" = hour_stats.last_counter_time
)
INSERT INTO "lutron"."system_hourly" ("site", "hour", "day", "samples", "energy_joules", "watts_sum", "watts_samples", "watts_max", "on_samples", "off_samples", "first_time", "last_time", "last_counter")
SELECT hour_rows."site",
       hour_rows."hour",
       hour_rows."day",
       hour_rows."samples",
       hour_rows."energy_joules",
       hour_rows."watts_sum",
       hour_rows."watts_samples",
       hour_rows."watts_max",
       hour_rows."on_samples",
       hour_rows."off_samples",
       hour_rows."first_time",
       hour_rows."last_time",
       hour_rows."last_counter"
FROM hour_rows
WHERE hour_rows.hour >= %(hour_from)s;

INSERT INTO "lutron"."system_daily" ("site", "day", "samples", "energy_joules", "watts_sum", "watts_samples", "watts_max", "on_samples", "off_samples", "first_time", "last_time")
SELECT day_rows."site",
       day_rows."day",
       day_rows."samples",
       day_rows."energy_joules",
       day_rows."watts_sum",
       day_rows."watts_samples",
       day_rows."watts_max",
       day_rows."on_samples",
       day_rows."off_samples",
       day_rows."first_time",
       day_rows."last_time"
FROM (
    SELECT h.site, ''::text AS series, h.day,
           sum(h.samples)::integer AS "samples",
           sum(h.energy_joules) AS "energy_joules",
           sum(h.watts_sum) AS "watts_sum",
           sum(h.watts_samples)::integer AS "watts_samples",
           max(h.watts_max) AS "watts_max",
           sum(h.on_samples)::integer AS "on_samples",
           sum(h.off_samples)::integer AS "off_samples",
           min(h.first_time) AS "first_time",
           max(h.last_time) AS "last_time"
    FROM "lutron"."system_hourly" h
    WHERE h.day >= %(day_from)s AND (h.day::timestamp AT TIME ZONE %(tz)s) >= %(day_frozen)s
    GROUP BY 1, 2, 3
) day_rows;

INSERT INTO "lutron"."series" (level, site, series)
SELECT DISTINCT 'system', coalesce(r."site", ''), ''::text FROM "public"."lutron_power" r WHERE r."time" IS NOT NULL
ON CONFLICT DO NOTHING;
