-- lutron.rollup_flush, as db init installs it.
-- Generated from telegraf_lutron/db/rollups.py by `python -m telegraf_lutron.db.golden --write`: do not edit.

CREATE OR REPLACE FUNCTION "lutron"."rollup_flush"(level text) RETURNS void LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    CASE level
        WHEN 'zone' THEN PERFORM "lutron"."drain_zone"();
        WHEN 'area' THEN PERFORM "lutron"."drain_area"();
        WHEN 'system' THEN PERFORM "lutron"."drain_system"();
        ELSE RAISE EXCEPTION 'unknown level %', level;
    END CASE;
END;
$function$;
