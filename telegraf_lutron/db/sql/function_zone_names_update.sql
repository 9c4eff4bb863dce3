-- lutron.zone_names_update, as db init installs it.
-- Generated from telegraf_lutron/db/changes.py by `python -m telegraf_lutron.db.golden --write`: do not edit.

CREATE OR REPLACE FUNCTION "lutron"."zone_names_update"() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $function$
BEGIN
    BEGIN
        INSERT INTO "lutron"."zone_names" AS z (site, zone_id, "time", zone, area_id, area, floor, output_type, kind, rated_watts)
        SELECT DISTINCT ON (1, 2) coalesce(n.site, ''), coalesce(n.zone_id, ''), n."time", (to_jsonb(n) ->> 'zone'),
               coalesce((to_jsonb(n) ->> 'area_id'), ''), (to_jsonb(n) ->> 'area'), (to_jsonb(n) ->> 'floor'), (to_jsonb(n) ->> 'output_type'), (to_jsonb(n) ->> 'kind'), ((to_jsonb(n) ->> 'rated_watts'))::float8
        FROM new_rows n WHERE n."time" IS NOT NULL
        ORDER BY 1, 2, n."time" DESC
        ON CONFLICT (site, zone_id) DO UPDATE SET "time" = excluded."time", zone = excluded.zone,
            area_id = excluded.area_id, area = excluded.area, floor = excluded.floor,
            output_type = excluded.output_type, kind = excluded.kind, rated_watts = excluded.rated_watts
        WHERE z."time" <= excluded."time"
        ;
    EXCEPTION WHEN OTHERS THEN
        -- Failing here would fail Telegraf's COPY; db rebuild fills the table again.
        RAISE WARNING 'telegraf-lutron: cannot update the zone names: % (SQLSTATE %)', SQLERRM, SQLSTATE;
    END;
    RETURN NULL;
END;
$function$;
