-- lutron.change_mark, as db init installs it.
-- Generated from telegraf_lutron/db/changes.py by `python -m telegraf_lutron.db.golden --write`: do not edit.

CREATE OR REPLACE FUNCTION "lutron"."change_mark"() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $function$
BEGIN
    BEGIN
        INSERT INTO "lutron"."change_dirty" AS d (series, site, id, since)
        SELECT TG_ARGV[0], coalesce(n.site, ''), CASE TG_ARGV[0] WHEN 'zone' THEN coalesce((to_jsonb(n) ->> 'zone_id'), '') WHEN 'area' THEN coalesce((to_jsonb(n) ->> 'area_id'), '') ELSE '' END, min(n."time")
        FROM new_rows n WHERE n."time" IS NOT NULL
        GROUP BY 2, 3
        ON CONFLICT (series, site, id) DO UPDATE SET since = least(d.since, excluded.since);
    EXCEPTION WHEN OTHERS THEN
        -- Failing here would fail Telegraf's COPY, and Telegraf drops rows on such errors.
        RAISE WARNING 'telegraf-lutron: cannot queue the change rollup: % (SQLSTATE %)', SQLERRM, SQLSTATE;
        RETURN NULL;
    END;
    BEGIN
        PERFORM "lutron"."change_rollup"();
    EXCEPTION WHEN OTHERS THEN
        -- The queue stays as it was (this block is rolled back): the next COPY or
        -- db prune tries again.
        RAISE WARNING 'telegraf-lutron: change rollup deferred: % (SQLSTATE %)', SQLERRM, SQLSTATE;
    END;
    RETURN NULL;
END;
$function$;
