-- lutron.change_rollup, as db init installs it.
-- Generated from telegraf_lutron/db/changes.py by `python -m telegraf_lutron.db.golden --write`: do not edit.

CREATE OR REPLACE FUNCTION "lutron"."change_rollup"() RETURNS void LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $function$
DECLARE
    v_tz text;
    v_from timestamptz;
    v_h0 timestamptz;
    v_r0 timestamptz;
    v_frozen timestamptz;
    v_d0 date;
    v_m0 date;
    rec record;
BEGIN
    PERFORM pg_advisory_xact_lock(19540, 17224);
    SELECT coalesce(max(s.value) FILTER (WHERE s.name = 'timezone'), 'UTC'),
           coalesce(max(s.value) FILTER (WHERE s.name = 'changes_pruned_before'), '-infinity')::timestamptz
    INTO v_tz, v_frozen FROM "lutron"."settings" s;
    FOR rec IN DELETE FROM "lutron"."change_dirty" RETURNING series, site, id, since LOOP
        IF rec.series = 'zone' THEN
            SELECT max(r."time") INTO v_from FROM "public"."lutron_zone_change" r
            WHERE coalesce(r.site, '') = rec.site AND coalesce(r.zone_id, '') = rec.id AND r."time" < rec.since;
            v_h0 := "lutron"."hour_start"(coalesce(v_from, rec.since), v_tz);
            IF v_frozen > '-infinity' THEN
                v_h0 := greatest(v_h0, "lutron"."hour_start"(v_frozen, v_tz) + interval '1 hour');
            END IF;
            SELECT max(r."time") INTO v_r0 FROM "public"."lutron_zone_change" r
            WHERE coalesce(r.site, '') = rec.site AND coalesce(r.zone_id, '') = rec.id AND r."time" <= v_h0;
            DELETE FROM "lutron"."zone_change_hourly" h WHERE h.site = rec.site AND h.zone_id = rec.id AND h.hour >= v_h0;
            DELETE FROM "lutron"."zone_mixed_cause_hourly" h WHERE h.site = rec.site AND h.zone_id = rec.id AND h.hour >= v_h0;
            -- One pass over the segments fills both: per hour, with its cause when it had one,
            -- and per hour and cause for the hours with several.
            WITH p AS MATERIALIZED (
                SELECT h.hour, s.cause, s.keypad_id, s.component, s.timeclock_id, s.timeclock_event,
                       CASE WHEN b >= s.t1 THEN s.delta
                            ELSE least(s.w * extract(epoch FROM b - s.t0), s.delta) END
                       - least(s.w * extract(epoch FROM a - s.t0), s.delta) AS energy,
                       CASE WHEN s.on_value > 0 THEN extract(epoch FROM b - a) ELSE 0 END AS on_seconds,
                       CASE WHEN s.w > 0 AND b > a THEN s.w END AS peak,
                       CASE WHEN s.t1 - s.t0 <= make_interval(secs => 150) THEN extract(epoch FROM b - a)
                            ELSE 0 END AS covered
                FROM (
                    SELECT x.t0, x.t1, x.w, x.on_value, x.cause, x.keypad_id, x.component, x.timeclock_id, x.timeclock_event,
                           CASE WHEN x.c0 IS NULL OR x.c1 IS NULL THEN x.w * extract(epoch FROM x.t1 - x.t0)
                                WHEN x.c1 >= x.c0 THEN x.c1 - x.c0 ELSE x.c1 END AS delta
                    FROM (
                        SELECT r."time" AS t0, lead(r."time") OVER w AS t1,
                               greatest(coalesce(r.watts, 0), 0) AS w, coalesce(r.level, 0) AS on_value,
                               coalesce(nullif(r.cause, ''), 'unknown') AS cause,
                               coalesce(r.keypad_id, '') AS keypad_id,
                               coalesce(r.component, '') AS component,
                               coalesce(r.timeclock_id, '') AS timeclock_id,
                               coalesce(r.timeclock_event, '') AS timeclock_event,
                               r.energy_joules_total AS c0, lead(r.energy_joules_total) OVER w AS c1
                        FROM "public"."lutron_zone_change" r
                        WHERE coalesce(r.site, '') = rec.site AND coalesce(r.zone_id, '') = rec.id AND r."time" >= coalesce(v_r0, '-infinity')
                        WINDOW w AS (ORDER BY r."time")
                    ) x
                    WHERE x.t1 > x.t0
                ) s
                CROSS JOIN LATERAL generate_series(
                    "lutron"."hour_start"(CASE WHEN s.w > 0 OR s.on_value > 0 THEN s.t0 ELSE s.t1 - interval '1 microsecond' END, v_tz),
                    s.t1 - interval '1 microsecond', interval '1 hour') AS h(hour)
                CROSS JOIN LATERAL (SELECT greatest(s.t0, h.hour) AS a, least(s.t1, h.hour + interval '1 hour') AS b) ab
            ), c AS MATERIALIZED (
                SELECT p.hour, p.cause, p.keypad_id, p.component, p.timeclock_id, p.timeclock_event, sum(p.energy) AS energy, sum(p.on_seconds) AS on_seconds,
                       count(*) OVER (PARTITION BY p.hour) AS causes
                FROM p
                WHERE p.hour >= v_h0
                GROUP BY p.hour, p.cause, p.keypad_id, p.component, p.timeclock_id, p.timeclock_event
                HAVING sum(p.energy) > 0 OR sum(p.on_seconds) > 0
            ), by_hour AS (
                INSERT INTO "lutron"."zone_change_hourly" (site, zone_id, hour, day, energy_joules, on_seconds, watts_max, cause, keypad_id, component, timeclock_id, timeclock_event)
                SELECT rec.site, rec.id, t.hour, (t.hour AT TIME ZONE v_tz)::date,
                       t.energy, t.on_seconds, t.peak, c.cause, c.keypad_id, c.component, c.timeclock_id, c.timeclock_event
                FROM (
                    SELECT p.hour, sum(p.energy) AS energy, sum(p.on_seconds) AS on_seconds, max(p.peak) AS peak
                    FROM p
                    WHERE p.hour >= v_h0
                    GROUP BY p.hour
                    HAVING sum(p.energy) > 0 OR sum(p.on_seconds) > 0
                ) t
                LEFT JOIN c ON c.hour = t.hour AND c.causes = 1
            )
            INSERT INTO "lutron"."zone_mixed_cause_hourly" (site, zone_id, hour, day, cause, keypad_id, component, timeclock_id, timeclock_event, energy_joules, on_seconds)
            SELECT rec.site, rec.id, c.hour, (c.hour AT TIME ZONE v_tz)::date, c.cause, c.keypad_id, c.component, c.timeclock_id, c.timeclock_event, c.energy, c.on_seconds
            FROM c
            WHERE c.causes > 1;
            -- Days from the hours and months from the days, the same way. Only the rows that
            -- differ are written: rewriting every row of the day and month at each flush left
            -- ten times the live rows as dead ones for autovacuum (bench/bench_store.py).
            v_d0 := (v_h0 AT TIME ZONE v_tz)::date;
            v_m0 := date_trunc('month', v_d0)::date;
            DELETE FROM "lutron"."zone_change_daily" d
            WHERE d.site = rec.site AND d.zone_id = rec.id AND d.day >= v_d0
              AND NOT EXISTS (SELECT 1 FROM "lutron"."zone_change_hourly" h
                              WHERE h.site = rec.site AND h.zone_id = rec.id AND h.day = d.day);
            -- The zone's days by cause, read once: the mixed days come from them, and a day
            -- with one cause keeps it on the zone's day row.
            WITH c AS MATERIALIZED (
                SELECT h.day, h.cause, h.keypad_id, h.component, h.timeclock_id, h.timeclock_event, sum(h.energy_joules) AS energy, sum(h.on_seconds) AS on_seconds, count(*) OVER (PARTITION BY h.day) AS causes FROM "lutron"."zone_cause_hourly" h WHERE h.site = rec.site AND h.zone_id = rec.id AND h.day >= v_d0 GROUP BY h.day, h.cause, h.keypad_id, h.component, h.timeclock_id, h.timeclock_event
            ), gone AS (
                DELETE FROM "lutron"."zone_mixed_cause_daily" m
                WHERE m.site = rec.site AND m.zone_id = rec.id AND m.day >= v_d0
                  AND NOT EXISTS (SELECT 1 FROM c
                                  WHERE c.causes > 1 AND c.day = m.day AND c.cause = m.cause AND c.keypad_id = m.keypad_id AND c.component = m.component AND c.timeclock_id = m.timeclock_id AND c.timeclock_event = m.timeclock_event
                                    AND c.energy = m.energy_joules AND c.on_seconds = m.on_seconds)
            ), added AS (
                -- Sees the rows as before `gone`: an unchanged row is neither deleted nor added.
                INSERT INTO "lutron"."zone_mixed_cause_daily" (site, zone_id, day, cause, keypad_id, component, timeclock_id, timeclock_event, energy_joules, on_seconds)
                SELECT rec.site, rec.id, c.day, c.cause, c.keypad_id, c.component, c.timeclock_id, c.timeclock_event, c.energy, c.on_seconds
                FROM c
                WHERE c.causes > 1
                  AND NOT EXISTS (SELECT 1 FROM "lutron"."zone_mixed_cause_daily" m
                                  WHERE m.site = rec.site AND m.zone_id = rec.id AND m.day = c.day AND c.cause = m.cause AND c.keypad_id = m.keypad_id AND c.component = m.component AND c.timeclock_id = m.timeclock_id AND c.timeclock_event = m.timeclock_event
                                    AND c.energy = m.energy_joules AND c.on_seconds = m.on_seconds)
            )
            INSERT INTO "lutron"."zone_change_daily" AS d (site, zone_id, day, energy_joules, on_seconds, watts_max, cause, keypad_id, component, timeclock_id, timeclock_event)
            SELECT rec.site, rec.id, t.day, t.energy, t.on_seconds, t.peak, c.cause, c.keypad_id, c.component, c.timeclock_id, c.timeclock_event
            FROM (
                SELECT h.day, sum(h.energy_joules) AS energy, sum(h.on_seconds) AS on_seconds,
                       max(h.watts_max) AS peak
                FROM "lutron"."zone_change_hourly" h
                WHERE h.site = rec.site AND h.zone_id = rec.id AND h.day >= v_d0
                GROUP BY h.day
            ) t
            LEFT JOIN c ON c.day = t.day AND c.causes = 1
            ON CONFLICT (site, zone_id, day) DO UPDATE
            SET energy_joules = excluded.energy_joules, on_seconds = excluded.on_seconds,
                watts_max = excluded.watts_max, cause = excluded.cause, keypad_id = excluded.keypad_id, component = excluded.component, timeclock_id = excluded.timeclock_id, timeclock_event = excluded.timeclock_event
            WHERE (d.energy_joules, d.on_seconds, d.watts_max, d.cause, d.keypad_id, d.component, d.timeclock_id, d.timeclock_event)
                  IS DISTINCT FROM (excluded.energy_joules, excluded.on_seconds, excluded.watts_max, excluded.cause, excluded.keypad_id, excluded.component, excluded.timeclock_id, excluded.timeclock_event);
            WITH c AS MATERIALIZED (
                SELECT date_trunc('month', h.day)::date AS month, h.cause, h.keypad_id, h.component, h.timeclock_id, h.timeclock_event, sum(h.energy_joules) AS energy, sum(h.on_seconds) AS on_seconds FROM "lutron"."zone_cause_daily" h WHERE h.site = rec.site AND h.zone_id = rec.id AND h.day >= v_m0 GROUP BY 1, h.cause, h.keypad_id, h.component, h.timeclock_id, h.timeclock_event
            ), gone AS (
                DELETE FROM "lutron"."zone_cause_monthly" m
                WHERE m.site = rec.site AND m.zone_id = rec.id AND m.month >= v_m0
                  AND NOT EXISTS (SELECT 1 FROM c
                                  WHERE c.month = m.month AND c.cause = m.cause AND c.keypad_id = m.keypad_id AND c.component = m.component AND c.timeclock_id = m.timeclock_id AND c.timeclock_event = m.timeclock_event
                                    AND c.energy = m.energy_joules AND c.on_seconds = m.on_seconds)
            )
            INSERT INTO "lutron"."zone_cause_monthly" (site, zone_id, month, cause, keypad_id, component, timeclock_id, timeclock_event, energy_joules, on_seconds)
            SELECT rec.site, rec.id, c.month, c.cause, c.keypad_id, c.component, c.timeclock_id, c.timeclock_event, c.energy, c.on_seconds
            FROM c
            WHERE NOT EXISTS (SELECT 1 FROM "lutron"."zone_cause_monthly" m
                              WHERE m.site = rec.site AND m.zone_id = rec.id AND m.month = c.month AND c.cause = m.cause AND c.keypad_id = m.keypad_id AND c.component = m.component AND c.timeclock_id = m.timeclock_id AND c.timeclock_event = m.timeclock_event
                                AND c.energy = m.energy_joules AND c.on_seconds = m.on_seconds);
            INSERT INTO "lutron"."change_last" AS l (series, site, id, "time", watts, level)
            SELECT rec.series, rec.site, rec.id, r."time", greatest(coalesce(r.watts, 0), 0), r.level
            FROM "public"."lutron_zone_change" r
            WHERE coalesce(r.site, '') = rec.site AND coalesce(r.zone_id, '') = rec.id
            ORDER BY coalesce(r.site, '') DESC, coalesce(r.zone_id, '') DESC, r."time" DESC LIMIT 1
            ON CONFLICT (series, site, id) DO UPDATE
            SET "time" = excluded."time", watts = excluded.watts, level = excluded.level;
        ELSIF rec.series = 'area' THEN
            SELECT max(r."time") INTO v_from FROM "public"."lutron_area_change" r
            WHERE coalesce(r.site, '') = rec.site AND coalesce(r.area_id, '') = rec.id AND r."time" < rec.since;
            v_h0 := "lutron"."hour_start"(coalesce(v_from, rec.since), v_tz);
            IF v_frozen > '-infinity' THEN
                v_h0 := greatest(v_h0, "lutron"."hour_start"(v_frozen, v_tz) + interval '1 hour');
            END IF;
            SELECT max(r."time") INTO v_r0 FROM "public"."lutron_area_change" r
            WHERE coalesce(r.site, '') = rec.site AND coalesce(r.area_id, '') = rec.id AND r."time" <= v_h0;
            DELETE FROM "lutron"."area_unoccupied_hourly" h WHERE h.site = rec.site AND h.area_id = rec.id AND h.hour >= v_h0;
            INSERT INTO "lutron"."area_unoccupied_hourly" (site, area_id, hour, day, energy_joules, lit_seconds, watts_max)
            SELECT rec.site, rec.id, p.hour, (p.hour AT TIME ZONE v_tz)::date,
                   sum(p.energy), sum(p.on_seconds), max(p.peak)
            FROM (
                SELECT h.hour,
                       CASE WHEN b >= s.t1 THEN s.delta
                            ELSE least(s.w * extract(epoch FROM b - s.t0), s.delta) END
                       - least(s.w * extract(epoch FROM a - s.t0), s.delta) AS energy,
                       CASE WHEN s.on_value > 0 THEN extract(epoch FROM b - a) ELSE 0 END AS on_seconds,
                       CASE WHEN s.w > 0 AND b > a THEN s.w END AS peak,
                       CASE WHEN s.t1 - s.t0 <= make_interval(secs => 150) THEN extract(epoch FROM b - a)
                            ELSE 0 END AS covered
                FROM (
                    SELECT x.t0, x.t1, x.w, x.on_value,
                           CASE WHEN x.c0 IS NULL OR x.c1 IS NULL THEN x.w * extract(epoch FROM x.t1 - x.t0)
                                WHEN x.c1 >= x.c0 THEN x.c1 - x.c0 ELSE x.c1 END AS delta
                    FROM (
                        SELECT r."time" AS t0, lead(r."time") OVER w AS t1,
                               greatest(coalesce(r.unoccupied_watts, 0), 0) AS w, CASE WHEN coalesce(r.unoccupied_watts, 0) > 0 THEN 1 ELSE 0 END AS on_value,
                               r.unoccupied_energy_joules_total AS c0, lead(r.unoccupied_energy_joules_total) OVER w AS c1
                        FROM "public"."lutron_area_change" r
                        WHERE coalesce(r.site, '') = rec.site AND coalesce(r.area_id, '') = rec.id AND r."time" >= coalesce(v_r0, '-infinity')
                        WINDOW w AS (ORDER BY r."time")
                    ) x
                    WHERE x.t1 > x.t0
                ) s
                CROSS JOIN LATERAL generate_series(
                    "lutron"."hour_start"(CASE WHEN s.w > 0 OR s.on_value > 0 THEN s.t0 ELSE s.t1 - interval '1 microsecond' END, v_tz),
                    s.t1 - interval '1 microsecond', interval '1 hour') AS h(hour)
                CROSS JOIN LATERAL (SELECT greatest(s.t0, h.hour) AS a, least(s.t1, h.hour + interval '1 hour') AS b) ab
            ) p
            WHERE p.hour >= v_h0
            GROUP BY p.hour
            HAVING sum(p.energy) > 0 OR sum(p.on_seconds) > 0;
            DELETE FROM "lutron"."area_unoccupied_daily" d
            WHERE d.site = rec.site AND d.area_id = rec.id AND d.day >= (v_h0 AT TIME ZONE v_tz)::date;
            INSERT INTO "lutron"."area_unoccupied_daily" (site, area_id, day, energy_joules, lit_seconds, watts_max)
            SELECT h.site, h.area_id, h.day, sum(h.energy_joules), sum(h.lit_seconds), max(h.watts_max)
            FROM "lutron"."area_unoccupied_hourly" h
            WHERE h.site = rec.site AND h.area_id = rec.id AND h.day >= (v_h0 AT TIME ZONE v_tz)::date
            GROUP BY h.site, h.area_id, h.day;
        ELSE
            SELECT max(r."time") INTO v_from FROM "public"."lutron_house" r
            WHERE coalesce(r.site, '') = rec.site AND r."time" < rec.since;
            v_h0 := "lutron"."hour_start"(coalesce(v_from, rec.since), v_tz);
            IF v_frozen > '-infinity' THEN
                v_h0 := greatest(v_h0, "lutron"."hour_start"(v_frozen, v_tz) + interval '1 hour');
            END IF;
            SELECT max(r."time") INTO v_r0 FROM "public"."lutron_house" r
            WHERE coalesce(r.site, '') = rec.site AND r."time" <= v_h0;
            DELETE FROM "lutron"."house_hourly" h WHERE h.site = rec.site AND h.hour >= v_h0;
            INSERT INTO "lutron"."house_hourly" (site, hour, day, energy_joules, watts_max, covered_seconds)
            SELECT rec.site, p.hour, (p.hour AT TIME ZONE v_tz)::date,
                   sum(p.energy), max(p.peak), sum(p.covered)
            FROM (
                SELECT h.hour,
                       CASE WHEN b >= s.t1 THEN s.delta
                            ELSE least(s.w * extract(epoch FROM b - s.t0), s.delta) END
                       - least(s.w * extract(epoch FROM a - s.t0), s.delta) AS energy,
                       CASE WHEN s.on_value > 0 THEN extract(epoch FROM b - a) ELSE 0 END AS on_seconds,
                       CASE WHEN s.w > 0 AND b > a THEN s.w END AS peak,
                       CASE WHEN s.t1 - s.t0 <= make_interval(secs => 150) THEN extract(epoch FROM b - a)
                            ELSE 0 END AS covered
                FROM (
                    SELECT x.t0, x.t1, x.w, x.on_value,
                           CASE WHEN x.c0 IS NULL OR x.c1 IS NULL THEN x.w * extract(epoch FROM x.t1 - x.t0)
                                WHEN x.c1 >= x.c0 THEN x.c1 - x.c0 ELSE x.c1 END AS delta
                    FROM (
                        SELECT r."time" AS t0, lead(r."time") OVER w AS t1,
                               greatest(coalesce(r.watts, 0), 0) AS w, 0 AS on_value,
                               r.energy_joules_total AS c0, lead(r.energy_joules_total) OVER w AS c1
                        FROM "public"."lutron_house" r
                        WHERE coalesce(r.site, '') = rec.site AND r."time" >= coalesce(v_r0, '-infinity')
                        WINDOW w AS (ORDER BY r."time")
                    ) x
                    WHERE x.t1 > x.t0
                ) s
                CROSS JOIN LATERAL generate_series(
                    "lutron"."hour_start"(CASE WHEN s.w > 0 OR s.on_value > 0 THEN s.t0 ELSE s.t1 - interval '1 microsecond' END, v_tz),
                    s.t1 - interval '1 microsecond', interval '1 hour') AS h(hour)
                CROSS JOIN LATERAL (SELECT greatest(s.t0, h.hour) AS a, least(s.t1, h.hour + interval '1 hour') AS b) ab
            ) p
            WHERE p.hour >= v_h0
            GROUP BY p.hour;
            DELETE FROM "lutron"."house_daily" d WHERE d.site = rec.site AND d.day >= (v_h0 AT TIME ZONE v_tz)::date;
            INSERT INTO "lutron"."house_daily" (site, day, energy_joules, watts_max, covered_seconds)
            SELECT h.site, h.day, sum(h.energy_joules), max(h.watts_max), sum(h.covered_seconds)
            FROM "lutron"."house_hourly" h
            WHERE h.site = rec.site AND h.day >= (v_h0 AT TIME ZONE v_tz)::date
            GROUP BY h.site, h.day;
            INSERT INTO "lutron"."change_last" AS l (series, site, id, "time", watts, level, first_time)
            SELECT rec.series, rec.site, '', r."time", greatest(coalesce(r.watts, 0), 0), NULL,
                   (SELECT min(f."time") FROM "public"."lutron_house" f WHERE coalesce(f.site, '') = rec.site)
            FROM "public"."lutron_house" r
            WHERE coalesce(r.site, '') = rec.site
            ORDER BY coalesce(r.site, '') DESC, r."time" DESC LIMIT 1
            ON CONFLICT (series, site, id) DO UPDATE
            SET "time" = excluded."time", watts = excluded.watts, level = excluded.level,
                first_time = least(l.first_time, excluded.first_time);
        END IF;
    END LOOP;
END;
$function$;
