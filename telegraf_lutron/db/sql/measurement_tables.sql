-- The measurement tables in schema public, as db init creates them, with indexes and triggers.
-- Generated from telegraf_lutron/db/schema.py by `python -m telegraf_lutron.db.golden --write`: do not edit.

CREATE TABLE "public"."lutron_zone" ("time" timestamptz NOT NULL, "area" text, "floor" text, "kind" text, "output_type" text, "site" text, "zone" text, "zone_id" text, "energy_joules_total" double precision, "level" double precision, "pulses_total" double precision, "rated_watts" double precision, "tilt" double precision, "watts" double precision);

COMMENT ON COLUMN "public"."lutron_zone"."area" IS 'tag';

COMMENT ON COLUMN "public"."lutron_zone"."floor" IS 'tag';

COMMENT ON COLUMN "public"."lutron_zone"."kind" IS 'tag';

COMMENT ON COLUMN "public"."lutron_zone"."output_type" IS 'tag';

COMMENT ON COLUMN "public"."lutron_zone"."site" IS 'tag';

COMMENT ON COLUMN "public"."lutron_zone"."zone" IS 'tag';

COMMENT ON COLUMN "public"."lutron_zone"."zone_id" IS 'tag';

CREATE INDEX "lutron_zone_series_time_idx" ON "public"."lutron_zone" (coalesce("site", ''), coalesce("zone_id", ''), "time");

CREATE INDEX "lutron_zone_time_brin" ON "public"."lutron_zone" USING brin ("time");

CREATE TRIGGER "lutron_rollup" AFTER INSERT ON "public"."lutron_zone" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "lutron"."rollup_zone"();

CREATE TABLE "public"."lutron_area" ("time" timestamptz NOT NULL, "area" text, "area_id" text, "floor" text, "site" text, "energy_joules_total" double precision, "fans_on" double precision, "lights_on" double precision, "shades_open" double precision, "watts" double precision, "zones_on" double precision);

COMMENT ON COLUMN "public"."lutron_area"."area" IS 'tag';

COMMENT ON COLUMN "public"."lutron_area"."area_id" IS 'tag';

COMMENT ON COLUMN "public"."lutron_area"."floor" IS 'tag';

COMMENT ON COLUMN "public"."lutron_area"."site" IS 'tag';

CREATE INDEX "lutron_area_series_time_idx" ON "public"."lutron_area" (coalesce("site", ''), coalesce("area_id", ''), "time");

CREATE INDEX "lutron_area_time_brin" ON "public"."lutron_area" USING brin ("time");

CREATE TRIGGER "lutron_rollup" AFTER INSERT ON "public"."lutron_area" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "lutron"."rollup_area"();

CREATE TABLE "public"."lutron_power" ("time" timestamptz NOT NULL, "site" text, "energy_joules_total" double precision, "fans_on" double precision, "lights_on" double precision, "lights_total" double precision, "shades_open" double precision, "watts" double precision, "zones_on" double precision, "zones_total" double precision);

COMMENT ON COLUMN "public"."lutron_power"."site" IS 'tag';

CREATE INDEX "lutron_power_series_time_idx" ON "public"."lutron_power" (coalesce("site", ''), "time");

CREATE INDEX "lutron_power_time_brin" ON "public"."lutron_power" USING brin ("time");

CREATE TRIGGER "lutron_rollup" AFTER INSERT ON "public"."lutron_power" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "lutron"."rollup_system"();
