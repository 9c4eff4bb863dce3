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

CREATE TABLE "public"."lutron_area" ("time" timestamptz NOT NULL, "area" text, "area_id" text, "floor" text, "site" text, "energy_joules_total" double precision, "fans_on" double precision, "lights_on" double precision, "shades_open" double precision, "unoccupied_energy_joules_total" double precision, "watts" double precision, "zones_on" double precision);

COMMENT ON COLUMN "public"."lutron_area"."area" IS 'tag';

COMMENT ON COLUMN "public"."lutron_area"."area_id" IS 'tag';

COMMENT ON COLUMN "public"."lutron_area"."floor" IS 'tag';

COMMENT ON COLUMN "public"."lutron_area"."site" IS 'tag';

CREATE INDEX "lutron_area_series_time_idx" ON "public"."lutron_area" (coalesce("site", ''), coalesce("area_id", ''), "time");

CREATE INDEX "lutron_area_time_brin" ON "public"."lutron_area" USING brin ("time");

CREATE TRIGGER "lutron_rollup" AFTER INSERT ON "public"."lutron_area" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "lutron"."rollup_area"();

CREATE TABLE "public"."lutron_power" ("time" timestamptz NOT NULL, "site" text, "energy_joules_total" double precision, "fans_on" double precision, "lights_on" double precision, "lights_total" double precision, "shades_open" double precision, "unoccupied_energy_joules_total" double precision, "watts" double precision, "zones_on" double precision, "zones_total" double precision);

COMMENT ON COLUMN "public"."lutron_power"."site" IS 'tag';

CREATE INDEX "lutron_power_series_time_idx" ON "public"."lutron_power" (coalesce("site", ''), "time");

CREATE INDEX "lutron_power_time_brin" ON "public"."lutron_power" USING brin ("time");

CREATE TRIGGER "lutron_rollup" AFTER INSERT ON "public"."lutron_power" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "lutron"."rollup_system"();

CREATE TABLE "public"."lutron_zone_change" ("time" timestamptz NOT NULL, "cause" text, "component" text, "keypad_id" text, "kind" text, "site" text, "timeclock_event" text, "timeclock_id" text, "zone_id" text, "energy_joules_total" double precision, "level" double precision, "watts" double precision);

COMMENT ON COLUMN "public"."lutron_zone_change"."cause" IS 'tag';

COMMENT ON COLUMN "public"."lutron_zone_change"."component" IS 'tag';

COMMENT ON COLUMN "public"."lutron_zone_change"."keypad_id" IS 'tag';

COMMENT ON COLUMN "public"."lutron_zone_change"."kind" IS 'tag';

COMMENT ON COLUMN "public"."lutron_zone_change"."site" IS 'tag';

COMMENT ON COLUMN "public"."lutron_zone_change"."timeclock_event" IS 'tag';

COMMENT ON COLUMN "public"."lutron_zone_change"."timeclock_id" IS 'tag';

COMMENT ON COLUMN "public"."lutron_zone_change"."zone_id" IS 'tag';

CREATE INDEX "lutron_zone_change_series_time_idx" ON "public"."lutron_zone_change" (coalesce("site", ''), coalesce("zone_id", ''), "time");

CREATE INDEX "lutron_zone_change_time_brin" ON "public"."lutron_zone_change" USING brin ("time");

CREATE TRIGGER "lutron_changes" AFTER INSERT ON "public"."lutron_zone_change" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "lutron"."change_mark"('zone');

CREATE TABLE "public"."lutron_house" ("time" timestamptz NOT NULL, "site" text, "energy_joules_total" double precision, "watts" double precision);

COMMENT ON COLUMN "public"."lutron_house"."site" IS 'tag';

CREATE INDEX "lutron_house_series_time_idx" ON "public"."lutron_house" (coalesce("site", ''), "time");

CREATE INDEX "lutron_house_time_brin" ON "public"."lutron_house" USING brin ("time");

CREATE TRIGGER "lutron_changes" AFTER INSERT ON "public"."lutron_house" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "lutron"."change_mark"('house');

CREATE TABLE "public"."lutron_event" ("time" timestamptz NOT NULL, "area_id" text, "component" text, "device_id" text, "event" text, "site" text, "value" double precision);

COMMENT ON COLUMN "public"."lutron_event"."area_id" IS 'tag';

COMMENT ON COLUMN "public"."lutron_event"."component" IS 'tag';

COMMENT ON COLUMN "public"."lutron_event"."device_id" IS 'tag';

COMMENT ON COLUMN "public"."lutron_event"."event" IS 'tag';

COMMENT ON COLUMN "public"."lutron_event"."site" IS 'tag';

CREATE INDEX "lutron_event_time_brin" ON "public"."lutron_event" USING brin ("time");

CREATE TABLE "public"."lutron_zone_info" ("time" timestamptz NOT NULL, "area" text, "area_id" text, "floor" text, "kind" text, "output_type" text, "site" text, "zone" text, "zone_id" text, "rated_watts" double precision);

COMMENT ON COLUMN "public"."lutron_zone_info"."area" IS 'tag';

COMMENT ON COLUMN "public"."lutron_zone_info"."area_id" IS 'tag';

COMMENT ON COLUMN "public"."lutron_zone_info"."floor" IS 'tag';

COMMENT ON COLUMN "public"."lutron_zone_info"."kind" IS 'tag';

COMMENT ON COLUMN "public"."lutron_zone_info"."output_type" IS 'tag';

COMMENT ON COLUMN "public"."lutron_zone_info"."site" IS 'tag';

COMMENT ON COLUMN "public"."lutron_zone_info"."zone" IS 'tag';

COMMENT ON COLUMN "public"."lutron_zone_info"."zone_id" IS 'tag';

CREATE INDEX "lutron_zone_info_series_time_idx" ON "public"."lutron_zone_info" (coalesce("site", ''), coalesce("zone_id", ''), "time");

CREATE INDEX "lutron_zone_info_time_brin" ON "public"."lutron_zone_info" USING brin ("time");

CREATE TRIGGER "lutron_zone_names" AFTER INSERT ON "public"."lutron_zone_info" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "lutron"."zone_names_update"();

CREATE TABLE "public"."lutron_area_change" ("time" timestamptz NOT NULL, "area_id" text, "site" text, "unoccupied_energy_joules_total" double precision, "unoccupied_watts" double precision);

COMMENT ON COLUMN "public"."lutron_area_change"."area_id" IS 'tag';

COMMENT ON COLUMN "public"."lutron_area_change"."site" IS 'tag';

CREATE INDEX "lutron_area_change_series_time_idx" ON "public"."lutron_area_change" (coalesce("site", ''), coalesce("area_id", ''), "time");

CREATE INDEX "lutron_area_change_time_brin" ON "public"."lutron_area_change" USING brin ("time");

CREATE TRIGGER "lutron_changes" AFTER INSERT ON "public"."lutron_area_change" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "lutron"."change_mark"('area');
