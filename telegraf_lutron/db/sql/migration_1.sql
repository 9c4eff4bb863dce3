-- Migration 1 of the lutron schema: settings, series state, hourly and daily rollups.
-- Generated from telegraf_lutron/db/schema.py by `python -m telegraf_lutron.db.golden --write`: do not edit.

CREATE TABLE "lutron"."settings" (name text PRIMARY KEY, value text NOT NULL);

CREATE TABLE "lutron"."series" (level text NOT NULL, site text NOT NULL, series text NOT NULL, PRIMARY KEY (level, site, series));

COMMENT ON TABLE "lutron"."series" IS 'every series ever seen: level (zone, area, system), site and zone/area id';

CREATE TABLE "lutron"."pending_buckets" (level text NOT NULL, site text NOT NULL, series text NOT NULL, hour timestamptz NOT NULL, PRIMARY KEY (level, site, series, hour));

COMMENT ON TABLE "lutron"."pending_buckets" IS 'hourly buckets whose rollup failed; recomputed by the next insert';

CREATE FUNCTION "lutron"."hour_start"(t timestamptz, tz text) RETURNS timestamptz LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN t - ((t AT TIME ZONE tz) - date_trunc('hour', t AT TIME ZONE tz));

CREATE TABLE "lutron"."zone_hourly" ("site" text NOT NULL, "zone_id" text NOT NULL, hour timestamptz NOT NULL, day date NOT NULL, "area" text, "floor" text, "kind" text, "output_type" text, "zone" text, "samples" integer NOT NULL, "energy_joules" double precision NOT NULL, "watts_sum" double precision NOT NULL, "watts_samples" integer NOT NULL, "watts_max" double precision, "on_samples" integer NOT NULL, "off_samples" integer NOT NULL, "first_time" timestamptz NOT NULL, "last_time" timestamptz NOT NULL, watts_avg double precision GENERATED ALWAYS AS (watts_sum / nullif(watts_samples, 0)) STORED, "last_counter" double precision, PRIMARY KEY ("site", "zone_id", "hour")) WITH (fillfactor = 70);

CREATE INDEX "zone_hourly_hour_idx" ON "lutron"."zone_hourly" ("hour");

COMMENT ON TABLE "lutron"."zone_hourly" IS 'hourly energy and power per zone from lutron_zone (maintained by trigger lutron_rollup)';

CREATE TABLE "lutron"."zone_daily" ("site" text NOT NULL, "zone_id" text NOT NULL, day date NOT NULL, "area" text, "floor" text, "kind" text, "output_type" text, "zone" text, "samples" integer NOT NULL, "energy_joules" double precision NOT NULL, "watts_sum" double precision NOT NULL, "watts_samples" integer NOT NULL, "watts_max" double precision, "on_samples" integer NOT NULL, "off_samples" integer NOT NULL, "first_time" timestamptz NOT NULL, "last_time" timestamptz NOT NULL, watts_avg double precision GENERATED ALWAYS AS (watts_sum / nullif(watts_samples, 0)) STORED, PRIMARY KEY ("site", "zone_id", "day")) WITH (fillfactor = 50);

CREATE INDEX "zone_daily_day_idx" ON "lutron"."zone_daily" ("day");

COMMENT ON TABLE "lutron"."zone_daily" IS 'daily energy and power per zone from lutron_zone (maintained by trigger lutron_rollup)';

CREATE TABLE "lutron"."area_hourly" ("site" text NOT NULL, "area_id" text NOT NULL, hour timestamptz NOT NULL, day date NOT NULL, "area" text, "floor" text, "samples" integer NOT NULL, "energy_joules" double precision NOT NULL, "watts_sum" double precision NOT NULL, "watts_samples" integer NOT NULL, "watts_max" double precision, "on_samples" integer NOT NULL, "off_samples" integer NOT NULL, "first_time" timestamptz NOT NULL, "last_time" timestamptz NOT NULL, watts_avg double precision GENERATED ALWAYS AS (watts_sum / nullif(watts_samples, 0)) STORED, "last_counter" double precision, PRIMARY KEY ("site", "area_id", "hour")) WITH (fillfactor = 70);

CREATE INDEX "area_hourly_hour_idx" ON "lutron"."area_hourly" ("hour");

COMMENT ON TABLE "lutron"."area_hourly" IS 'hourly energy and power per area from lutron_area (maintained by trigger lutron_rollup)';

CREATE TABLE "lutron"."area_daily" ("site" text NOT NULL, "area_id" text NOT NULL, day date NOT NULL, "area" text, "floor" text, "samples" integer NOT NULL, "energy_joules" double precision NOT NULL, "watts_sum" double precision NOT NULL, "watts_samples" integer NOT NULL, "watts_max" double precision, "on_samples" integer NOT NULL, "off_samples" integer NOT NULL, "first_time" timestamptz NOT NULL, "last_time" timestamptz NOT NULL, watts_avg double precision GENERATED ALWAYS AS (watts_sum / nullif(watts_samples, 0)) STORED, PRIMARY KEY ("site", "area_id", "day")) WITH (fillfactor = 50);

CREATE INDEX "area_daily_day_idx" ON "lutron"."area_daily" ("day");

COMMENT ON TABLE "lutron"."area_daily" IS 'daily energy and power per area from lutron_area (maintained by trigger lutron_rollup)';

CREATE TABLE "lutron"."system_hourly" ("site" text NOT NULL, hour timestamptz NOT NULL, day date NOT NULL, "samples" integer NOT NULL, "energy_joules" double precision NOT NULL, "watts_sum" double precision NOT NULL, "watts_samples" integer NOT NULL, "watts_max" double precision, "on_samples" integer NOT NULL, "off_samples" integer NOT NULL, "first_time" timestamptz NOT NULL, "last_time" timestamptz NOT NULL, watts_avg double precision GENERATED ALWAYS AS (watts_sum / nullif(watts_samples, 0)) STORED, "last_counter" double precision, PRIMARY KEY ("site", "hour")) WITH (fillfactor = 70);

CREATE INDEX "system_hourly_hour_idx" ON "lutron"."system_hourly" ("hour");

COMMENT ON TABLE "lutron"."system_hourly" IS 'hourly energy and power per system from lutron_power (maintained by trigger lutron_rollup)';

CREATE TABLE "lutron"."system_daily" ("site" text NOT NULL, day date NOT NULL, "samples" integer NOT NULL, "energy_joules" double precision NOT NULL, "watts_sum" double precision NOT NULL, "watts_samples" integer NOT NULL, "watts_max" double precision, "on_samples" integer NOT NULL, "off_samples" integer NOT NULL, "first_time" timestamptz NOT NULL, "last_time" timestamptz NOT NULL, watts_avg double precision GENERATED ALWAYS AS (watts_sum / nullif(watts_samples, 0)) STORED, PRIMARY KEY ("site", "day")) WITH (fillfactor = 50);

CREATE INDEX "system_daily_day_idx" ON "lutron"."system_daily" ("day");

COMMENT ON TABLE "lutron"."system_daily" IS 'daily energy and power per system from lutron_power (maintained by trigger lutron_rollup)';
