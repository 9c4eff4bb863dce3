-- lutron.drain_system, as db init installs it.
-- Generated from telegraf_lutron/db/rollups.py by `python -m telegraf_lutron.db.golden --write`: do not edit.

CREATE OR REPLACE FUNCTION "lutron"."drain_system"() RETURNS void LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET enable_nestloop = on
SET enable_sort = on
SET enable_incremental_sort = on
SET jit = off
SET work_mem = '64MB'
AS $function$
DECLARE
    v_tz text;
    v_raw_frozen timestamptz;
    v_day_frozen timestamptz;
    v_slow_site text[];
    v_slow_series text[];
    v_fast_site text[];
    v_fast_series text[];
    v_fast_counter double precision[];
    v_day_site text[];
    v_day_series text[];
    v_day_day date[];
    v_staged bigint;
    v_since timestamptz;
BEGIN
    -- `db prune` takes SHARE ROW EXCLUSIVE after moving its cut-off: a drain outside a COPY
    -- (rollup_flush) must hold this too so that prune waits for it, as it waits for a COPY.
    LOCK TABLE "public"."lutron_power" IN ROW EXCLUSIVE MODE;
    -- One drain per level at a time. The trigger stages rows under the same lock, so the staged
    -- rows cannot change until this transaction ends.
    PERFORM pg_advisory_xact_lock(19540, hashtext('system'));
    SELECT st.staged_rows, st.since INTO v_staged, v_since FROM "lutron"."rollup_state" st WHERE st.level = 'system';
    IF coalesce(v_staged, 0) = 0 AND NOT EXISTS (SELECT 1 FROM "lutron"."pending_buckets" p WHERE p.level = 'system') THEN
        RETURN;
    END IF;
    SELECT coalesce(max(s.value) FILTER (WHERE s.name = 'timezone'), 'UTC'),
           coalesce(max(s.value) FILTER (WHERE s.name = 'raw_pruned_before'), '-infinity')::timestamptz,
           coalesce(max(s.value) FILTER (WHERE s.name = 'hourly_pruned_before'), '-infinity')::timestamptz
    INTO v_tz, v_raw_frozen, v_day_frozen
    FROM "lutron"."settings" s;
    IF v_staged > 0 AND NOT EXISTS (SELECT 1 FROM "lutron"."stage_system") THEN
        -- The stage is UNLOGGED (its rows are in the raw table already, WAL-logged there), so a
        -- server crash empties it while rollup_state, which is logged, still counts its rows.
        -- Stage again every raw row from the oldest time that was staged: rows among them that
        -- were rolled up before make their series take the slow path, which recomputes the
        -- touched buckets from the raw rows (idempotent), so nothing counts twice.
        INSERT INTO "lutron"."stage_system" ("site", "time", "energy_joules_total", "watts", "on_value", hour, day)
        SELECT n."site", n."time", n."energy_joules_total", n."watts", coalesce(n."lights_on", n."zones_on"), "lutron"."hour_start"(n."time", v_tz), ("lutron"."hour_start"(n."time", v_tz) AT TIME ZONE v_tz)::date
        FROM "public"."lutron_power" n WHERE n."time" >= v_since;
        GET DIAGNOSTICS v_staged = ROW_COUNT;
        RAISE WARNING 'telegraf-lutron: % rows staged for rollup were lost (server crash?); staged % rows again from %',
            'system', v_staged, v_since;
    END IF;

    BEGIN
        -- Fast or slow? Fast when a series' staged rows are all newer than its newest bucket's last row.
        WITH staged_series AS (
            -- default collation here: these keys probe the rollup tables' primary keys
            SELECT coalesce(n."site", '') AS site, ''::text AS series, min(n."time") AS first_time,
                   bool_or(n."energy_joules_total" IS NULL) AS null_counter
            FROM "lutron"."stage_system" n WHERE n."time" IS NOT NULL
            GROUP BY 1, 2
        ),
        pending AS (
            SELECT DISTINCT p.site, p.series FROM "lutron"."pending_buckets" p WHERE p.level = 'system'
        ),
        classified AS (
            SELECT b.site, b.series,
                   -- the newest bucket almost always has a counter; look further back only if not
                   coalesce(newest_bucket.last_counter, (
                       SELECT h.last_counter FROM "lutron"."system_hourly" h WHERE h."site" = b."site" AND h.last_counter IS NOT NULL
                       ORDER BY h.hour DESC LIMIT 1)) AS last_counter,
                   -- A series without buckets is new: all its rows are staged (see the docstring).
                   (coalesce(b.first_time <= newest_bucket.last_time, false) OR b.null_counter
                    OR EXISTS (SELECT 1 FROM pending WHERE pending.site = b.site AND pending.series = b.series)) AS slow
            FROM staged_series b
            LEFT JOIN LATERAL (
                SELECT h.last_time, h.last_counter FROM "lutron"."system_hourly" h WHERE h."site" = b."site" ORDER BY h.hour DESC LIMIT 1
            ) newest_bucket ON true
            UNION ALL
            SELECT pending.site, pending.series, NULL, true FROM pending
            WHERE NOT EXISTS (
                SELECT 1 FROM staged_series s WHERE s.site = pending.site AND s.series = pending.series
            )
        )
        SELECT array_agg(c.site) FILTER (WHERE c.slow), array_agg(c.series) FILTER (WHERE c.slow),
               array_agg(c.site) FILTER (WHERE NOT c.slow), array_agg(c.series) FILTER (WHERE NOT c.slow),
               array_agg(c.last_counter) FILTER (WHERE NOT c.slow)
        INTO v_slow_site, v_slow_series, v_fast_site, v_fast_series, v_fast_counter
        FROM classified c;

        IF v_slow_site IS NOT NULL THEN
            INSERT INTO "lutron"."series" (level, site, series)
            SELECT 'system', k.site, k.series FROM unnest(v_slow_site, v_slow_series) AS k(site, series)
            ON CONFLICT DO NOTHING;

            -- Slow path (late rows, duplicates, rows without a counter, queued buckets): recompute the
            -- touched buckets from raw rows. The index lookups (previous, following) are lateral and
            -- stay nested loops; everything else must hash: the estimates for the raw rows of the
            -- touched buckets can be far too low (a table not analysed since it filled), and a
            -- nested loop over 20,000 such rows takes seconds.
            PERFORM set_config('enable_nestloop', 'off', true);
            WITH slow AS (
                SELECT k.site, k.series FROM unnest(v_slow_site, v_slow_series) AS k(site, series)
            ),
            dequeued AS (
                DELETE FROM "lutron"."pending_buckets" p WHERE p.level = 'system' RETURNING p.site, p.series, p.hour
            ),
            touched AS (
                SELECT DISTINCT coalesce(n."site", '') AS site, ''::text AS series, n.hour
                FROM "lutron"."stage_system" n
                WHERE n."time" IS NOT NULL AND (coalesce(n."site", ''), ''::text) IN (SELECT slow.site, slow.series FROM slow)
                UNION
                SELECT dequeued.site, dequeued.series, dequeued.hour FROM dequeued
            ),
            following AS (
                -- a late row changes the delta of the next row, which may sit in a later bucket
                SELECT b.site, b.series, "lutron"."hour_start"(next_row."time", v_tz) AS hour
                FROM touched b
                CROSS JOIN LATERAL (
                    SELECT r."time" FROM "public"."lutron_power" r
                    WHERE coalesce(r."site", '') = b."site" AND r."time" >= b.hour + interval '1 hour' AND r."energy_joules_total" IS NOT NULL
                    ORDER BY r."time" LIMIT 1
                ) next_row
            ),
            buckets AS (
                SELECT x.site, x.series, x.hour, (x.hour AT TIME ZONE v_tz)::date AS day
                FROM (
                    SELECT touched.site, touched.series, touched.hour FROM touched
                    UNION
                    SELECT following.site, following.series, following.hour FROM following
                ) x
                WHERE x.hour >= v_raw_frozen
            ),
            previous AS MATERIALIZED (
                -- materialised: inlined, the lookup would run once per row instead of per bucket
                SELECT b.site, b.series, b.hour, p.counter AS prev_counter
                FROM buckets b
                LEFT JOIN LATERAL (
                    SELECT r."energy_joules_total" AS counter FROM "public"."lutron_power" r
                    WHERE coalesce(r."site", '') = b."site" AND r."time" < b.hour AND r."energy_joules_total" IS NOT NULL
                    ORDER BY r."time" DESC, r."energy_joules_total" DESC LIMIT 1
                ) p ON true
            ),
            points AS (
                -- lateral, so that it stays one index range scan per bucket with nested loops off
                SELECT b.site, b.series, b.hour, b.day, p.*
                FROM buckets b
                CROSS JOIN LATERAL (
                    SELECT r."time", max(r."energy_joules_total") AS counter,
                                     max(r."watts") AS watts,
                                     max(coalesce(r."lights_on", r."zones_on")) AS on_value
                    FROM "public"."lutron_power" r
                    WHERE coalesce(r."site", '') = b."site" AND r."time" >= b.hour AND r."time" < b.hour + interval '1 hour'
                    GROUP BY r."time"
                ) p
            ),
            deltas AS (
                SELECT p.site, p.series, p.hour, p.day, p."time", p.counter, p.watts, p.on_value,
                       CASE WHEN p.counter IS NULL THEN NULL
                            ELSE coalesce(lag(p.counter) OVER w, previous.prev_counter) END AS prev_counter
                FROM points p
                JOIN previous ON previous.site = p.site AND previous.series = p.series AND previous.hour = p.hour
                WINDOW w AS (PARTITION BY p.site, p.series, p.hour, p.counter IS NULL ORDER BY p."time")
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
            ),
            upserted AS (
                INSERT INTO "lutron"."system_hourly" AS t ("site", "hour", "day", "samples", "energy_joules", "watts_sum", "watts_samples", "watts_max", "on_samples", "off_samples", "first_time", "last_time", "last_counter")
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
                ON CONFLICT ("site", "hour") DO UPDATE SET
                    "samples" = excluded."samples",
                    "energy_joules" = excluded."energy_joules",
                    "watts_sum" = excluded."watts_sum",
                    "watts_samples" = excluded."watts_samples",
                    "watts_max" = excluded."watts_max",
                    "on_samples" = excluded."on_samples",
                    "off_samples" = excluded."off_samples",
                    "first_time" = excluded."first_time",
                    "last_time" = excluded."last_time",
                    "last_counter" = excluded."last_counter"
                RETURNING t.site, ''::text AS series, t.day
            )
            SELECT array_agg(d.site), array_agg(d.series), array_agg(d.day)
            INTO v_day_site, v_day_series, v_day_day
            FROM (SELECT DISTINCT u.site, u.series, u.day FROM upserted u) d;
            PERFORM set_config('enable_nestloop', 'on', true);

            IF v_day_day IS NOT NULL THEN
                INSERT INTO "lutron"."system_daily" AS t ("site", "day", "samples", "energy_joules", "watts_sum", "watts_samples", "watts_max", "on_samples", "off_samples", "first_time", "last_time")
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
                    SELECT k.site, k.series, k.day,
                           sum(h.samples)::integer AS "samples",
                           sum(h.energy_joules) AS "energy_joules",
                           sum(h.watts_sum) AS "watts_sum",
                           sum(h.watts_samples)::integer AS "watts_samples",
                           max(h.watts_max) AS "watts_max",
                           sum(h.on_samples)::integer AS "on_samples",
                           sum(h.off_samples)::integer AS "off_samples",
                           min(h.first_time) AS "first_time",
                           max(h.last_time) AS "last_time"
                    FROM unnest(v_day_site, v_day_series, v_day_day) AS k(site, series, day)
                    JOIN "lutron"."system_hourly" h ON h."site" = k."site" AND h.day = k.day
                        AND h.hour >= (k.day::timestamp AT TIME ZONE v_tz) - interval '1 day'
                        AND h.hour < (k.day::timestamp AT TIME ZONE v_tz) + interval '2 days'
                    WHERE (k.day::timestamp AT TIME ZONE v_tz) >= v_day_frozen
                    GROUP BY k.site, k.series, k.day
                ) day_rows
                ON CONFLICT ("site", "day") DO UPDATE SET
                    "samples" = excluded."samples",
                    "energy_joules" = excluded."energy_joules",
                    "watts_sum" = excluded."watts_sum",
                    "watts_samples" = excluded."watts_samples",
                    "watts_max" = excluded."watts_max",
                    "on_samples" = excluded."on_samples",
                    "off_samples" = excluded."off_samples",
                    "first_time" = excluded."first_time",
                    "last_time" = excluded."last_time";
            END IF;
        END IF;

        IF v_fast_site IS NOT NULL THEN
            INSERT INTO "lutron"."series" (level, site, series)
            SELECT 'system', k.site, k.series FROM unnest(v_fast_site, v_fast_series) AS k(site, series)
            ON CONFLICT DO NOTHING;
            -- Fast path: deltas from the staged rows and the stored last counter; buckets grow.
            -- Its cached (generic) plan cannot see how many series the arrays hold and would pick
            -- nested loops over hundreds of rows; it needs no index lookups, so hash joins only.
            -- (The function's SET clause restores the caller's value on return.)
            PERFORM set_config('enable_nestloop', 'off', true);
            -- Only the window needs its rows sorted; every grouping hashes (the planner, which
            -- cannot know the stage's size, would sort 20,000 rows again for the hourly groups).
            PERFORM set_config('enable_sort', 'off', true);
            PERFORM set_config('enable_incremental_sort', 'off', true);
            WITH fast AS (
                -- sid: a small integer per series, so that sorting and grouping compare integers,
                -- not text (text comparisons were the biggest single cost of this statement)
                SELECT f.site, f.series, f.last_counter, f.sid
                FROM unnest(v_fast_site, v_fast_series, v_fast_counter) WITH ORDINALITY
                     AS f(site, series, last_counter, sid)
            ),
            deltas AS (
                -- One sample per series and time (numbers only: labels are fetched for the few
                -- buckets at the end), with its hour, and deltas in (sid, time) order.
                SELECT p.*, coalesce(lag(p.counter) OVER (PARTITION BY p.sid ORDER BY p."time"), p.stored_counter)
                       AS prev_counter
                FROM (
                    SELECT fast.sid, max(fast.last_counter) AS stored_counter, n."time",
                           max(n.hour) AS hour, max(n.day) AS day,
                           max(n."energy_joules_total") AS counter,
                           max(n."watts") AS watts,
                           max(n."on_value") AS on_value
                    FROM "lutron"."stage_system" n
                    JOIN fast ON fast.site = coalesce(n."site", '') AND fast.series = ''::text
                    WHERE n."time" IS NOT NULL
                    GROUP BY fast.sid, n."time"
                ) p
            ),
            hour_stats AS (
                SELECT d.sid, d.hour, d.day,
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
                GROUP BY d.sid, d.hour, d.day
            ),
            fast_stats AS MATERIALIZED (
                SELECT fast.site, fast.series, hour_stats.* FROM hour_stats JOIN fast ON fast.sid = hour_stats.sid
            ),
            hour_rows AS (
                -- the labels and counter of each bucket's newest row: one index probe per bucket
                SELECT fast_stats."site",
                       fast_stats."series",
                       fast_stats."sid",
                       fast_stats."hour",
                       fast_stats."day",
                       fast_stats."samples",
                       fast_stats."energy_joules",
                       fast_stats."watts_sum",
                       fast_stats."watts_samples",
                       fast_stats."watts_max",
                       fast_stats."on_samples",
                       fast_stats."off_samples",
                       fast_stats."first_time",
                       fast_stats."last_time", newest_row.*
                FROM fast_stats
                CROSS JOIN LATERAL (
                    SELECT max(r."energy_joules_total") AS last_counter
                    FROM "public"."lutron_power" r
                    WHERE coalesce(r."site", '') = fast_stats."site" AND r."time" = fast_stats.last_time
                ) newest_row
            ),
            upserted_hours AS (
                INSERT INTO "lutron"."system_hourly" AS t ("site", "hour", "day", "samples", "energy_joules", "watts_sum", "watts_samples", "watts_max", "on_samples", "off_samples", "first_time", "last_time", "last_counter")
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
                ON CONFLICT ("site", "hour") DO UPDATE SET
                    "samples" = t.samples + excluded.samples,
                    "energy_joules" = t.energy_joules + excluded.energy_joules,
                    "watts_sum" = t.watts_sum + excluded.watts_sum,
                    "watts_samples" = t.watts_samples + excluded.watts_samples,
                    "watts_max" = greatest(t.watts_max, excluded.watts_max),
                    "on_samples" = t.on_samples + excluded.on_samples,
                    "off_samples" = t.off_samples + excluded.off_samples,
                    "first_time" = least(t.first_time, excluded.first_time),
                    "last_time" = greatest(t.last_time, excluded.last_time),
                    "last_counter" = coalesce(excluded.last_counter, t.last_counter)
            ),
            hours_of_day AS (
                SELECT hour_rows.*,
                       max(hour_rows.hour) OVER (PARTITION BY hour_rows.site, hour_rows.series, hour_rows.day)
                       AS newest_hour
                FROM hour_rows
            ),
            day_rows AS (
                SELECT h.site, h.series, h.day,
                       sum(h.samples)::integer AS "samples",
                       sum(h.energy_joules) AS "energy_joules",
                       sum(h.watts_sum) AS "watts_sum",
                       sum(h.watts_samples)::integer AS "watts_samples",
                       max(h.watts_max) AS "watts_max",
                       sum(h.on_samples)::integer AS "on_samples",
                       sum(h.off_samples)::integer AS "off_samples",
                       min(h.first_time) AS "first_time",
                       max(h.last_time) AS "last_time"
                FROM hours_of_day h
                GROUP BY h.site, h.series, h.day
            )
            INSERT INTO "lutron"."system_daily" AS t ("site", "day", "samples", "energy_joules", "watts_sum", "watts_samples", "watts_max", "on_samples", "off_samples", "first_time", "last_time")
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
            FROM day_rows
            ON CONFLICT ("site", "day") DO UPDATE SET
                "samples" = t.samples + excluded.samples,
                "energy_joules" = t.energy_joules + excluded.energy_joules,
                "watts_sum" = t.watts_sum + excluded.watts_sum,
                "watts_samples" = t.watts_samples + excluded.watts_samples,
                "watts_max" = greatest(t.watts_max, excluded.watts_max),
                "on_samples" = t.on_samples + excluded.on_samples,
                "off_samples" = t.off_samples + excluded.off_samples,
                "first_time" = least(t.first_time, excluded.first_time),
                "last_time" = greatest(t.last_time, excluded.last_time);
            PERFORM set_config('enable_nestloop', 'on', true);
            PERFORM set_config('enable_sort', 'on', true);
            PERFORM set_config('enable_incremental_sort', 'on', true);
        END IF;
    EXCEPTION WHEN OTHERS THEN
        -- Failing here would fail Telegraf's COPY, and Telegraf drops rows on such errors: keep
        -- the rows, queue their buckets, and let the next drain recompute them.
        RAISE WARNING 'telegraf-lutron: % rollup deferred: % (SQLSTATE %)', 'system', SQLERRM, SQLSTATE;
        BEGIN
            INSERT INTO "lutron"."pending_buckets" (level, site, series, hour)
            SELECT DISTINCT 'system', coalesce(n."site", ''), ''::text, n.hour
            FROM "lutron"."stage_system" n WHERE n."time" IS NOT NULL
            ON CONFLICT DO NOTHING;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'telegraf-lutron: cannot queue % rollup: %', 'system', SQLERRM;
        END;
    END;
    TRUNCATE "lutron"."stage_system"; UPDATE "lutron"."rollup_state" SET staged_rows = 0, oldest = NULL, since = NULL WHERE level = 'system';
END;
$function$;
