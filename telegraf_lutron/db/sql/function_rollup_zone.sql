-- lutron.rollup_zone, as db init installs it.
-- Generated from telegraf_lutron/db/rollups.py by `python -m telegraf_lutron.db.golden --write`: do not edit.

CREATE OR REPLACE FUNCTION "lutron"."rollup_zone"() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $function$
DECLARE
    v_new_rows bigint;
    v_staged bigint;
    v_oldest timestamptz;
    v_batch_rows bigint;
    v_delay_seconds double precision;
    v_tz text;
BEGIN
    BEGIN
        SELECT coalesce(max(s.value) FILTER (WHERE s.name = 'rollup_batch_rows'), '0')::bigint,
               coalesce(max(s.value) FILTER (WHERE s.name = 'rollup_delay_seconds'), '0')::double precision,
               coalesce(max(s.value) FILTER (WHERE s.name = 'timezone'), 'UTC')
        INTO v_batch_rows, v_delay_seconds, v_tz
        FROM "lutron"."settings" s;
        -- Same lock as the drain: staged rows only change while it is held (see the drain).
        PERFORM pg_advisory_xact_lock(19540, hashtext('zone'));
        WITH times AS MATERIALIZED (
            -- one time zone conversion per distinct time (a COPY has a handful), not per row
            SELECT x."time", x.hour, (x.hour AT TIME ZONE v_tz)::date AS day
            FROM (
                SELECT t."time", "lutron"."hour_start"(t."time", v_tz) AS hour
                FROM (SELECT DISTINCT n."time" FROM new_rows n WHERE n."time" IS NOT NULL) t
            ) x
        )
        INSERT INTO "lutron"."stage_zone" ("site", "zone_id", "time", "energy_joules_total", "watts", "on_value", hour, day)
        SELECT n."site", n."zone_id", n."time", n."energy_joules_total", n."watts", n."level", times.hour, times.day
        FROM new_rows n JOIN times ON times."time" = n."time";
        GET DIAGNOSTICS v_new_rows = ROW_COUNT;
        UPDATE "lutron"."rollup_state" st
        SET staged_rows = st.staged_rows + v_new_rows,
            oldest = coalesce(st.oldest, clock_timestamp()),
            since = least(st.since, (SELECT min(n."time") FROM new_rows n))
        WHERE st.level = 'zone'
        RETURNING st.staged_rows, st.oldest INTO v_staged, v_oldest;
    EXCEPTION WHEN OTHERS THEN
        -- Never fail Telegraf's COPY (it would drop the rows): queue the buckets instead.
        RAISE WARNING 'telegraf-lutron: % rollup deferred: % (SQLSTATE %)', 'zone', SQLERRM, SQLSTATE;
        BEGIN
            SELECT coalesce(max(s.value) FILTER (WHERE s.name = 'timezone'), 'UTC') INTO v_tz FROM "lutron"."settings" s;
            INSERT INTO "lutron"."pending_buckets" (level, site, series, hour)
            SELECT DISTINCT 'zone', coalesce(n."site", ''), coalesce(n."zone_id", ''), "lutron"."hour_start"(n."time", v_tz)
            FROM new_rows n WHERE n."time" IS NOT NULL
            ON CONFLICT DO NOTHING;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'telegraf-lutron: cannot queue % rollup: %', 'zone', SQLERRM;
        END;
        RETURN NULL;
    END;
    IF v_staged >= v_batch_rows OR v_oldest <= clock_timestamp() - make_interval(secs => v_delay_seconds) THEN
        PERFORM "lutron"."drain_zone"();
    END IF;
    RETURN NULL;
END;
$function$;
